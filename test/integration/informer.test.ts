/**
 * The informer against a real kube-apiserver, on Secrets in a namespace per test (the informer is generic; Secrets
 * are a namespaced kind the operator's resource table already has).
 */
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Informer, type InformerEvent, type InformerOptions } from '../../reconciler/informer.js';
import { isGone, KubeClient, type KubeObject, type ListOptions, type WatchEvent, type WatchOptions } from '../../reconciler/kube-client.js';
import { RESOURCES, type ResourceType } from '../../reconciler/resources.js';
import { adminClient, eventually, kubeConfigFrom, testNamespace } from './helpers.js';

/**
 * The real client, counting lists, and able to hold its next watch back (a network partition, as far as the
 * informer can tell) and then send it with resourceVersion 1: a version the API server no longer has (its watch
 * cache starts at the revision it started at), so the server itself answers 410 Gone.
 */
class TestClient extends KubeClient {
  lists = 0;
  private held: { reached: () => void; release: Promise<void> } | undefined;

  override list<T = KubeObject>(type: ResourceType, options?: ListOptions) {
    this.lists++;
    return super.list<T>(type, options);
  }

  /** Holds the next watch; resolves once the informer is waiting on it, with the function that lets it go stale. */
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
    return super.watch(type, { ...options, resourceVersion: '1' }, onEvent);
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

/** A started informer over Secrets of `namespace`, recording its events and errors. */
function startInformer(client: KubeClient, namespace: string, options: InformerOptions = {}, type: ResourceType = RESOURCES.Secret) {
  const events: string[] = [];
  const errors: Error[] = [];
  const informer = new Informer(client, type, { namespace, watchTimeoutSeconds: 2, initialBackoffMs: 50, maxBackoffMs: 500, onError: (e) => errors.push(e), ...options });
  informer.addHandlers({ onEvent: (event) => events.push(describeEvent(event)) });
  informer.start();
  running.push(informer);
  return { informer, events, errors };
}

function describeEvent(event: InformerEvent<KubeObject>): string {
  const data = (object: KubeObject) => JSON.stringify((object as { data?: Record<string, string> }).data ?? {});
  return event.type === 'update' ? `update ${event.object.metadata.name} ${data(event.oldObject)} -> ${data(event.object)}` : `${event.type} ${event.object.metadata.name}`;
}

const secret = (namespace: string, name: string, value: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, data: { v: Buffer.from(value).toString('base64') },
});
const setValue = (namespace: string, name: string, value: string) =>
  admin.patch({ kind: 'Secret', namespace, name }, { data: { v: Buffer.from(value).toString('base64') } });
const b64 = (value: string) => Buffer.from(value).toString('base64');

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
    await waitFor(events, ['add c', `update a {"v":"${b64('1')}"} -> {"v":"${b64('2')}"}`, 'delete b'], 'the watched changes');
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect((informer.get(ns, 'a') as { data?: { v: string } }).data?.v).toBe(b64('2'));
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
    expect(events).toEqual(['add a', `update a {"v":"${b64('1')}"} -> {"v":"${b64('2')}"}`, 'add b']);
    expect(client.lists).toBe(1);
    expect(errors).toEqual([]);
    client.close();
  });

  it('re-lists after 410 Gone, emitting deletes for vanished objects and updates for changed ones', async () => {
    const ns = await testNamespace(admin, 'inf');
    const client = new TestClient(kubeConfigFrom(inject('kubeconfig')));
    // The premise: this server really answers 410 to a watch from resourceVersion 1.
    await expect(client.watch(RESOURCES.Secret, { namespace: ns, resourceVersion: '1', timeoutSeconds: 1 }, () => {})).rejects.toSatisfy(isGone);

    for (const name of ['gone', 'changed', 'same']) await admin.create(secret(ns, name, '1'));
    const { informer, events, errors } = startInformer(client, ns, { watchTimeoutSeconds: 1 });
    await informer.waitForSync();
    const release = await client.holdNextWatch(); // reached when the current watch times out
    await admin.delete({ kind: 'Secret', namespace: ns, name: 'gone' });
    await setValue(ns, 'changed', '2');
    await admin.create(secret(ns, 'new', '1'));
    release();
    await waitFor(events, ['delete gone', `update changed {"v":"${b64('1')}"} -> {"v":"${b64('2')}"}`, 'add new'], 'the re-list');
    expect(events.filter((e) => e.endsWith(' same'))).toEqual(['add same']);
    expect(client.lists).toBe(2);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['changed', 'new', 'same']);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('resourceVersion too old; re-listing')]);
    expect(isGone(errors[0]!.cause)).toBe(true);
    // And it keeps watching from the new list.
    await admin.create(secret(ns, 'after', '1'));
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
    const waiting = failing.waitForSync();

    const ns = await testNamespace(admin, 'inf');
    const { informer: watching } = startInformer(admin, ns, { watchTimeoutSeconds: 300 });
    await watching.waitForSync();

    const started = performance.now();
    await Promise.all([failing.stop(), watching.stop()]);
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(waiting).rejects.toThrow('stopped before the first list');
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
