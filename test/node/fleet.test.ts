/**
 * Limits for the fleet and retention that can change, on a real node: the operator (the real CLI, a process of its
 * own, one per scenario with the flags it tests, watching only its scenario's namespace) runs real report pods;
 * nothing here writes pod status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport, type MustGatherReportSpec } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { Informer } from '../../kube/informer.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { NODE_UNAVAILABLE, nodeSuite, startNodeCluster, type NodeCluster } from './cluster.js';
import { eventually, readyOf, startOperator } from './helpers.js';

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** What one scenario's watch saw of each report: every Ready message in order, and when each first showed. */
interface Seen {
  readonly messages: Map<string, { reason: string; message: string; at: number }[]>;
  readonly last: Map<string, MustGatherReport>;
}

describe.runIf(!NODE_UNAVAILABLE)(nodeSuite('limits for the fleet and retention on a real node'), () => {
  let cluster: NodeCluster;
  let admin: KubeClient;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await startNodeCluster();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    admin = new KubeClient(kc);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    admin?.close();
    await cluster?.stop();
  });

  /**
   * A namespace of its own, watched, with an operator for it alone run with `flags`. On cleanup its reports are
   * deleted while its operator still runs (their finalizers), then the operator stops.
   */
  async function scenario(prefix: string, flags: string[]) {
    const namespace = `${prefix}-${Date.now().toString(36)}`;
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const seen: Seen = { messages: new Map(), last: new Map() };
    const informer = new Informer<MustGatherReport & KubeObject>(admin, RESOURCES.MustGatherReport, { namespace });
    informer.addHandlers({
      onEvent: ({ type, object }) => {
        const name = object.metadata.name;
        if (type !== 'delete') seen.last.set(name, object);
        const { reason, message = '' } = readyOf(object);
        const list = seen.messages.get(name) ?? [];
        if (reason && list.at(-1)?.message !== message) seen.messages.set(name, [...list, { reason, message, at: Date.now() }]);
      },
    });
    informer.start();
    await informer.waitForSync();
    const operator = startOperator(cluster, ['--namespaces', namespace, ...flags]);
    cleanups.push(async () => {
      for (const r of informer.list()) await admin.delete({ kind: KIND, namespace, name: r.metadata.name }).catch(() => undefined);
      await eventually(() => 'the scenario\'s reports to go', 120_000, async () => informer.list().length === 0).catch(() => undefined);
      operator.process.kill('SIGTERM');
      await informer.stop();
      await admin.delete({ kind: 'Namespace', name: namespace }).catch(() => undefined);
    });
    const create = (name: string, spec: MustGatherReportSpec) =>
      admin.create({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec } as unknown as KubeObject) as unknown as Promise<MustGatherReport>;
    const state = (name: string) => `${name}: ${JSON.stringify(readyOf(seen.last.get(name)))}; operator log:\n${operator.log().slice(-2000)}`;
    const waitFor = (name: string, what: string, check: (report: MustGatherReport) => boolean, timeoutMs = 180_000) =>
      eventually(() => `${name} ${what}; ${state(name)}`, timeoutMs, async () => {
        const report = seen.last.get(name);
        return report && check(report) && report;
      });
    const admitted = (report: MustGatherReport) => report.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True';
    return { namespace, seen, create, waitFor, admitted, waitReady: (name: string) => waitFor(name, 'to be Ready', (r) => readyOf(r)?.status === 'True') };
  }

  it('--max-gathering 1: three reports gather one at a time in creation order, their Queued places move, each ends Ready', async () => {
    const s = await scenario('fleet-slots', ['--max-gathering', '1', '--storage-budget', '0']);
    // Each gathers ~12 s (a gather that never ends, stopped by its timeout; the report is Ready all the same).
    const spec: MustGatherReportSpec = { images: [cluster.images.sleep], timeout: '12s', storage: { size: '256Mi' } };
    await s.create('first', spec);
    await s.waitFor('first', 'to be admitted', s.admitted);
    const created = [await s.create('b', spec), await s.create('c', spec)];
    // Line order: creation time (whole seconds), then uid.
    const [second, third] = created.sort((x, y) => Date.parse(x.metadata.creationTimestamp!) - Date.parse(y.metadata.creationTimestamp!) || (x.metadata.uid! < y.metadata.uid! ? -1 : 1))
      .map((r) => r.metadata.name) as [string, string];

    await s.waitFor(third, 'to be 2nd in line', (r) => readyOf(r).message?.startsWith('Queued: 2nd in line') ?? false, 30_000);
    expect(readyOf(s.seen.last.get(second))?.message).toBe('Queued: next in line, waiting for a gathering slot: 1 report of at most 1 is gathering (--max-gathering).');
    // In line, nothing of them exists on the cluster.
    for (const name of [second, third]) expect(await admin.get({ kind: 'Namespace', name: reportObjectNames(s.seen.last.get(name)!.metadata).namespace })).toBeUndefined();

    const ready = [];
    for (const name of ['first', second, third]) ready.push(await s.waitReady(name));
    for (const report of ready) expect(report.status?.gathers?.[0]?.state).toBe('TimedOut');
    // Its place moved up as the one ahead left (created in the same second as that one but with a greater uid, it may
    // have been next in line for a moment, until the other showed).
    expect(s.seen.messages.get(third)!.filter((m) => m.reason === 'Queued').map((m) => m.message).slice(-2)).toEqual([
      'Queued: 2nd in line (1 report ahead); reports start in creation order as gathering slots (--max-gathering 1) free up.',
      'Queued: next in line, waiting for a gathering slot: 1 report of at most 1 is gathering (--max-gathering).',
    ]);
    // One at a time: each left the line only after the one before it had ended its gather.
    const gatherEnded = (name: string) => Date.parse(s.seen.last.get(name)!.status!.gathers![0]!.finishedAt!);
    const leftLine = (name: string) => s.seen.messages.get(name)!.find((m) => m.reason !== 'Queued')!.at;
    expect(leftLine(second)).toBeGreaterThanOrEqual(gatherEnded('first'));
    expect(leftLine(third)).toBeGreaterThanOrEqual(gatherEnded(second));
  });

  describe('--storage-budget 600Mi, and deleteAfter on a Ready report', () => {
    let s: Awaited<ReturnType<typeof scenario>>;
    beforeAll(async () => {
      s = await scenario('fleet-storage', ['--max-gathering', '0', '--storage-budget', '600Mi']);
    });

    it('holds a report back while the volumes of two live reports (Ready ones too) leave no room, until one is deleted', async () => {
      const spec: MustGatherReportSpec = { images: [cluster.images.ok], storage: { size: '256Mi' } };
      await s.create('a', spec);
      await s.create('b', spec);
      for (const name of ['a', 'b']) await s.waitReady(name);
      await s.create('c', spec);
      const waiting = 'Queued: next in line, waiting for storage: 512.0 MiB of the 600.0 MiB budget in use, this report needs 256.0 MiB (--storage-budget).';
      await s.waitFor('c', 'to wait for storage', (r) => readyOf(r)?.message === waiting, 30_000);
      await s.create('huge', { ...spec, storage: { size: '1Gi' } });
      const refused = await s.waitFor('huge', 'to be refused', (r) => readyOf(r)?.reason === 'ExceedsStorageBudget', 30_000);
      expect(refused.metadata.finalizers ?? []).toEqual([]);
      expect(refused.status?.expiresAt).toBeDefined();
      await sleep(3_000);
      expect(readyOf(s.seen.last.get('c'))?.message).toBe(waiting);

      // a goes with its namespace and volume; then c fits, and runs to Ready.
      await admin.delete({ kind: KIND, namespace: s.namespace, name: 'a' });
      await eventually(() => 'a to be gone', 120_000, async () => (await admin.get({ kind: KIND, namespace: s.namespace, name: 'a' })) === undefined);
      await s.waitReady('c');
      expect(s.seen.messages.get('c')!.filter((m) => m.reason === 'Queued').map((m) => m.message)).toEqual([waiting]);
    });

    it('moves expiresAt when deleteAfter is extended or shortened, and deletes a report past its new deadline at once', async () => {
      const ready = await s.waitReady('b');
      const finishedAt = Date.parse(ready.status!.finishedAt!);
      expect(ready.status!.expiresAt).toBe(rfc3339(finishedAt + 30 * 60_000));
      await admin.patch({ kind: KIND, namespace: s.namespace, name: 'b' }, { spec: { deleteAfter: '2h' } });
      await s.waitFor('b', 'to expire 2h after it finished', (r) => r.status?.expiresAt === rfc3339(finishedAt + 2 * 3600_000), 30_000);
      await admin.patch({ kind: KIND, namespace: s.namespace, name: 'b' }, { spec: { deleteAfter: '90m' } });
      await s.waitFor('b', 'to expire 90m after it finished', (r) => r.status?.expiresAt === rfc3339(finishedAt + 90 * 60_000), 30_000);

      // Shortened to 1m on a report finished more than a minute ago: past its new deadline, it goes at once.
      const wait = finishedAt + 61_000 - Date.now();
      if (wait > 0) await sleep(wait);
      const names = reportObjectNames(ready.metadata);
      const patchedAt = Date.now();
      await admin.patch({ kind: KIND, namespace: s.namespace, name: 'b' }, { spec: { deleteAfter: '1m' } });
      await eventually(() => 'b to be deleted at once', 10_000, async () => {
        const now = await admin.get({ kind: KIND, namespace: s.namespace, name: 'b' });
        return now === undefined || now.metadata.deletionTimestamp !== undefined;
      });
      console.log(`[fleet] deleteAfter shortened past the deadline -> deletion: ${Date.now() - patchedAt} ms`);
      await eventually(() => `namespace ${names.namespace} to go`, 120_000, async () => (await admin.get({ kind: 'Namespace', name: names.namespace })) === undefined);
      expect(await admin.get({ kind: 'ClusterRoleBinding', name: names.authDelegatorBinding })).toBeUndefined();
    });
  });
});
