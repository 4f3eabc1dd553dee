/**
 * Image resolution and the cluster facts against a real kube-apiserver, as the operator's least-privilege user: the
 * default image from an image stream or the flag, image streams at their current reference, allImages from
 * ClusterOperators and ClusterServiceVersions (never OLM's copies) served by the local cluster's stand-in CRDs, the
 * list made into the pod, then written to status.images (the audit log's order), and read back from the pod when the
 * status does not show it, retries and their end, the registry allow-list, and status.cluster from the real server
 * (kube-system's uid, /version, the nodes).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { MustGatherReport, MustGatherReportSpec } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { ReportCache } from '../../reconciler/cache.js';
import { COPIED_CSV_LABEL, MUST_GATHER_IMAGE_ANNOTATION } from '../../reconciler/image-resolution.js';
import { Reconciler, type ReconcilerOptions, reportKey } from '../../reconciler/reconcile.js';
import { adminClient, auditedWrites, createReport, eventually, getReport, LOCAL_CLUSTER, localOnly, OPERATOR_USER, operatorClient, testNamespace } from './helpers.js';

const FLAG_DEFAULT = 'localhost/mustgather/flag-default:v1';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

let admin: KubeClient;
let operator: KubeClient;
let cache: ReportCache;
/** Moves the reconcilers' clock (deadlines, and how long cluster reads are shared). */
let offsetMs = 0;

beforeAll(async () => {
  admin = adminClient();
  if (!LOCAL_CLUSTER) return;
  operator = await operatorClient(admin);
  cache = new ReportCache({ client: operator, platform: 'openshift' });
  cache.start();
  await cache.waitForSync();
});
afterAll(async () => cache?.stop());

/** A reconciler of its own per test: what it read is not shared with another test's. */
function reconciler(options: Partial<ReconcilerOptions> = {}): Reconciler {
  return new Reconciler({ client: operator, cache, now: () => new Date(Date.now() + offsetMs), pollAfterMs: 100, defaultGatherImage: FLAG_DEFAULT, startTimeoutMs: 10 * 60_000, ...options });
}

const ready = (r: MustGatherReport | undefined) => r?.status?.conditions?.find((c) => c.type === 'Ready');

/** Reconciles until `until` holds (the watch brings the writes into the cache meanwhile). */
async function converge(r: Reconciler, key: string, until: (report: MustGatherReport | undefined) => boolean, what: string): Promise<MustGatherReport> {
  return eventually(async () => {
    await r.reconcile(key);
    const report = await getReport(admin, ...(key.split('/') as [string, string]));
    return until(report) ? report : undefined;
  }, what, 30_000, 100) as Promise<MustGatherReport>;
}

async function newReport(spec: MustGatherReportSpec, name = 'r') {
  const namespace = await testNamespace(admin, 'img');
  const created = await createReport(admin, namespace, name, { deleteAfter: '30m', ...spec });
  return { key: reportKey(created), namespace, created };
}

/** An image stream with `tag` imported at `image` (the stand-in CRD has a status subresource, as OpenShift's API). */
async function imageStream(namespace: string, name: string, tag: string, image: string): Promise<void> {
  await admin.create({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { namespace, name }, spec: { tags: [{ name: tag, referencePolicy: { type: 'Source' } }] } } as KubeObject);
  await admin.patch({ kind: 'ImageStream', namespace, name }, {
    status: { dockerImageRepository: `image-registry.example:5000/${namespace}/${name}`, tags: [{ tag, items: [{ dockerImageReference: image, image: DIGEST, created: new Date().toISOString(), generation: 1 }] }] },
  }, { subresource: 'status' });
}

const unique = () => randomBytes(3).toString('hex');

describe.runIf(LOCAL_CLUSTER)(localOnly('image resolution', 'its CA, for the operator\'s least-privilege user, and its audit log'), () => {
  it('resolves the default image from the flag, makes it and the cluster facts into the pod, then writes them to the status, and never resolves again', async () => {
    const r = reconciler();
    const { key, created } = await newReport({});
    const names = reportObjectNames(created.metadata);
    const report = await converge(r, key, (x) => x?.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True', 'the pod to be created');
    expect(report.status?.images).toEqual([FLAG_DEFAULT]);
    expect(report.status?.gathers?.map((g) => g.image)).toEqual([FLAG_DEFAULT]);
    const pod = await admin.get<{ spec: { initContainers: { name: string; image: string; env?: { name: string; value?: string }[] }[] } }>({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' });
    expect(pod?.spec.initContainers.filter((c) => c.name.startsWith('gather-')).map((c) => c.image)).toEqual([FLAG_DEFAULT]);

    // status.cluster: what the real server says of itself, read as the least-privilege user (nothing unreadable).
    const kubeSystem = await admin.get({ kind: 'Namespace', name: 'kube-system' });
    const version = await admin.request<{ gitVersion: string }>('GET', '/version');
    const nodes = await admin.list({ kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false });
    expect(report.status?.cluster).toMatchObject({ id: kubeSystem!.metadata.uid, version: version.gitVersion, kubernetesVersion: version.gitVersion, platform: 'Kubernetes' });
    expect(report.status?.cluster?.nodes?.total).toBe(nodes.items.length);
    expect(report.status?.cluster?.unreadable).toBeUndefined();
    // ... handed to the archive step, the same facts.
    const archiveEnv = pod!.spec.initContainers.find((c) => c.name === 'archive')!.env!.find((e) => e.name === 'MUST_GATHER_SUMMARY')!.value!;
    expect(JSON.parse(archiveEnv)).toEqual({ report: key, images: [FLAG_DEFAULT], cluster: report.status!.cluster });

    // The audit log: one status write, after the pod was created (the pod is the record until then).
    const writes = (await auditedWrites(OPERATOR_USER)).filter((w) => (w.objectRef?.namespace === created.metadata.namespace && w.objectRef?.name === created.metadata.name && w.objectRef?.subresource === 'status')
      || (w.objectRef?.namespace === names.namespace && w.objectRef?.resource === 'pods'));
    expect(writes.map((w) => `${w.verb} ${w.objectRef?.resource}${w.objectRef?.subresource ? `/${w.objectRef.subresource}` : ''}`)).toEqual(['create pods', 'patch mustgatherreports/status']);

    // Recorded once: a stream appearing later changes nothing for this report.
    const stream = `img-default-${unique()}`;
    const streamNamespace = await testNamespace(admin, 'streams');
    await imageStream(streamNamespace, stream, 'latest', `quay.io/example/other@${DIGEST}`);
    const later = reconciler({ defaultGatherImageStream: `${streamNamespace}/${stream}:latest` });
    await later.reconcile(key);
    expect((await getReport(admin, ...(key.split('/') as [string, string])))?.status?.images).toEqual([FLAG_DEFAULT]);
  });

  it('takes the images of a report\'s pod from the pod, whatever its status says (a crash between the two, a status written meanwhile), resolving nothing', async () => {
    const r = reconciler();
    const { key, created } = await newReport({});
    const made = await converge(r, key, (x) => x?.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True', 'the pod to be created');
    // A default that now resolves to another image.
    const streamNamespace = await testNamespace(admin, 'streams');
    const stream = `img-crash-${unique()}`;
    const other = `quay.io/example/other@${DIGEST}`;
    await imageStream(streamNamespace, stream, 'latest', other);
    const later = reconciler({ defaultGatherImageStream: `${streamNamespace}/${stream}:latest` });
    const status = async (value: Record<string, unknown>) => admin.patch({ kind: 'MustGatherReport', namespace: created.metadata.namespace!, name: created.metadata.name }, { status: value }, { subresource: 'status' });
    // As a crash right after the pod's creation leaves it: neither images nor facts.
    await status({ images: null, cluster: null, gathers: null });
    let after = await converge(later, key, (x) => !!x?.status?.images, 'the images read back');
    expect(after.status?.images).toEqual([FLAG_DEFAULT]);
    expect(after.status?.cluster).toEqual(made.status?.cluster);
    // Images the pod does not run (written by an operator that did not see the pod): the pod's win.
    await status({ images: [other], gathers: [{ index: 1, image: other, state: 'Pending' }] });
    after = await converge(later, key, (x) => x?.status?.images?.[0] !== other, 'the images healed');
    expect(after.status?.images).toEqual([FLAG_DEFAULT]);
    expect(after.status?.gathers?.map((g) => g.image)).toEqual([FLAG_DEFAULT]);
  });

  it('takes the default image from its image stream where that exists, and spec.imageStreams at their current reference', async () => {
    const streamNamespace = await testNamespace(admin, 'streams');
    await imageStream(streamNamespace, 'must-gather', 'latest', `quay.io/openshift/must-gather@${DIGEST}`);
    await imageStream(streamNamespace, 'cnv-must-gather', 'v4.20', 'quay.io/kubevirt/must-gather:v4.20');
    const r = reconciler({ defaultGatherImageStream: `${streamNamespace}/must-gather:latest` });
    const plain = await newReport({});
    expect((await converge(r, plain.key, (x) => !!x?.status?.images, 'images')).status?.images).toEqual([`quay.io/openshift/must-gather@${DIGEST}`]);
    // With image streams and images, the default does not run (as oc): images first, then the streams'.
    const streams = await newReport({ images: ['quay.io/x/own:v1'], imageStreams: [`${streamNamespace}/cnv-must-gather:v4.20`] });
    expect((await converge(r, streams.key, (x) => !!x?.status?.images, 'images')).status?.images).toEqual(['quay.io/x/own:v1', 'quay.io/kubevirt/must-gather:v4.20']);
  });

  it('retries a stream that is not there yet, resolves it once it is, and ends a report whose stream never comes ImageResolutionFailed', async () => {
    const streamNamespace = await testNamespace(admin, 'streams');
    onTestFinished(() => {
      offsetMs = 0;
    });
    const r = reconciler();
    const waiting = await newReport({ imageStreams: [`${streamNamespace}/late:v1`] });
    let report = await converge(r, waiting.key, (x) => ready(x)?.reason === 'ResolvingImages', 'ResolvingImages');
    expect(ready(report)?.message).toContain(`Cannot resolve image stream ${streamNamespace}/late:v1: ImageStream ${streamNamespace}/late not found.`);
    expect(report.status?.images).toBeUndefined();
    // Nothing was created for it.
    expect(await admin.get({ kind: 'Namespace', name: reportObjectNames(waiting.created.metadata).namespace })).toBeUndefined();

    await imageStream(streamNamespace, 'late', 'v1', 'quay.io/example/late:v1');
    offsetMs += 11_000; // past the time reads are shared between reports
    report = await converge(r, waiting.key, (x) => !!x?.status?.images, 'the stream to resolve');
    expect(report.status?.images).toEqual(['quay.io/example/late:v1']);

    const never = await newReport({ imageStreams: [`${streamNamespace}/never:v1`] });
    await converge(r, never.key, (x) => ready(x)?.reason === 'ResolvingImages', 'ResolvingImages');
    offsetMs += 11 * 60_000;
    report = await converge(r, never.key, (x) => ready(x)?.reason === 'ImageResolutionFailed', 'ImageResolutionFailed');
    expect(ready(report)?.message).toMatch(new RegExp(`^Gave up after 10m: Cannot resolve image stream ${streamNamespace}/never:v1`));
    expect(report.status?.finishedAt).toBeDefined();
    expect(report.status?.expiresAt).toBeDefined();
    // Ended for good: no more resolving, nothing created.
    await r.reconcile(never.key);
    expect(ready(await getReport(admin, ...(never.key.split('/') as [string, string])))?.reason).toBe('ImageResolutionFailed');
    expect(await admin.get({ kind: 'Namespace', name: reportObjectNames(never.created.metadata).namespace })).toBeUndefined();
  });

  it('allImages: the default first, then ClusterOperators\' and original CSVs\' annotated images, never an OLM copy\'s', async () => {
    const id = unique();
    const operatorNamespace = await testNamespace(admin, 'olm-op');
    const watched = await testNamespace(admin, 'olm-watched');
    const co = { apiVersion: 'config.openshift.io/v1', kind: 'ClusterOperator', metadata: { name: `storage-${id}`, annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: `quay.io/test/co-${id}:v1` } }, spec: {} };
    const csv = (namespace: string, image: string, labels?: Record<string, string>) => ({
      apiVersion: 'operators.coreos.com/v1alpha1', kind: 'ClusterServiceVersion',
      metadata: { namespace, name: `op-${id}.v1`, annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: image }, ...(labels ? { labels } : {}) }, spec: { displayName: 'Op' },
    });
    await admin.create(co as KubeObject);
    onTestFinished(() => admin.delete({ kind: 'ClusterOperator', name: co.metadata.name }).then(() => undefined));
    await admin.create(csv(operatorNamespace, `quay.io/test/csv-${id}:v1`) as KubeObject);
    await admin.create(csv(watched, `quay.io/test/copied-${id}:v1`, { [COPIED_CSV_LABEL]: operatorNamespace }) as KubeObject);
    // A copy marked by its status alone (no label) is a copy too.
    const other = await testNamespace(admin, 'olm-other');
    await admin.create(csv(other, `quay.io/test/copied-status-${id}:v1`) as KubeObject);
    await admin.patch({ kind: 'ClusterServiceVersion', namespace: other, name: `op-${id}.v1` }, { status: { reason: 'Copied', phase: 'Succeeded' } }, { subresource: 'status' });

    const { key } = await newReport({ allImages: true });
    const report = await converge(reconciler(), key, (x) => !!x?.status?.images, 'images');
    const ours = report.status!.images!.filter((i) => i === FLAG_DEFAULT || i.includes(id));
    expect(ours).toEqual([FLAG_DEFAULT, `quay.io/test/co-${id}:v1`, `quay.io/test/csv-${id}:v1`]);
    expect(report.status!.images![0]).toBe(FLAG_DEFAULT);
  });

  it('--allowed-registries: an image outside them ends the report ImageNotAllowed, naming it, before anything is created', async () => {
    const r = reconciler({ allowedRegistries: ['localhost/mustgather', 'quay.io/openshift'] });
    const { key, created } = await newReport({ images: ['quay.io/openshift/must-gather:4.20', 'evil.example.com/x/must-gather:v1'] });
    const report = await converge(r, key, (x) => ready(x)?.reason === 'ImageNotAllowed', 'ImageNotAllowed');
    expect(ready(report)?.message).toContain('Image evil.example.com/x/must-gather:v1 is not from an allowed registry');
    expect(report.status?.images).toBeUndefined();
    expect(await admin.get({ kind: 'Namespace', name: reportObjectNames(created.metadata).namespace })).toBeUndefined();
    const fine = await newReport({ images: ['quay.io/openshift/must-gather:4.20'] });
    expect((await converge(r, fine.key, (x) => !!x?.status?.images, 'images')).status?.images).toEqual(['quay.io/openshift/must-gather:4.20']);
  });
});
