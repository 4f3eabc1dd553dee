/**
 * Reconciling from the watch caches, on a real kube-apiserver: a cache that lags the operator's own writes (its watch
 * events held back, as a slow or reconnecting watch would) must cost no duplicate create and no second write; and the
 * requests a report costs until its pod exists, counted on the operator's client.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MustGatherReport } from '../../constructs/report-api.js';
import { LABELS, MANAGED_BY, reportObjectNames } from '../../constructs/report-identity.js';
import { ReportCache } from '../../reconciler/cache.js';
import { Controller } from '../../reconciler/controller.js';
import type { KubeClient, KubeObject, WatchEvent } from '../../kube/client.js';
import { FINALIZER, Reconciler, reportKey } from '../../reconciler/reconcile.js';
import { adminClient, createReport, eventually, LOCAL_CLUSTER, localOnly, operatorClient, ownedObjects, testNamespace } from './helpers.js';

const IMAGES = ['quay.io/kubevirt/must-gather:v1.5'];

/**
 * The client, with its watch events held back while `hold()` is in force and delivered in order on `release()`: the
 * caches built on it lag every write, the operator's own included.
 */
function heldWatches(client: KubeClient) {
  let held: (() => void)[] | undefined;
  const lagging = Object.create(client) as KubeClient;
  lagging.watch = (type, options, onEvent) => client.watch(type, options, (event: WatchEvent) => {
    if (held) held.push(() => onEvent(event));
    else onEvent(event);
  });
  return {
    client: lagging,
    hold: () => void (held ??= []),
    release: () => {
      const events = held ?? [];
      held = undefined;
      for (const deliver of events) deliver();
    },
  };
}

/** Write requests (anything but GET) the client makes from now on, as `METHOD path`. */
function countWrites(client: KubeClient): string[] {
  const writes: string[] = [];
  client.observe((method, path) => {
    if (method !== 'GET') writes.push(`${method} ${path}`);
  });
  return writes;
}

let admin: KubeClient;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(() => {
  admin = adminClient();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A reconciler on a test namespace whose cache lags while `watches.hold()` is in force, with the operator's own
 * client (a least-privilege user, its writes the ones counted).
 */
async function laggingReconciler() {
  const namespace = await testNamespace(admin);
  const operator = await operatorClient(admin);
  const watches = heldWatches(operator);
  const cache = new ReportCache({ client: watches.client, namespaces: [namespace] });
  cache.start();
  cleanups.push(() => cache.stop());
  await cache.waitForSync();
  const reconciler = new Reconciler({ client: operator, cache, pollAfterMs: 50 });
  return { namespace, watches, cache, reconciler, writes: countWrites(operator) };
}

describe.runIf(LOCAL_CLUSTER)(localOnly('reconcile from the watch caches', 'its CA, for the operator\'s least-privilege user'), () => {
  it('a cache that lags the operator\'s own writes costs no second write and no duplicate pod', async () => {
    const { namespace, watches, cache, reconciler, writes } = await laggingReconciler();

    const created = await createReport(admin, namespace, 'lagging', { images: IMAGES, deleteAfter: '30m' });
    const key = reportKey(created);
    const names = reportObjectNames(created.metadata);
    const reportRef = { kind: 'MustGatherReport', namespace, name: 'lagging' };
    await eventually(async () => cache.get(reportRef) !== undefined, 'the cache to see the report');

    // Every event after this point waits: the first reconcile writes everything, the pod included (it requests the
    // gather token itself); the next ones must see that the cache lags.
    watches.hold();
    await reconciler.reconcile(key);
    const firstPass = [...writes];
    const podCreates = () => writes.filter((w) => w === `POST /api/v1/namespaces/${names.namespace}/pods`);
    expect(podCreates()).toHaveLength(1);
    expect(writes).toContain(`POST /api/v1/namespaces/${names.namespace}/serviceaccounts/${names.gatherServiceAccount}/token`);
    expect(cache.stale(key)).toEqual(expect.arrayContaining([`MustGatherReport/${namespace}/lagging`, `Namespace/${names.namespace}`, `Pod/${names.namespace}/must-gather`]));
    // The cache shows neither the pod nor the token: without knowing its own writes, the reconciler would POST the pod
    // again (409) and request another token.
    expect(cache.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' })).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(await reconciler.reconcile(key)).toEqual({ requeueAfter: 50 });
    expect(writes).toEqual(firstPass);
    // What the cache still shows: a report without the finalizer the operator already added.
    expect(cache.get<MustGatherReport>(reportRef)?.metadata.finalizers ?? []).not.toContain(FINALIZER);

    watches.release();
    await eventually(async () => cache.stale(key).length === 0, 'the cache to show every write');
    for (let i = 0; i < 3; i++) await reconciler.reconcile(key);
    expect(podCreates()).toHaveLength(1);
    expect(writes.filter((w) => w.endsWith('/token'))).toHaveLength(1);
    // Nothing the operator wrote was written twice, but the status (Pending, then Created once the pod exists).
    const writesOf = (path: string) => writes.filter((w) => w.endsWith(path)).length;
    expect(writesOf(`/namespaces/${names.namespace}`)).toBe(1);
    expect(writesOf(`/mustgatherreports/lagging`)).toBe(1);
  });

  it('a report deleted before its finalizer is in place gets nothing outside its namespace, no pod, and leaves nothing behind', async () => {
    // What goes in a report's namespace is applied while the finalizer's write is in flight; the cluster-scoped
    // bindings and the pod wait for it. Here the report is gone when the finalizer's write arrives (the cache, held
    // back, still shows it), so the reconcile must make nothing that the namespace's deletion would not take, and
    // delete what it made.
    const { namespace, watches, cache, reconciler, writes } = await laggingReconciler();

    const created = await createReport(admin, namespace, 'gone-early', { images: IMAGES, deleteAfter: '30m' });
    const key = reportKey(created);
    const names = reportObjectNames(created.metadata);
    await eventually(async () => cache.get({ kind: 'MustGatherReport', namespace, name: 'gone-early' }) !== undefined, 'the cache to see the report');
    watches.hold();
    await admin.delete({ kind: 'MustGatherReport', namespace, name: 'gone-early' }); // no finalizer yet: gone at once
    await reconciler.reconcile(key);

    // The namespace and the chain in it were made (the finalizer's write did not hold them up) ...
    expect(writes).toContain(`PATCH /api/v1/namespaces/${names.namespace}`);
    expect(writes).toContain(`POST /api/v1/namespaces/${names.namespace}/serviceaccounts/${names.gatherServiceAccount}/token`);
    // ... nothing outside it, and no pod, ...
    expect(writes.filter((w) => w.includes('clusterrolebindings') || w.includes('/rolebindings/') || w.endsWith('/pods') || w.includes('/pods/'))).toEqual([]);
    // ... and what was made is deleted again: the namespace goes, taking the rest.
    expect(writes).toContain(`DELETE /api/v1/namespaces/${names.namespace}`);
    watches.release();
    await eventually(async () => (await ownedObjects(admin, created.metadata.uid!)).length === 0, 'nothing of the report to remain', 60_000, 500);
  });

  it('a report costs few requests until its pod exists, and reads nothing the caches hold', async () => {
    const namespace = await testNamespace(admin);
    const operator = await operatorClient(admin);
    const controller = new Controller({ client: operator, namespaces: [namespace], watchTimeoutSeconds: 30 });
    await controller.start();
    cleanups.push(() => controller.stop());
    const requests: string[] = [];
    operator.observe((method, path) => requests.push(`${method} ${path}`));
    // The controller's own start (its lists, and its watches, whose answers come in as they begin to stream) is not the
    // report's: count from the first quiet moment.
    await eventually(async () => {
      const seen = requests.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return requests.length === seen;
    }, 'the controller\'s watches to be open');
    requests.length = 0;

    const started = performance.now();
    const created = await createReport(admin, namespace, 'counted', { images: IMAGES, deleteAfter: '30m' });
    const names = reportObjectNames(created.metadata);
    const pod = await eventually(() => admin.get<KubeObject>({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }), 'the pod', 30_000, 10);
    const elapsedMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 300)); // what the pod's creation itself still costs (its event)
    const byMethod = requests.reduce<Record<string, number>>((counts, r) => ({ ...counts, [r.split(' ')[0]!]: (counts[r.split(' ')[0]!] ?? 0) + 1 }), {});
    console.log(`requests for one report until its pod exists: ${requests.length} ${JSON.stringify(byMethod)}; creation -> pod ${elapsedMs.toFixed(0)} ms`);
    expect(pod.metadata.name).toBe('must-gather');
    // No GET or LIST of what the caches hold: only what a starting report reads once (image resolution and the cluster
    // facts of its summary, shared between reports created together), none of it about the report or what it owns.
    const startReads = new Set(['GET /apis/config.openshift.io/v1', 'GET /version', 'GET /api/v1/namespaces/kube-system', 'GET /api/v1/nodes', 'GET /apis/config.openshift.io/v1/clusteroperators']);
    expect(requests.filter((r) => r.startsWith('GET') && !startReads.has(r))).toEqual([]);
    // 24: the finalizer, 13 applies, the token request, the pod, its status, two events, and the 5 start reads above
    // (shared by the reports of the next 10 s: a fleet pays them once; 23 measured here, one of them shared).
    expect(requests.length).toBeLessThanOrEqual(24);
  });

  it('an object the operator created that someone else deleted leaves no expectation behind, whichever came first', async () => {
    // Someone else deletes what the operator just created; here kube-controller-manager's token controller, which
    // deletes a legacy token Secret whose service account does not exist. The cache goes absent -> present -> absent,
    // the state the create was decided on. That state must not read as "the create not shown yet": no event would
    // ever follow, and the report would wait for the expectation timeout (5 minutes).
    const namespace = await testNamespace(admin);
    // The watch events the cache got, as `TYPE name`.
    const delivered: string[] = [];
    const watching = Object.create(admin) as KubeClient;
    watching.watch = (type, options, onEvent) => admin.watch(type, options, (event: WatchEvent) => {
      onEvent(event);
      if (event.type !== 'BOOKMARK') delivered.push(`${event.type} ${event.object.metadata.name}`);
    });
    const cache = new ReportCache({ client: watching, namespaces: [namespace] });
    cache.start();
    cleanups.push(() => cache.stop());
    await cache.waitForSync();
    const tokenSecret = (name: string) => ({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token',
      metadata: { name, namespace, labels: { [LABELS.managedBy]: MANAGED_BY }, annotations: { 'kubernetes.io/service-account.name': `no-such-account-${name}` } },
    }) as KubeObject;
    const key = `${namespace}/report`;
    const ref = (name: string) => ({ kind: 'Secret', namespace, name });

    // The create's answer first, then its events (ADDED, then the token controller's DELETED).
    const first = await admin.create(tokenSecret('first'));
    cache.wrote(key, ref('first'), undefined, first);
    await eventually(async () => delivered.includes('DELETED first'), 'the cache to see the token controller delete the Secret');
    expect(cache.get(ref('first'))).toBeUndefined();
    expect(cache.stale(key)).toEqual([]);

    // The events first (both), then the create's answer: the cache is back to absent before the write is recorded.
    const second = await admin.create(tokenSecret('second'));
    await eventually(async () => delivered.includes('DELETED second'), 'the cache to see the token controller delete the Secret');
    expect(cache.get(ref('second'))).toBeUndefined();
    cache.wrote(key, ref('second'), undefined, second);
    expect(cache.stale(key)).toEqual([]);
  });
});
