/**
 * The informer against a real kube-apiserver, on Secrets in a namespace per test (the informer is generic; Secrets
 * are a namespaced kind the operator's resource table already has), and on Events for the 410 Gone case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { stripUnread } from '../../reconciler/cache.js';
import { Informer, type InformerEvent, type InformerOptions } from '../../kube/informer.js';
import { isGone, KubeClient, type KubeObject, type ListOptions, type WatchEvent, type WatchOptions } from '../../kube/client.js';
import { RESOURCES, type ResourceType } from '../../kube/resources.js';
import { adminClient, eventually, kubeConfigFrom, LOCAL_CLUSTER, localOnly, testNamespace } from './helpers.js';

/** The real client, counting lists, and able to hold its next watch back (a partition, as far as the informer knows). */
class TestClient extends KubeClient {
  lists = 0;
  private held: { reached: () => void; release: Promise<void> } | undefined;

  override list<T = KubeObject>(type: ResourceType, options?: ListOptions) {
    this.lists++;
    return super.list<T>(type, options);
  }

  /** Holds the next watch; resolves once the informer is waiting on it, with the function that lets it go. */
  holdNextWatch(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    return new Promise((resolve) => (this.held = { reached: () => resolve(release), release: released }));
  }

  override async watch(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    const held = this.held;
    if (!held) return super.watch(type, options, onEvent);
    this.held = undefined;
    held.reached();
    await held.release;
    return super.watch(type, options, onEvent);
  }
}

let admin: KubeClient;
beforeAll(() => {
  admin = adminClient();
});

const running: Informer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((informer) => informer.stop()));
});

/** A started informer over `type` (Secrets unless told) in `namespace`, recording its events and errors. */
function startInformer(client: KubeClient, namespace: string, options: InformerOptions = {}, type: ResourceType = RESOURCES.Secret) {
  const events: string[] = [];
  const errors: Error[] = [];
  const informer = new Informer(client, type, { namespace, watchTimeoutSeconds: 2, initialBackoffMs: 50, maxBackoffMs: 500, onError: (e) => errors.push(e), ...options });
  informer.addHandlers({ onEvent: (event) => events.push(describeEvent(event)) });
  informer.start();
  running.push(informer);
  return { informer, events, errors };
}

/** `add a`, `update a 1 -> 2`, `delete a`; the value is a Secret's `v` or an Event's message. */
function describeEvent(event: InformerEvent<KubeObject>): string {
  const value = (object: KubeObject) => {
    const { data, message } = object as { data?: { v?: string }; message?: string };
    return data?.v !== undefined ? Buffer.from(data.v, 'base64').toString() : message;
  };
  return event.type === 'update' ? `update ${event.object.metadata.name} ${value(event.oldObject)} -> ${value(event.object)}` : `${event.type} ${event.object.metadata.name}`;
}

const secret = (namespace: string, name: string, value: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, data: { v: Buffer.from(value).toString('base64') },
});
const setValue = (namespace: string, name: string, value: string) =>
  admin.patch({ kind: 'Secret', namespace, name }, { data: { v: Buffer.from(value).toString('base64') } });
const event = (namespace: string, name: string, message: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Event', metadata: { name, namespace }, involvedObject: { kind: 'Pod', name: 'p', namespace }, reason: 'Test', message, type: 'Normal',
});

/**
 * The etcd of the test control plane, read from its kube-apiserver's command line (the harness does not provide it).
 * Compacting etcd is how old resourceVersions really become 410 Gone: the API server compacts every 5 minutes.
 */
function etcdUrl(controlPlaneDir: string): string {
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    const servers = args.find((arg) => arg.startsWith('--etcd-servers='));
    if (servers && args.some((arg) => arg.includes(controlPlaneDir))) return servers.slice('--etcd-servers='.length).split(',')[0]!;
  }
  throw new Error(`no kube-apiserver of the control plane in ${controlPlaneDir}`);
}

/** Discards etcd's history before `revision` (the API server's own periodic compaction, now). */
async function compactEtcd(revision: string): Promise<void> {
  const response = await fetch(`${etcdUrl(inject('controlPlaneDir'))}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
  if (!response.ok) throw new Error(`etcd compaction at ${revision}: HTTP ${response.status} ${await response.text()}`);
}

async function waitFor(events: string[], expected: string[], what: string): Promise<void> {
  await eventually(async () => expected.every((e) => events.includes(e)), `${what}: ${expected.join(', ')} (saw ${events.join(', ')})`, 15_000, 50);
}

describe('Informer', () => {
  it('lists what exists, then follows adds, updates and deletes', async () => {
    const ns = await testNamespace(admin, 'inf');
    await admin.create(secret(ns, 'a', '1'));
    await admin.create(secret(ns, 'b', '1'));
    const { informer, events, errors } = startInformer(admin, ns);
    expect(informer.hasSynced()).toBe(false);
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'b']);
    expect(events.sort()).toEqual(['add a', 'add b']);

    await admin.create(secret(ns, 'c', '1'));
    await setValue(ns, 'a', '2');
    await admin.delete({ kind: 'Secret', namespace: ns, name: 'b' });
    await waitFor(events, ['add c', 'update a 1 -> 2', 'delete b'], 'the watched changes');
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect((informer.get(ns, 'a') as { data?: { v: string } }).data?.v).toBe(Buffer.from('2').toString('base64'));
    expect(informer.get(ns, 'b')).toBeUndefined();
    expect(informer.get(ns, 'a')?.kind).toBe('Secret');

    // Handlers added late see the cache as adds.
    const late: string[] = [];
    informer.addHandlers({ onAdd: (o) => late.push(o.metadata.name) });
    expect(late.sort()).toEqual(['a', 'c']);
    expect(errors).toEqual([]);
  });

  it('sees only objects matching its label selector, and an object leaving the selection as a delete', async () => {
    const ns = await testNamespace(admin, 'inf');
    await admin.create(secret(ns, 'in', '1', { app: 'x' }));
    await admin.create(secret(ns, 'out', '1', { app: 'y' }));
    const { informer, events } = startInformer(admin, ns, { labelSelector: 'app=x' });
    await informer.waitForSync();
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['in']);

    await admin.patch({ kind: 'Secret', namespace: ns, name: 'out' }, { metadata: { labels: { app: 'x' } } });
    await admin.patch({ kind: 'Secret', namespace: ns, name: 'in' }, { metadata: { labels: { app: 'y' } } });
    await admin.create(secret(ns, 'other', '1'));
    await waitFor(events, ['add out', 'delete in'], 'the selection changes');
    await setValue(ns, 'other', '2');
    await admin.create(secret(ns, 'marker', '1', { app: 'x' }));
    await waitFor(events, ['add marker'], 'the marker');
    expect(events).toEqual(['add in', 'add out', 'delete in', 'add marker']);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['marker', 'out']);
  });

  it.each([false, true])('caches what its transform keeps (compact: %s), selects by field, and indexes by a label as objects come, change and go', async (compact) => {
    const ns = await testNamespace(admin, 'inf');
    // kubectl apply's copy of the object, and the managedFields every write leaves: what the operator's cache drops.
    const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
    await admin.create({ ...secret(ns, 'a', '1', { owner: 'one' }), metadata: { name: 'a', namespace: ns, labels: { owner: 'one' }, annotations: { [lastApplied]: '{}', keep: 'me' } } });
    await admin.create(secret(ns, 'b', '1', { owner: 'one' }));
    await admin.create(secret(ns, 'c', '1', { owner: 'two' }));
    expect((await admin.get({ kind: 'Secret', namespace: ns, name: 'a' }))?.metadata.managedFields).toBeDefined();
    const { informer, events } = startInformer(admin, ns, { transform: stripUnread, indexBy: (object) => object.metadata.labels?.owner, compact });
    await informer.waitForSync();
    const a = informer.get(ns, 'a')!;
    expect(a.metadata.managedFields).toBeUndefined();
    expect(a.metadata.annotations).toEqual({ keep: 'me' });
    const owned = (owner: string) => informer.byIndex(owner).map((o) => o.metadata.name).sort();
    expect([owned('one'), owned('two')]).toEqual([['a', 'b'], ['c']]);

    await admin.patch({ kind: 'Secret', namespace: ns, name: 'b' }, { metadata: { labels: { owner: 'two' } } });
    await admin.delete({ kind: 'Secret', namespace: ns, name: 'c' });
    await setValue(ns, 'a', '2');
    await waitFor(events, ['update b 1 -> 1', 'delete c', 'update a 1 -> 2'], 'the changes');
    expect([owned('one'), owned('two'), owned('three')]).toEqual([['a'], ['b'], []]);
    expect(['one', 'two', 'three'].map((owner) => informer.hasIndex(owner))).toEqual([true, true, false]);
    expect(informer.get(ns, 'a')?.metadata.managedFields).toBeUndefined();
    // A compact cache hands out copies: what a reader does to one never reaches the cache.
    informer.get(ns, 'a')!.metadata.labels!.owner = 'scribbled';
    expect(informer.get(ns, 'a')!.metadata.labels!.owner).toBe(compact ? 'one' : 'scribbled');

    const { informer: one } = startInformer(admin, ns, { fieldSelector: 'metadata.name=b' });
    await one.waitForSync();
    expect(one.list().map((o) => o.metadata.name)).toEqual(['b']);
  });

  it('lists in pages, one consistent snapshot, whose resourceVersion a watch resumes from', async () => {
    const ns = await testNamespace(admin, 'inf');
    for (let i = 0; i < 5; i++) await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s${i}`, namespace: ns }, stringData: { i: String(i) } });
    const pages: number[] = [];
    const counting = new (class extends KubeClient {
      override request<T>(method: string, path: string, options: Parameters<KubeClient['request']>[2] = {}): Promise<T> {
        if (options.query?.limit !== undefined) pages.push(Number(options.query.limit));
        return super.request<T>(method, path, options);
      }
    })(kubeConfigFrom(inject('kubeconfig')));
    const { items, resourceVersion } = await counting.list(RESOURCES.Secret, { namespace: ns, pageSize: 2, each: (item) => item.metadata.name });
    expect(items.sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(pages).toEqual([2, 2, 2]);
    await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'after', namespace: ns } });
    const seen: string[] = [];
    const abort = new AbortController();
    await counting.watch(RESOURCES.Secret, { namespace: ns, resourceVersion, timeoutSeconds: 2, signal: abort.signal }, (event) => {
      seen.push(`${event.type} ${event.object.metadata.name}`);
      abort.abort();
    });
    expect(seen).toEqual(['ADDED after']);
    counting.close();
  });

  it('resumes from the last resourceVersion when the server ends the watch, without re-listing or replaying', async () => {
    const ns = await testNamespace(admin, 'inf');
    const client = new TestClient(kubeConfigFrom(inject('kubeconfig')));
    await admin.create(secret(ns, 'a', '1'));
    const { informer, events, errors } = startInformer(client, ns, { watchTimeoutSeconds: 1 });
    await informer.waitForSync();
    const watchesSeen: string[] = [];
    client.observe((method, path) => method === 'GET' && path.endsWith('/secrets') && watchesSeen.push(path));
    await new Promise((resolve) => setTimeout(resolve, 3500)); // three server-side watch timeouts at least
    expect(watchesSeen.length).toBeGreaterThanOrEqual(3);
    await setValue(ns, 'a', '2');
    await admin.create(secret(ns, 'b', '1'));
    await waitFor(events, ['add b'], 'changes after the resumes');
    expect(events).toEqual(['add a', 'update a 1 -> 2', 'add b']);
    expect(client.lists).toBe(1);
    expect(errors).toEqual([]);
    client.close();
  });

  // Events, because the API server serves them from etcd (no watch cache): once etcd compacted a revision, a watch
  // from it gets 410 Gone, as a watch that resumes after a long partition does.
  it.runIf(LOCAL_CLUSTER)(localOnly('re-lists after 410 Gone, emitting deletes for vanished objects and updates for changed ones', 'its etcd, to compact'), async () => {
    const ns = await testNamespace(admin, 'inf');
    const client = new TestClient(kubeConfigFrom(inject('kubeconfig')));
    for (const name of ['gone', 'changed', 'same']) await admin.create(event(ns, name, '1'));
    const { informer, events, errors } = startInformer(client, ns, { watchTimeoutSeconds: 1 }, RESOURCES.Event);
    await informer.waitForSync();
    const release = await client.holdNextWatch(); // reached when the current watch times out
    await admin.delete({ kind: 'Event', namespace: ns, name: 'gone' });
    await admin.patch({ kind: 'Event', namespace: ns, name: 'changed' }, { message: '2' });
    await admin.create(event(ns, 'new', '1'));
    await compactEtcd((await admin.list(RESOURCES.Event, { namespace: ns })).resourceVersion);
    release(); // resumes from the last resourceVersion it saw, now compacted away
    await waitFor(events, ['delete gone', 'update changed 1 -> 2', 'add new'], 'the re-list');
    expect(events.filter((e) => e.endsWith(' same'))).toEqual(['add same']);
    expect(client.lists).toBe(2);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['changed', 'new', 'same']);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('resourceVersion too old; re-listing')]);
    expect(isGone(errors[0]!.cause)).toBe(true);
    // And it goes on watching from the new list.
    await admin.create(event(ns, 'after', '1'));
    await waitFor(events, ['add after'], 'a change after the re-list');
    client.close();
  });

  it('restarts a watch that went silent, by its stall watchdog', async () => {
    const ns = await testNamespace(admin, 'inf');
    const { informer, events, errors } = startInformer(admin, ns, { watchTimeoutSeconds: 60, stallTimeoutMs: 400 });
    await informer.waitForSync();
    await eventually(async () => errors.length >= 2, 'two stall reports', 10_000, 50);
    expect(errors[0]!.message).toMatch(/^informer secrets in inf-\w+: watch silent for 400 ms \(no event, no bookmark\); retrying in \d+ ms$/);
    await admin.create(secret(ns, 'a', '1'));
    await waitFor(events, ['add a'], 'an add after the restarts');
  });

  it('reports failures and retries with backoff; stop() ends it all, leaving no timers', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const missing: ResourceType = { kind: 'Nothing', group: 'example.com', version: 'v1', plural: 'nothings', namespaced: true };
    const { informer: failing, errors } = startInformer(admin, 'default', { initialBackoffMs: 20, maxBackoffMs: 60_000 }, missing);
    await eventually(async () => errors.length >= 3, 'three failed lists', 10_000, 20);
    expect(errors[0]!.message).toMatch(/^informer nothings in default: list nothings in default: .*; retrying in \d+ ms$/);
    expect(failing.hasSynced()).toBe(false);
    const neverSynced = expect(failing.waitForSync()).rejects.toThrow('stopped before the first list');

    const ns = await testNamespace(admin, 'inf');
    const { informer: watching } = startInformer(admin, ns, { watchTimeoutSeconds: 300 });
    await watching.waitForSync();

    const started = performance.now();
    await Promise.all([failing.stop(), watching.stop()]);
    expect(performance.now() - started).toBeLessThan(1000);
    await neverSynced;
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
