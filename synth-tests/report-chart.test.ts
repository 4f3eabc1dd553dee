import { describe, expect, it } from 'vitest';
import { DEFAULT_GATHER_IMAGE } from '../constructs/operator-config.js';
import { runtimeObjects } from '../constructs/report-chart.js';
import { renderReport, type Manifest } from '../constructs/render.js';
import { reportObjectNames } from '../constructs/report-identity.js';
import { parseSummaryInput, SUMMARY_ENV } from '../constructs/pod-contract.js';
import { COOKIE_SECRET, PROFILES, report, REPORTS } from './fixtures.js';

const IMAGES = { operator: 'registry.example.com/mustgather/operator:v1', oauthProxy: 'registry.example.com/openshift/oauth-proxy:v4' };
const ACCESS = { verb: 'get', group: 'mustgather.openshift.io', resource: 'mustgatherreports', subresource: 'download', namespace: 'support' };

describe.each(Object.entries(PROFILES))('ReportChart snapshots (%s)', (platform, profile) => {
  it('defaults', () => {
    expect(renderReport(REPORTS.minimal!, profile)).toMatchSnapshot();
  });

  it('custom', () => {
    const ingress = platform === 'kubernetes' ? { ingress: { hostSuffix: 'reports.example.com', className: 'nginx' } } : {};
    expect(renderReport(REPORTS.everyOption!, { ...profile, images: IMAGES, downloadAccess: ACCESS, ...ingress })).toMatchSnapshot();
  });
});

describe('ReportChart contents', () => {
  const manifests = renderReport(REPORTS.twoImages!, PROFILES.openshift);
  const kinds = (m: Manifest[]) => m.map((x) => x.kind).sort();

  it('renders every object a report needs, per platform', () => {
    const common = [
      'ClusterRoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'Pod',
      'RoleBinding', 'Secret', 'Service', 'ServiceAccount', 'ServiceAccount',
    ];
    expect(kinds(manifests)).toEqual([...common, 'Route', 'Secret'].sort());
    expect(kinds(renderReport(REPORTS.twoImages!, PROFILES.kubernetes))).toEqual([...common, 'Secret'].sort());
    expect(kinds(renderReport(REPORTS.twoImages!, { ...PROFILES.kubernetes, ingress: { hostSuffix: 'r.example.com' } }))).toEqual([...common, 'Ingress', 'Secret'].sort());
  });

  it('holds the gather service account, its binding and its token only while gathering', () => {
    const names = (m: Manifest[]) => m.map((x) => `${x.kind}/${x.metadata.name}`);
    const gathering = names(manifests);
    const over = names(renderReport(REPORTS.twoImages!, { ...PROFILES.openshift, gathering: false }));
    const gone = gathering.filter((n) => !over.includes(n));
    const { gatherBinding, gatherTokenSecret, gatherServiceAccount } = reportObjectNames(REPORTS.twoImages!.metadata);
    expect(gone.sort()).toEqual([`ClusterRoleBinding/${gatherBinding}`, `Secret/${gatherTokenSecret}`, `ServiceAccount/${gatherServiceAccount}`]);
    expect(over.every((n) => gathering.includes(n))).toBe(true);
  });

  it('is pure: the same report renders the same manifests', () => {
    expect(renderReport(REPORTS.twoImages!, PROFILES.openshift)).toEqual(manifests);
    expect(renderReport(REPORTS.twoImages!, PROFILES.kubernetes)).toEqual(renderReport(REPORTS.twoImages!, PROFILES.kubernetes));
  });

  it('refuses a profile without its random input', () => {
    expect(() => renderReport(REPORTS.minimal!, { platform: 'kubernetes' })).toThrow(/MustGatherReport\/support\/example: the kubernetes profile needs a serving certificate/);
  });

  it('renders the spec into the gather environment', () => {
    const pod = renderReport(REPORTS.everyOption!, { cookieSecret: COOKIE_SECRET }).find((m) => m.kind === 'Pod') as Manifest & { spec: any };
    const env = Object.fromEntries(pod.spec.initContainers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ MUST_GATHER_TIMEOUT_SECONDS: '5400', MUST_GATHER_SINCE: '30m', MUST_GATHER_VOLUME_PERCENTAGE: '85', MUST_GATHER_INDEX: '1' });
    const pvc = renderReport(REPORTS.everyOption!, { cookieSecret: COOKIE_SECRET }).find((m) => m.kind === 'PersistentVolumeClaim') as any;
    expect(pvc.spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } });
  });

  it('omits MUST_GATHER_SINCE and the storage class when unset', () => {
    const pod = manifests.find((m) => m.kind === 'Pod') as any;
    expect(pod.spec.initContainers[0].env.map((e: any) => e.name)).not.toContain('MUST_GATHER_SINCE');
    expect((manifests.find((m) => m.kind === 'PersistentVolumeClaim') as any).spec.storageClassName).toBeUndefined();
  });

  it('gives two reports that differ only by uid different namespaces', () => {
    const a = renderReport(report({ images: ['x'] }, { uid: 'a' }), { cookieSecret: COOKIE_SECRET })[0]!;
    const b = renderReport(report({ images: ['x'] }, { uid: 'b' }), { cookieSecret: COOKIE_SECRET })[0]!;
    expect(a.metadata.name).not.toEqual(b.metadata.name);
  });

  const podOf = (m: Manifest[]) => m.find((x) => x.kind === 'Pod') as Manifest & { spec: any };
  const gatherImagesOf = (m: Manifest[]) => podOf(m).spec.initContainers.filter((c: any) => c.name.startsWith('gather-')).map((c: any) => c.image);

  it('gathers with the default image when the report lists none, and with the images it is given', () => {
    expect(gatherImagesOf(renderReport(REPORTS.defaultImage!, PROFILES.openshift))).toEqual([DEFAULT_GATHER_IMAGE]);
    expect(DEFAULT_GATHER_IMAGE).toMatch(/:[0-9][\w.-]*$/);
    const resolved = ['quay.io/a/b:v1', 'quay.io/c/d@sha256:0123456789abcdef0123456789abcdef'];
    expect(gatherImagesOf(renderReport(REPORTS.twoImages!, { ...PROFILES.openshift, gatherImages: resolved }))).toEqual(resolved);
    expect(() => renderReport(REPORTS.minimal!, { ...PROFILES.openshift, gatherImages: [] })).toThrow('MustGatherReport/support/example: no must-gather image to run');
  });

  it('hands the report, its images and the cluster facts it is given to the archive step, and nothing else', () => {
    const archiveEnv = (m: Manifest[]) => podOf(m).spec.initContainers.find((c: any) => c.name === 'archive').env;
    const facts = { id: 'c0ffee', version: 'v1.36.3', platform: 'Kubernetes', kubernetesVersion: 'v1.36.3', observedAt: '2026-01-02T03:04:05Z', nodes: { total: 1, notReady: [] } };
    const resolved = ['quay.io/a/b:v1'];
    const env = archiveEnv(renderReport(REPORTS.twoImages!, { ...PROFILES.openshift, gatherImages: resolved, clusterFacts: facts }));
    expect(env).toEqual([{ name: SUMMARY_ENV, value: expect.any(String) }]);
    expect(parseSummaryInput(env[0].value)).toEqual({ report: 'support/example', images: resolved, cluster: facts });
    // Offline: no facts, the summary will say so; the same bytes every time.
    expect(parseSummaryInput(archiveEnv(renderReport(REPORTS.twoImages!, { runtimeObjects: 'omit' }))[0].value).cluster).toBeUndefined();
    // The same facts as status.cluster returns them (the API server sorts keys): the same pod, so a restarted operator
    // does not find every pod different from its render.
    const stored = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(facts).sort(([a], [b]) => a.localeCompare(b)))));
    expect(archiveEnv(renderReport(REPORTS.twoImages!, { ...PROFILES.openshift, gatherImages: resolved, clusterFacts: stored }))).toEqual(env);
  });

  it('renders the new gather options into the pod', () => {
    const pod = podOf(renderReport(REPORTS.everyOption!, PROFILES.openshift));
    const gather = pod.spec.initContainers[0];
    expect(gather.args).toEqual(['/usr/bin/gather_audit_logs', '--verbose']);
    expect(pod.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'node-role.kubernetes.io/master': '', 'topology.kubernetes.io/zone': 'eu-west-1a' });
    // Scheduled onto the node, never bound to it: a WaitForFirstConsumer volume binds only through the scheduler.
    expect(pod.spec.nodeName).toBeUndefined();
    expect(pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms)
      .toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['master-0.example.com'] }] }]);
    const since = podOf(renderReport(REPORTS.defaultImage!, PROFILES.openshift)).spec.initContainers[0].env;
    expect(since).toContainEqual({ name: 'MUST_GATHER_SINCE_TIME', value: '2025-01-31T08:00:00Z' });
    expect(since.map((e: any) => e.name)).not.toContain('MUST_GATHER_SINCE');
    expect(podOf(manifests).spec.initContainers[0].args).toEqual(['/usr/bin/gather']);
    expect(podOf(manifests).spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });

  it.each(['openshift', 'kubernetes'] as const)('leaves out exactly the runtime objects with runtimeObjects: omit (%s)', (platform) => {
    const key = (m: { kind: string; metadata?: { namespace?: string; name: string }; namespace?: string; name?: string }) =>
      'metadata' in m && m.metadata ? `${m.kind} ${m.metadata.namespace}/${m.metadata.name}` : `${m.kind} ${m.namespace}/${m.name}`;
    const full = renderReport(REPORTS.twoImages!, PROFILES[platform]).map(key);
    const offline = renderReport(REPORTS.twoImages!, { platform, runtimeObjects: 'omit' }).map(key);
    expect(full.filter((k) => !offline.includes(k))).toEqual(runtimeObjects(REPORTS.twoImages!, platform).map(key));
    expect(offline.every((k) => full.includes(k))).toBe(true);
    expect(renderReport(REPORTS.twoImages!, { platform, runtimeObjects: 'omit' }).map(key)).toEqual(offline);
  });

  it.each(['openshift', 'kubernetes'] as const)('renders exactly the runtime objects with runtimeObjects: only, the rest with omit (%s)', (platform) => {
    const byKey = (manifests: Manifest[]) => new Map(manifests.map((m) => [`${m.kind} ${m.metadata.namespace}/${m.metadata.name}`, m]));
    const full = byKey(renderReport(REPORTS.twoImages!, PROFILES[platform]));
    const only = renderReport(REPORTS.twoImages!, { ...PROFILES[platform], runtimeObjects: 'only' });
    const omitted = renderReport(REPORTS.twoImages!, { ...PROFILES[platform], runtimeObjects: 'omit' });
    expect([...byKey(only).keys()]).toEqual(runtimeObjects(REPORTS.twoImages!, platform).map((o) => `${o.kind} ${o.namespace}/${o.name}`));
    // Together they are the whole chart, object for object.
    expect(new Map([...byKey(omitted), ...byKey(only)])).toEqual(full);
    expect(omitted.length + only.length).toBe(full.size);
    // Once gathering is over there is no token to hold.
    expect(renderReport(REPORTS.twoImages!, { ...PROFILES[platform], runtimeObjects: 'only', gathering: false }).map((m) => m.metadata.name))
      .toEqual(runtimeObjects(REPORTS.twoImages!, platform).slice(1).map((o) => o.name));
  });
});
