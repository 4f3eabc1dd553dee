/**
 * The apply decisions without a cluster: the subset check that makes an unchanged object cost no write, and what
 * `applyObject` sends (apply, create or nothing) for each live state. The writes go to a recorder standing in for the
 * client; the requests themselves are exercised against the real API server in test/integration/.
 */
import { describe, expect, it, vi } from 'vitest';
import { applyObject, applyStage, applyStaged, firstDifference, isSubset } from './apply.js';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import type { ObjectRef } from '../kube/resources.js';

/** Records writes; answers like the server would, with a new resourceVersion, or with `fail`'s error. */
function recorder(fail?: KubeApiError) {
  const writes: string[] = [];
  const answer = (verb: string) => async (object: KubeObject) => {
    writes.push(`${verb} ${object.kind}/${object.metadata.name}`);
    if (fail) throw fail;
    return { ...object, metadata: { ...object.metadata, resourceVersion: '2' } };
  };
  return { writes, client: { apply: answer('apply'), create: answer('create') } as unknown as KubeClient };
}

const service = (ports: unknown[], extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'must-gather', namespace: 'ns', labels: { app: 'mg' } }, spec: { ports, ...extra },
});
const port = { name: 'https', port: 8443, targetPort: 8443, protocol: 'TCP' };

describe('isSubset', () => {
  it('holds when live has every desired field, whatever else the server added', () => {
    const live = { ...service([{ ...port }], { clusterIP: '10.0.0.7', type: 'ClusterIP' }), metadata: { name: 'must-gather', namespace: 'ns', uid: 'u', resourceVersion: '5', labels: { app: 'mg', extra: 'theirs' } } };
    expect(isSubset(service([port]), live)).toBe(true);
  });

  it('fails on a changed scalar, a missing field or a removed label', () => {
    expect(isSubset(service([port]), service([{ ...port, port: 9443 }]))).toBe(false);
    expect(isSubset(service([port], { selector: { app: 'mg' } }), service([port]))).toBe(false);
    expect(isSubset(service([port]), { ...service([port]), metadata: { name: 'must-gather', namespace: 'ns' } })).toBe(false);
  });

  it('names the first field that differs (firstDifference), for a kept object\'s event', () => {
    expect(firstDifference(service([port]), service([{ ...port, port: 9443 }]))).toBe('spec.ports[0].port');
    expect(firstDifference(service([port]), service([port, port]))).toBe('spec.ports');
    expect(firstDifference(service([port]), { ...service([port]), metadata: { name: 'must-gather', namespace: 'ns' } })).toBe('metadata.labels');
    expect(firstDifference(service([port]), service([port]))).toBeUndefined();
    expect(firstDifference(1, 2)).toBe('');
  });

  it('takes lists whole: same length, element by element in order', () => {
    const other = { ...port, name: 'metrics', port: 9090, targetPort: 9090 };
    expect(isSubset(service([port]), service([port, other]))).toBe(false);
    expect(isSubset(service([port, other]), service([other, port]))).toBe(false);
    expect(isSubset(service([{ name: 'https' }]), service([port]))).toBe(true);
  });

  it('tells types apart: an object is not a list, null is not an object, "1" is not 1', () => {
    expect(isSubset({ a: {} }, { a: [] })).toBe(false);
    expect(isSubset({ a: {} }, { a: null })).toBe(false);
    expect(isSubset({ a: 1 }, { a: '1' })).toBe(false);
    expect(isSubset({ a: null }, { a: null })).toBe(true);
    expect(isSubset({ a: [] }, {})).toBe(false);
  });
});

describe('applyObject', () => {
  const options = { fieldManager: 'test' };

  it('writes nothing for an object whose live state holds every desired field', async () => {
    const { client, writes } = recorder();
    const live = { ...service([port], { clusterIP: '10.0.0.7' }) };
    expect(await applyObject(client, service([port]), live, options)).toMatchObject({ action: 'unchanged', subject: 'Service/ns/must-gather', live });
    expect(writes).toEqual([]);
  });

  it('applies what is missing or drifted, and says which', async () => {
    const { client, writes } = recorder();
    expect((await applyObject(client, service([port]), undefined, options)).action).toBe('created');
    expect((await applyObject(client, service([port]), service([{ ...port, port: 1 }]), options)).action).toBe('configured');
    expect(writes).toEqual(['apply Service/must-gather', 'apply Service/must-gather']);
  });

  it('compares a Secret\'s stringData as the base64 data the server stores', async () => {
    const { client, writes } = recorder();
    const desired = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' }, stringData: { key: 'value' } } as KubeObject;
    const live = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' }, data: { key: Buffer.from('value').toString('base64') } } as KubeObject;
    expect((await applyObject(client, desired, live, options)).action).toBe('unchanged');
    expect((await applyObject(client, desired, { ...live, data: { key: 'b3RoZXI=' } }, options)).action).toBe('configured');
    expect(writes).toEqual(['apply Secret/s']);
  });

  it('creates a Pod once and keeps a differing one as it is', async () => {
    const { client, writes } = recorder();
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'a:1' }] } } as KubeObject;
    expect((await applyObject(client, pod, undefined, options)).action).toBe('created');
    const older = { ...pod, spec: { containers: [{ name: 'c', image: 'a:0' }] } };
    expect((await applyObject(client, pod, older, options)).action).toBe('kept');
    expect(writes).toEqual(['create Pod/p']);
  });

  it('names the object and passes on the server\'s words when a write is refused', async () => {
    const refusal = new KubeApiError('Service/ns/must-gather', 500, 'InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full');
    const { client } = recorder(refusal);
    const error = await applyObject(client, service([port]), undefined, options).catch((err: Error) => err);
    expect((error as Error).message).toBe('Service/ns/must-gather: apply failed: Internal error occurred: failed to allocate a serviceIP: range is full');
    expect((error as Error).cause).toBe(refusal);
  });
});

describe('applyStage', () => {
  it('looks live state up where it is told to, and reports every write that succeeded', async () => {
    const { client, writes } = recorder();
    const cached = new Map<string, KubeObject>([['Service/must-gather', service([port])]]);
    const seen: string[] = [];
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'ns' }, data: { a: 'b' } } as KubeObject;
    const entries = await applyStage(client, [service([port]), configMap], {
      fieldManager: 'test',
      live: (ref: ObjectRef) => cached.get(`${ref.kind}/${ref.name}`),
      onWrite: (ref, before, after) => seen.push(`${ref.kind}/${ref.name} ${before?.metadata.resourceVersion ?? 'absent'} -> ${after?.metadata.resourceVersion}`),
    });
    expect(entries.map((e) => `${e.subject} ${e.action}`)).toEqual(['Service/ns/must-gather unchanged', 'ConfigMap/ns/cm created']);
    expect(writes).toEqual(['apply ConfigMap/cm']);
    expect(seen).toEqual(['ConfigMap/cm absent -> 2']);
  });
});

describe('applyStaged', () => {
  const object = (kind: string, name: string): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'ns' } });

  function recorder() {
    const writes: string[] = [];
    const client = {
      apply: async (o: KubeObject) => { writes.push(`apply ${o.kind}/${o.metadata.name}`); return { ...o, metadata: { ...o.metadata, resourceVersion: '1' }, data: { token: 'dG9r' } }; },
      create: async (o: KubeObject) => { writes.push(`create ${o.kind}/${o.metadata.name}`); return { ...o, metadata: { ...o.metadata, resourceVersion: '1' } }; },
    } as unknown as KubeClient;
    return { client, writes };
  }

  it('applies stage after stage and stops at a stage whose precondition does not hold, saying what it waits for', async () => {
    const { client, writes } = recorder();
    const seen: string[][] = [];
    const result = await applyStaged(client, [
      { objects: [object('ServiceAccount', 'sa')] },
      { objects: [object('Secret', 'token')], waitsFor: (applied) => { seen.push([...applied.keys()]); return undefined; } },
      { objects: [object('Pod', 'pod')], waitsFor: () => 'Secret/ns/token to hold the gather token' },
    ], { fieldManager: 'test', live: () => undefined });
    expect(writes).toEqual(['apply ServiceAccount/sa', 'apply Secret/token']);
    expect(seen).toEqual([['ServiceAccount/ns/sa']]);
    expect(result.waitingFor).toBe('Secret/ns/token to hold the gather token');
    expect(result.changes.map((c) => `${c.subject} ${c.action}`)).toEqual(['ServiceAccount/ns/sa created', 'Secret/ns/token created']);
  });

  it('hands each precondition the live state the earlier stages applied, and runs every stage once they hold', async () => {
    const { client, writes } = recorder();
    const result = await applyStaged(client, [
      { objects: [object('Secret', 'token')] },
      { objects: [object('Pod', 'pod')], waitsFor: (applied) => ((applied.get('Secret/ns/token') as { data?: { token?: string } })?.data?.token ? undefined : 'a token') },
    ], { fieldManager: 'test', live: () => undefined });
    expect(result.waitingFor).toBeUndefined();
    expect(writes).toEqual(['apply Secret/token', 'create Pod/pod']);
  });

  it('makes a stage\'s objects only once the stages before it are applied and its precondition holds', async () => {
    const { client, writes } = recorder();
    const made: string[][] = [];
    const lazy = (name: string) => async (applied: ReadonlyMap<string, KubeObject>) => {
      made.push([...applied.keys()]);
      return [object('Secret', name)];
    };
    const result = await applyStaged(client, [
      { objects: [object('ServiceAccount', 'sa')] },
      { objects: lazy('token') },
      { objects: lazy('never'), waitsFor: () => 'something' },
    ], { fieldManager: 'test', live: () => undefined });
    expect(made).toEqual([['ServiceAccount/ns/sa']]);
    expect(writes).toEqual(['apply ServiceAccount/sa', 'apply Secret/token']);
    expect(result.waitingFor).toBe('something');
  });

  /** A client whose writes of `slow` objects wait until `release()`; every write is logged as it starts. */
  function gated(slow: string) {
    const writes: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const write = (verb: string) => async (o: KubeObject) => {
      writes.push(`${verb} ${o.kind}/${o.metadata.name}`);
      if (o.metadata.name === slow) await gate;
      return { ...o, metadata: { ...o.metadata, resourceVersion: '1' } };
    };
    return { writes, release, client: { apply: write('apply'), create: write('create') } as unknown as KubeClient };
  }

  it('runs a stage as soon as the stages it needs are applied, beside a slow one it does not need; what needs both waits for both', async () => {
    const { client, writes, release } = gated('claim');
    const done = applyStaged(client, [
      /* 0 */ { objects: [object('Namespace', 'ns')] },
      /* 1 */ { objects: [object('ServiceAccount', 'sa')] },
      /* 2 */ { objects: [object('PersistentVolumeClaim', 'claim')], after: [0] },
      /* 3 */ { objects: [object('Secret', 'token')], after: [1] },
      /* 4 */ { objects: [object('Pod', 'pod')], after: [2, 3] },
    ], { fieldManager: 'test', live: () => undefined });
    // The chain 1 -> 3 goes on while the claim's write hangs; the pod does not start.
    await vi.waitFor(() => expect(writes).toContain('apply Secret/token'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writes).not.toContain('create Pod/pod');
    release();
    const result = await done;
    expect(writes.at(-1)).toBe('create Pod/pod');
    // Listed in stage order, whatever order they ended in.
    expect(result.changes.map((c) => c.subject)).toEqual(['Namespace/ns/ns', 'ServiceAccount/ns/sa', 'PersistentVolumeClaim/ns/claim', 'Secret/ns/token', 'Pod/ns/pod']);
  });

  it('leaves what needs a waiting stage, applies what does not, and fails with the earliest failed stage\'s error once all ended', async () => {
    const { client, writes } = recorder();
    const waiting = await applyStaged(client, [
      { objects: [object('ServiceAccount', 'sa')] },
      { objects: [object('Secret', 'token')], waitsFor: () => 'a token' },
      { objects: [object('Service', 'svc')], after: [0] },
      { objects: [object('Pod', 'pod')], after: [1, 2] },
    ], { fieldManager: 'test', live: () => undefined });
    expect(writes).toEqual(['apply ServiceAccount/sa', 'apply Service/svc']);
    expect(waiting.waitingFor).toBe('a token');

    const failing = { apply: async (o: KubeObject) => { if (o.kind === 'Secret') throw new KubeApiError('x', 422, 'Invalid', 'bad secret'); return o; } } as unknown as KubeClient;
    const applied: string[] = [];
    await expect(applyStaged(failing, [
      { objects: [object('Secret', 'broken')] },
      { objects: [object('Service', 'svc')], after: [], waitsFor: async () => { await new Promise((resolve) => setTimeout(resolve, 10)); applied.push('svc'); return undefined; } },
      { objects: [object('Pod', 'pod')], after: [0, 1] },
    ], { fieldManager: 'test', live: () => undefined })).rejects.toThrow('Secret/ns/broken: apply failed: bad secret');
    // The independent stage ended before the rejection; the pod never ran.
    expect(applied).toEqual(['svc']);
  });

  it('refuses a plan whose stage needs itself or a later one', async () => {
    const { client } = recorder();
    await expect(applyStaged(client, [{ objects: [], after: [1] }, { objects: [] }], { fieldManager: 'test' })).rejects.toThrow(/stage 0: needs stages before it/);
  });
});
