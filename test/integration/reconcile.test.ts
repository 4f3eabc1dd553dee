/**
 * The reconciler against a real kube-apiserver: the test drives `reconcile(key)` itself (the controller's queue and
 * watches are tested separately) and plays the kubelet and the router by writing pod and route status.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PORTS } from '../../constructs/pod-contract.js';
import type { MustGatherReport } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { ReportCache } from '../../reconciler/cache.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { tokenOf } from '../../reconciler/gather-token.js';
import { FINALIZER, Reconciler, reportKey } from '../../reconciler/reconcile.js';
import { SERVING_CA_SECRET } from '../../reconciler/serving-ca.js';
import { sweepOrphans } from '../../reconciler/ownership.js';
import { podStatus } from '../kubelet-states.js';
import {
  adminClient, admitRoute, auditedWrites, LOCAL_CLUSTER, localOnly, createReport, eventually, getReport, OPERATOR_USER, operatorClient, ownedObjects,
  setPodStatus, testNamespace,
} from './helpers.js';

const IMAGES = ['quay.io/kubevirt/must-gather:v1.5', 'quay.io/openshift/origin-must-gather:4.20'];

let admin: KubeClient;
let operator: KubeClient;
/** A clock the tests move forward to reach deadlines without waiting for them. */
let offsetMs = 0;
let reconciler: Reconciler;
/** The reconciler's watch caches, shared as the controller shares its own. */
let cache: ReportCache;

beforeAll(async () => {
  admin = adminClient();
  if (!LOCAL_CLUSTER) return;
  operator = await operatorClient(admin);
  cache = await startedCache('openshift');
  reconciler = new Reconciler({ client: operator, cache, now: () => new Date(Date.now() + offsetMs), pollAfterMs: 200 });
});
afterAll(async () => cache?.stop());

async function startedCache(platform: 'openshift' | 'kubernetes'): Promise<ReportCache> {
  const started = new ReportCache({ client: operator, platform });
  started.start();
  await started.waitForSync();
  return started;
}

/**
 * Waits until `cache` shows every write the reconciler made for `key`: a reconcile before that is (rightly) a no-op,
 * which a test that reconciles once and looks must not mistake for the answer.
 */
async function caughtUp(key: string, of = cache): Promise<void> {
  await eventually(async () => of.stale(key).length === 0, `the cache to show the operator's writes for ${key}`, 10_000, 20);
}

/** Reconciles until `until` holds, honouring requeueAfter like the queue would (bounded). */
async function converge(key: string, until: (report: MustGatherReport | undefined) => boolean, what: string): Promise<MustGatherReport | undefined> {
  return eventually(async () => {
    await reconciler.reconcile(key);
    const report = await getReport(admin, ...(key.split('/') as [string, string]));
    return until(report) ? report ?? null : undefined;
  }, what, 30_000, 100) as Promise<MustGatherReport | undefined>;
}

/** Whom the API server takes a bearer token for (a TokenReview), or undefined when it refuses it. */
async function tokenUser(token: string): Promise<string | undefined> {
  const review = await admin.request<{ status: { authenticated?: boolean; user?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
  });
  return review.status.authenticated ? review.status.user?.username : undefined;
}

const ready = (report: MustGatherReport | undefined) => report?.status?.conditions?.find((c) => c.type === 'Ready');
const reasonIs = (reason: string) => (report: MustGatherReport | undefined) => ready(report)?.reason === reason;

async function newReport(name: string, images = IMAGES) {
  const namespace = await testNamespace(admin);
  const created = await createReport(admin, namespace, name, { images, deleteAfter: '30m' });
  const key = reportKey(created);
  const names = reportObjectNames(created.metadata);
  await converge(key, (r) => r?.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True', 'the pod to be created');
  return { key, names, uid: created.metadata.uid!, namespace };
}

describe.runIf(LOCAL_CLUSTER)(localOnly('reconcile', 'its CA, for the operator\'s least-privilege user, and its audit log'), () => {
  it('takes a two-image report from Pending through Gathering and Compressing to Ready, then revokes cluster-admin', async () => {
    const { key, names, uid } = await newReport('happy');
    const report = (await getReport(admin, ...(key.split('/') as [string, string])))!;
    expect(report.metadata.finalizers).toContain(FINALIZER);
    expect(await ownedObjects(admin, uid)).toEqual([
      `ClusterRoleBinding/${names.gatherBinding}`, `ClusterRoleBinding/${names.authDelegatorBinding}`, `ConfigMap/${names.clientCaConfigMap}`,
      `Namespace/${names.namespace}`, `NetworkPolicy/${names.networkPolicy}`, 'PersistentVolumeClaim/must-gather', 'Pod/must-gather',
      `RoleBinding/${names.eventRecorderBinding}`,
      'Route/must-gather', `Secret/${names.gatherTokenSecret}`, `Secret/${names.proxyCookieSecret}`, 'Service/must-gather',
      `ServiceAccount/${names.gatherServiceAccount}`, `ServiceAccount/${names.serverServiceAccount}`,
    ].sort());
    expect(ready(report)).toMatchObject({ status: 'False', reason: 'Pending' });
    expect(report.status?.namespace).toBe(names.namespace);
    // The gather token: the operator's TokenRequest for the gather account, lasting the start timeout (10m), every
    // image's timeout (10m each) and 10m; accepted by the API server as that account while gathering.
    const tokenSecret = (await admin.get<KubeObject & { data: { token: string } }>({ kind: 'Secret', namespace: names.namespace, name: names.gatherTokenSecret }))!;
    const gatherToken = tokenOf(tokenSecret)!;
    const lifetimeMs = Date.parse(gatherToken.expiresAt) - Date.parse(gatherToken.issuedAt);
    expect(lifetimeMs).toBeGreaterThanOrEqual(40 * 60_000 - 2_000);
    expect(lifetimeMs).toBeLessThanOrEqual(40 * 60_000 + 2_000);
    expect(await tokenUser(gatherToken.token)).toBe(`system:serviceaccount:${names.namespace}:${names.gatherServiceAccount}`);

    await setPodStatus(admin, names.namespace, podStatus(IMAGES, { running: true }));
    let now = await converge(key, reasonIs('Gathering'), 'Gathering 1 of 2');
    expect(ready(now)?.message).toContain('(1 of 2)');
    await setPodStatus(admin, names.namespace, podStatus(IMAGES, { ended: ['Succeeded'], running: true }));
    now = await converge(key, (r) => ready(r)?.message.includes('(2 of 2)') ?? false, 'Gathering 2 of 2');
    expect(now?.status?.gathers?.map((g) => g.state)).toEqual(['Succeeded', 'Running']);
    expect(await ownedObjects(admin, uid)).toContain(`ClusterRoleBinding/${names.gatherBinding}`);

    await setPodStatus(admin, names.namespace, podStatus(IMAGES, { ended: ['Succeeded', 'Succeeded'], archive: 'running' }));
    await converge(key, reasonIs('Compressing'), 'Compressing');
    // Gathering is over: the cluster-admin binding and the gather token are gone at once.
    const remaining = await eventually(async () => {
      const objects = await ownedObjects(admin, uid);
      return objects.includes(`ClusterRoleBinding/${names.gatherBinding}`) ? undefined : objects;
    }, 'the gather binding to be deleted');
    expect(remaining).not.toContain(`Secret/${names.gatherTokenSecret}`);
    expect(remaining).not.toContain(`ServiceAccount/${names.gatherServiceAccount}`);
    expect(remaining).toContain(`ClusterRoleBinding/${names.authDelegatorBinding}`);
    // Its account deleted, the token is refused, long before it would expire.
    await eventually(async () => (await tokenUser(gatherToken.token)) === undefined, 'the gather token to be refused');

    await setPodStatus(admin, names.namespace, podStatus(IMAGES, { ended: ['Succeeded', 'Succeeded'], archive: 'done', serving: true }));
    await converge(key, reasonIs('ServerNotReady'), 'waiting for the router');
    await admitRoute(admin, names.namespace, 'mg.apps.example.com');
    const done = await converge(key, reasonIs('ArchiveReady'), 'Ready');
    expect(ready(done)?.status).toBe('True');
    expect(done?.status?.report_url).toBe('https://mg.apps.example.com/must-gather.tar.gz');
    expect(done?.status?.archive).toMatchObject({ sizeBytes: 123456 });
    const readyAt = Date.parse(ready(done)!.lastTransitionTime);
    expect(Date.parse(done!.status!.expiresAt!)).toBe(readyAt + 30 * 60_000);
    expect(done?.status?.observedGeneration).toBe(done?.metadata.generation);
  });

  it('makes zero write requests once a report is Ready (counted in the audit log)', async () => {
    const { key, names } = await newReport('idempotent', IMAGES.slice(0, 1));
    await setPodStatus(admin, names.namespace, podStatus(IMAGES.slice(0, 1), { ended: ['Succeeded'], archive: 'done', serving: true }));
    await admitRoute(admin, names.namespace, 'idem.apps.example.com');
    await converge(key, reasonIs('ArchiveReady'), 'Ready');
    await reconciler.reconcile(key); // settle
    const before = await eventually(async () => {
      const first = (await auditedWrites(OPERATOR_USER)).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return (await auditedWrites(OPERATOR_USER)).length === first ? first : undefined;
    }, 'the audit log to settle');
    for (let i = 0; i < 5; i++) await reconciler.reconcile(key);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const writes = (await auditedWrites(OPERATOR_USER)).slice(before);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}`)).toEqual([]);
  });

  it('reports each failure from the pod status that causes it', async () => {
    const { key, names } = await newReport('failures');
    const cases: [Parameters<typeof podStatus>[1], string, string][] = [
      [{ unschedulable: '0/3 nodes are available: 3 Insufficient memory.' }, 'Unschedulable', 'Insufficient memory'],
      [{ unschedulable: '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.' }, 'StorageUnavailable', 'not bound'],
      [{ waitingGather: { index: 1, reason: 'ErrImagePull', message: 'manifest unknown' } }, 'ImagePullFailed', IMAGES[0]!],
      [{ ended: ['Failed'], running: true }, 'GatherFailed', 'exit code 3'],
      [{ ended: ['TimedOut'], running: true }, 'TimedOut', 'timed out'],
      [{ ended: ['Succeeded', 'Succeeded'], archive: 'failed' }, 'ArchiveFailed', 'compress step failed'],
    ];
    for (const [stage, reason, words] of cases) {
      await setPodStatus(admin, names.namespace, podStatus(IMAGES, stage));
      const report = await converge(key, reasonIs(reason), reason);
      expect(ready(report)?.message).toContain(words);
    }
  });

  it('deletes the report deleteAfter after Ready, and leaves nothing behind', async () => {
    const writesBefore = (await auditedWrites(OPERATOR_USER)).length;
    const { key, names, uid } = await newReport('expiry', IMAGES.slice(0, 1));
    await setPodStatus(admin, names.namespace, podStatus(IMAGES.slice(0, 1), { ended: ['Succeeded'], archive: 'done', serving: true }));
    await admitRoute(admin, names.namespace, 'exp.apps.example.com');
    const done = await converge(key, reasonIs('ArchiveReady'), 'Ready');
    await caughtUp(key);
    const result = await reconciler.reconcile(key);
    const expiresIn = Date.parse(done!.status!.expiresAt!) - Date.now();
    expect(result.requeueAfter).toBeGreaterThan(expiresIn - 5_000);
    expect(result.requeueAfter).toBeLessThanOrEqual(expiresIn + 1_000);
    offsetMs = 31 * 60_000;
    try {
      await converge(key, (r) => r === undefined, 'the report to be deleted');
    } finally {
      offsetMs = 0;
    }
    await eventually(async () => (await ownedObjects(admin, uid)).length === 0, 'every owned object to be gone', 60_000, 500);
    const lifecycle = (await auditedWrites(OPERATOR_USER)).slice(writesBefore);
    const byVerb = lifecycle.reduce<Record<string, number>>((counts, w) => ({ ...counts, [w.verb]: (counts[w.verb] ?? 0) + 1 }), {});
    console.log(`write requests for one report's whole lifecycle (create -> Ready -> expired -> gone): ${lifecycle.length} ${JSON.stringify(byVerb)}`);
    // 26 measured: 17 patches (applies, finalizer, status), 2 creates (the token request, the pod), 7 deletes. A regression that rewrites on every pass shows here.
    expect(lifecycle.length).toBeLessThanOrEqual(28);
  });

  it('ends a report whose image cannot be pulled at the start deadline: StartTimedOut, cluster-admin revoked, then no writes', async () => {
    const { key, names, uid } = await newReport('stuck', IMAGES.slice(0, 1));
    // Its own clock, moved to the deadline the reconcile asks to be woken at (no event marks that moment).
    const clock = { offsetMs: 0 };
    const impatient = new Reconciler({ client: operator, cache, startTimeoutMs: 60_000, pollAfterMs: 200, now: () => new Date(Date.now() + clock.offsetMs) });
    await setPodStatus(admin, names.namespace, podStatus(IMAGES.slice(0, 1), { waitingGather: { index: 1, reason: 'ErrImagePull', message: 'manifest unknown' } }));
    const [namespace, name] = key.split('/') as [string, string];
    const waiting = await eventually(async () => {
      const result = await impatient.reconcile(key);
      return reasonIs('ImagePullFailed')(await getReport(admin, namespace, name)) && result;
    }, 'ImagePullFailed');
    expect(waiting.requeueAfter).toBeGreaterThan(30_000);
    expect(waiting.requeueAfter).toBeLessThanOrEqual(60_000);

    clock.offsetMs = waiting.requeueAfter!;
    await caughtUp(key);
    const ended = await impatient.reconcile(key);
    const report = (await getReport(admin, namespace, name))!;
    expect(ready(report)).toMatchObject({ status: 'False', reason: 'StartTimedOut' });
    expect(ready(report)?.message).toMatch(/^Gave up after 1m: cannot pull image quay\.io\/kubevirt\/must-gather:v1\.5 for the gather with image .* \(1 of 1\): ErrImagePull: manifest unknown\.$/);
    const finishedAt = Date.parse(report.status!.finishedAt!);
    expect(Math.abs(finishedAt - (Date.now() + clock.offsetMs))).toBeLessThan(10_000);
    expect(Date.parse(report.status!.expiresAt!)).toBe(finishedAt + 30 * 60_000);
    expect(ended.requeueAfter).toBeGreaterThan(29 * 60_000);
    // Ended for good is gathering over: the cluster-admin binding and the gather token went in that same reconcile.
    const objects = await ownedObjects(admin, uid);
    expect(objects).not.toContain(`ClusterRoleBinding/${names.gatherBinding}`);
    expect(objects).not.toContain(`Secret/${names.gatherTokenSecret}`);

    const before = await eventually(async () => {
      const count = (await auditedWrites(OPERATOR_USER)).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return (await auditedWrites(OPERATOR_USER)).length === count ? count : undefined;
    }, 'the audit log to settle');
    for (let i = 0; i < 3; i++) await impatient.reconcile(key);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const writes = (await auditedWrites(OPERATOR_USER)).slice(before);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}`)).toEqual([]);
    expect((await getReport(admin, namespace, name))?.status).toEqual(report.status);
  });

  it('cleans everything up when a report is deleted mid-gather', async () => {
    const { key, names, uid } = await newReport('deleted');
    await setPodStatus(admin, names.namespace, podStatus(IMAGES, { running: true }));
    await converge(key, reasonIs('Gathering'), 'Gathering');
    const [namespace, name] = key.split('/') as [string, string];
    await admin.delete({ kind: 'MustGatherReport', namespace, name });
    await converge(key, (r) => r === undefined, 'the finalizer to release the report');
    expect(await ownedObjects(admin, uid)).toEqual([]);
  });

  it('sweeps what a report deleted while the operator was down left behind', async () => {
    const { key, names, uid } = await newReport('orphan');
    const [namespace, name] = key.split('/') as [string, string];
    // The operator is "down": someone removes the finalizer and the report goes at once.
    await admin.patch({ kind: 'MustGatherReport', namespace, name }, { metadata: { finalizers: null } });
    await admin.delete({ kind: 'MustGatherReport', namespace, name });
    expect(await ownedObjects(admin, uid)).toContain(`Namespace/${names.namespace}`);
    const swept = await sweepOrphans(operator);
    expect(swept.map((s) => s.subject)).toEqual(expect.arrayContaining([
      `Namespace/${names.namespace}`, `ClusterRoleBinding/${names.gatherBinding}`, `ClusterRoleBinding/${names.authDelegatorBinding}`,
    ]));
    await eventually(async () => (await ownedObjects(admin, uid)).length === 0, 'the orphans to be gone', 60_000, 500);
  });

  it('says in Ready which object the API server refuses and why, while it keeps trying, and goes on once it may', async () => {
    const namespace = await testNamespace(admin);
    const created = await createReport(admin, namespace, 'refused', { images: IMAGES.slice(0, 1), deleteAfter: '30m' });
    const key = reportKey(created);
    const names = reportObjectNames(created.metadata);
    // A refusal that does not go away by itself, like a full Service IP range: a quota of no Services where the report's go.
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: names.namespace } });
    await admin.request('POST', `/api/v1/namespaces/${names.namespace}/resourcequotas`, {
      body: { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-services' }, spec: { hard: { services: '0' } } },
    });
    // Each of these reconciles fails (the queue retries it with backoff), having said why in the status first.
    const refused = await eventually(async () => {
      await reconciler.reconcile(key).catch(() => undefined);
      const report = await getReport(admin, namespace, 'refused');
      return reasonIs('ApplyFailed')(report) ? report : undefined;
    }, 'ApplyFailed');
    expect(ready(refused)?.message).toMatch(new RegExp(`^Cannot apply the report's objects \\(retrying\\): Service/${names.namespace}/must-gather: apply failed: .*quota`));
    expect(refused?.status?.conditions?.find((c) => c.type === 'Initialized')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    await caughtUp(key);
    await expect(reconciler.reconcile(key)).rejects.toThrow(`MustGatherReport/${key}: Service/${names.namespace}/must-gather: apply failed: `);

    await admin.request('DELETE', `/api/v1/namespaces/${names.namespace}/resourcequotas/no-services`);
    await converge(key, (r) => r?.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True', 'the pod once Services may be made');
  });

  it('prunes the Role and RoleBinding an earlier version put beside the report (its file server now binds a ClusterRole)', async () => {
    const { key, names, uid, namespace } = await newReport('upgraded');
    // As the earlier version labelled and named them: `<report namespace>-events`, the binding to a Role.
    const binding = (await admin.get<KubeObject>({ kind: 'RoleBinding', namespace, name: names.eventRecorderBinding }))!;
    const earlier = { name: `${names.namespace}-events`, namespace, labels: binding.metadata.labels, annotations: binding.metadata.annotations };
    await admin.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: earlier, rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }] } as KubeObject);
    await admin.create({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: earlier,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: earlier.name }, subjects: (binding as KubeObject & { subjects: unknown[] }).subjects,
    } as KubeObject);
    // Reconciled until the cache shows them and the reconcile prunes them (as their watch events would have it).
    const objects = await eventually(async () => {
      await reconciler.reconcile(key);
      const owned = await ownedObjects(admin, uid);
      return owned.some((o) => o.endsWith(`/${earlier.name}`)) ? undefined : owned;
    }, 'the earlier Role and RoleBinding to be pruned');
    expect(objects).toContain(`RoleBinding/${names.eventRecorderBinding}`);
    expect(objects.filter((o) => o.startsWith('Role/'))).toEqual([]);
  });

  it('repairs what someone edits or deletes', async () => {
    const { key, names, uid } = await newReport('repair');
    await admin.delete({ kind: 'Service', namespace: names.namespace, name: 'must-gather' });
    await admin.patch({ kind: 'Route', namespace: names.namespace, name: 'must-gather' }, { metadata: { labels: { 'mustgather.openshift.io/report-uid': null } } });
    await admin.patch({ kind: 'NetworkPolicy', namespace: names.namespace, name: names.networkPolicy }, { spec: { ingress: [{}] } });
    // Reconciled as the watch events of those edits would have it (the cache sees them a moment later).
    await eventually(async () => {
      await reconciler.reconcile(key);
      const objects = await ownedObjects(admin, uid);
      const policy = await admin.get({ kind: 'NetworkPolicy', namespace: names.namespace, name: names.networkPolicy }) as any;
      return objects.includes('Service/must-gather') && objects.includes('Route/must-gather') && isDeepStrictEqual(policy.spec.ingress, [{ ports: [{ port: PORTS.proxy, protocol: 'TCP' }] }]);
    }, 'the Service, the Route\'s label and the policy to be repaired');

    await admin.delete({ kind: 'Namespace', name: names.namespace });
    await converge(key, () => true, 'a reconcile');
    await eventually(async () => {
      await reconciler.reconcile(key).catch(() => undefined);
      const ns = await admin.get({ kind: 'Namespace', name: names.namespace });
      return ns && !ns.metadata.deletionTimestamp && (await admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }));
    }, 'the namespace and pod to be re-created', 60_000, 500);
  });
});

describe.runIf(LOCAL_CLUSTER)(localOnly('reconcile, kubernetes profile', 'its CA, for the operator\'s least-privilege user, and its audit log'), () => {
  let operatorNamespace: string;
  let k8sReconciler: Reconciler;
  let k8sCache: ReportCache;
  const clock = { offsetMs: 0 };
  const ingress = { hostSuffix: 'reports.example.com', className: 'nginx' };

  beforeAll(async () => {
    // The operator's namespace does not exist yet: the first report that needs the CA creates it.
    operatorNamespace = `op-${randomBytes(4).toString('hex')}`;
    k8sCache = await startedCache('kubernetes');
    k8sReconciler = new Reconciler({
      client: operator, cache: k8sCache, platform: 'kubernetes', operatorNamespace, ingress, pollAfterMs: 200, now: () => new Date(Date.now() + clock.offsetMs),
    });
  });
  afterAll(async () => k8sCache?.stop());

  async function k8sReport(name: string, reconciler = k8sReconciler) {
    const namespace = await testNamespace(admin);
    const created = await createReport(admin, namespace, name, { images: IMAGES.slice(0, 1), deleteAfter: '30m' });
    const key = reportKey(created);
    const names = reportObjectNames(created.metadata);
    await eventually(async () => {
      await reconciler.reconcile(key);
      return admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' });
    }, 'the pod to be created', 30_000, 100);
    return { key, names, namespace };
  }

  const servingCert = async (namespace: string) => {
    const secret = await admin.get({ kind: 'Secret', namespace, name: 'must-gather-tls' }) as unknown as { data: Record<string, string> };
    return new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'));
  };

  it('issues the serving certificate from its own CA, published in status.caBundle, and is Ready without a router', async () => {
    const { key, names } = await k8sReport('tls');
    const ca = await admin.get({ kind: 'Secret', namespace: operatorNamespace, name: SERVING_CA_SECRET }) as unknown as { data: Record<string, string> };
    expect(ca).toBeDefined();
    const report = await getReport(admin, ...(key.split('/') as [string, string]));
    const caBundle = report!.status!.caBundle!;
    expect(caBundle).toBe(Buffer.from(ca.data['tls.crt']!, 'base64').toString('utf8'));
    const cert = await servingCert(names.namespace);
    const caCert = new X509Certificate(caBundle);
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    const host = `${names.namespace}.${ingress.hostSuffix}`;
    expect(cert.subjectAltName).toBe(`DNS:must-gather.${names.namespace}.svc, DNS:must-gather.${names.namespace}.svc.cluster.local, DNS:${host}`);
    // Nothing OpenShift's: no Route, no oauth-proxy; an Ingress for the host with that certificate.
    expect(await admin.get({ kind: 'Route', namespace: names.namespace, name: 'must-gather' })).toBeUndefined();
    const live = await admin.get({ kind: 'Ingress', namespace: names.namespace, name: 'must-gather' }) as any;
    expect(live.spec).toMatchObject({ ingressClassName: 'nginx', tls: [{ hosts: [host], secretName: 'must-gather-tls' }] });
    const pod = await admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }) as any;
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['file-server']);
    expect(pod.spec.securityContext).toMatchObject({ fsGroup: 1001, fsGroupChangePolicy: 'OnRootMismatch' });

    await setPodStatus(admin, names.namespace, podStatus(IMAGES.slice(0, 1), { ended: ['Succeeded'], archive: 'done', serving: true, platform: 'kubernetes' }));
    const done = await eventually(async () => {
      await k8sReconciler.reconcile(key);
      const now = await getReport(admin, ...(key.split('/') as [string, string]));
      return ready(now)?.status === 'True' ? now : undefined;
    }, 'Ready without any router');
    expect(done?.status?.report_url).toBe(`https://${host}/must-gather.tar.gz`);
  });

  it('creates the CA once and reuses it: a second report and further reconciles write nothing for it', async () => {
    const first = await k8sReport('ca-once');
    // A fresh reconciler (an operator restart) reads the same CA back.
    const restarted = new Reconciler({ client: operator, platform: 'kubernetes', operatorNamespace, pollAfterMs: 200 });
    onTestFinished(() => restarted.stop());
    const second = await k8sReport('ca-twice', restarted);
    // Over every report this operator namespace served (three by now, and a restart): one CA, created once.
    const caWrites = (await auditedWrites(OPERATOR_USER)).filter((w) => w.objectRef?.resource === 'secrets' && w.objectRef.namespace === operatorNamespace);
    expect(caWrites.map((w) => `${w.verb} ${w.objectRef?.name ?? ''}`)).toEqual([`create ${SERVING_CA_SECRET}`]);
    const [a, b] = [await getReport(admin, ...(first.key.split('/') as [string, string])), await getReport(admin, ...(second.key.split('/') as [string, string]))];
    expect(a?.status?.caBundle).toBe(b?.status?.caBundle);

    await k8sReconciler.reconcile(first.key); // settle
    const before = await eventually(async () => {
      const count = (await auditedWrites(OPERATOR_USER)).length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return (await auditedWrites(OPERATOR_USER)).length === count ? count : undefined;
    }, 'the audit log to settle');
    for (let i = 0; i < 3; i++) await k8sReconciler.reconcile(first.key);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const writes = (await auditedWrites(OPERATOR_USER)).slice(before);
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}`)).toEqual([]);
  });

  it('renews the serving certificate within the last third of its life, keeping the CA', async () => {
    const { key, names } = await k8sReport('renew');
    const before = await servingCert(names.namespace);
    await caughtUp(key, k8sCache);
    clock.offsetMs = 61 * 24 * 3600_000; // 90-day certificates: past two thirds
    try {
      await k8sReconciler.reconcile(key);
    } finally {
      clock.offsetMs = 0;
    }
    const after = await servingCert(names.namespace);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(Date.parse(after.validTo)).toBeGreaterThan(Date.parse(before.validTo));
    const report = await getReport(admin, ...(key.split('/') as [string, string]));
    const caCert = new X509Certificate(report!.status!.caBundle!);
    expect(after.verify(caCert.publicKey)).toBe(true);
    // And it stays: the next reconcile keeps the renewed one.
    await caughtUp(key, k8sCache);
    await k8sReconciler.reconcile(key);
    expect((await servingCert(names.namespace)).serialNumber).toBe(after.serialNumber);
  });

  it('without an Ingress, report_url is the Service\'s in-cluster URL', async () => {
    const plain = new Reconciler({ client: operator, platform: 'kubernetes', operatorNamespace, pollAfterMs: 200 });
    onTestFinished(() => plain.stop());
    const { key, names } = await k8sReport('in-cluster', plain);
    expect(await admin.get({ kind: 'Ingress', namespace: names.namespace, name: 'must-gather' })).toBeUndefined();
    expect((await servingCert(names.namespace)).subjectAltName).toBe(`DNS:must-gather.${names.namespace}.svc, DNS:must-gather.${names.namespace}.svc.cluster.local`);
    await setPodStatus(admin, names.namespace, podStatus(IMAGES.slice(0, 1), { ended: ['Succeeded'], archive: 'done', serving: true, platform: 'kubernetes' }));
    const done = await eventually(async () => {
      await plain.reconcile(key);
      const now = await getReport(admin, ...(key.split('/') as [string, string]));
      return ready(now)?.status === 'True' ? now : undefined;
    }, 'Ready');
    expect(done?.status?.report_url).toBe(`https://must-gather.${names.namespace}.svc/must-gather.tar.gz`);
  });
});
