/**
 * The fleet's limits and retention that can change, with the whole controller (watches, queue, reconcile) against the
 * real kube-apiserver, as the operator's least-privilege user. Each test watches only its own namespace (other test
 * files' reports share this API server); the test plays the kubelet by writing pod status, and counts the operator's
 * writes in the API server's audit log.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { KIND, type MustGatherReport } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { POSITIONS_SHOWN, type FleetLimits } from '../../reconciler/admission.js';
import { Controller, type ControllerOptions } from '../../reconciler/controller.js';
import { createMetrics } from '../../reconciler/metrics.js';
import { FINALIZER } from '../../reconciler/reconcile.js';
import { Informer } from '../../kube/informer.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { podStatus } from '../kubelet-states.js';
import {
  adminClient, auditedWrites, createReport, eventually, getReport, LOCAL_CLUSTER, localOnly, OPERATOR_USER, operatorClient, ownedObjects, setPodStatus,
  testNamespace,
} from './helpers.js';

const IMAGES = ['quay.io/a/must-gather:v1'];
const Gi = 2 ** 30;

let admin: KubeClient;
let operator: KubeClient;
const operatorNamespace = `fleet-op-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  admin = adminClient();
  if (LOCAL_CLUSTER) operator = await operatorClient(admin);
});

const readyOf = (report: MustGatherReport | undefined) => report?.status?.conditions?.find((c) => c.type === 'Ready');
const ref = (namespace: string, name: string) => ({ kind: KIND, namespace, name });

/** A controller of the reports in `namespace` only, with `limits`; stopped when the test ends. */
async function startController(namespace: string, limits: FleetLimits, options: Partial<ControllerOptions> = {}) {
  const metrics = createMetrics({ defaultMetrics: false });
  const controller = new Controller({
    client: operator, platform: 'kubernetes', operatorNamespace, namespaces: [namespace], limits, metrics, watchTimeoutSeconds: 30, ...options,
  });
  await controller.start();
  onTestFinished(() => controller.stop());
  const gauge = async (name: string) => (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)?.values[0]?.value;
  return { controller, gauge };
}

/** Every Ready message each report of `namespace` showed, in order (a watch of its own). */
async function recordMessages(namespace: string): Promise<(name: string) => string[]> {
  const seen = new Map<string, string[]>();
  const informer = new Informer<MustGatherReport & KubeObject>(admin, RESOURCES.MustGatherReport, { namespace });
  informer.addHandlers({
    onEvent: ({ object }) => {
      const message = readyOf(object)?.message;
      const list = seen.get(object.metadata.name) ?? [];
      if (message && list.at(-1) !== message) seen.set(object.metadata.name, [...list, message]);
    },
  });
  informer.start();
  await informer.waitForSync();
  onTestFinished(() => informer.stop());
  return (name) => seen.get(name) ?? [];
}

const podOf = (report: MustGatherReport) => admin.get({ kind: 'Pod', namespace: reportObjectNames(report.metadata).namespace, name: 'must-gather' });

/** Waits for the report's pod (it was admitted), plays the kubelet through to a served archive, waits for Ready. */
async function finish(namespace: string, name: string): Promise<MustGatherReport> {
  const report = (await getReport(admin, namespace, name))!;
  await eventually(() => podOf(report), `${name}'s pod (its admission)`, 30_000, 50);
  await setPodStatus(admin, reportObjectNames(report.metadata).namespace, podStatus(IMAGES, { ended: ['Succeeded'], archive: 'done', serving: true, platform: 'kubernetes' }));
  return eventually(async () => {
    const now = await getReport(admin, namespace, name);
    return readyOf(now)?.status === 'True' ? now : undefined;
  }, `${name} to be Ready`, 30_000, 50);
}

/** The operator's writes to the reports of `namespace` (status, finalizers, deletes), once the audit log is still. */
async function reportWrites(namespace: string): Promise<string[]> {
  const writes = async () => (await auditedWrites(OPERATOR_USER))
    .filter((w) => w.objectRef?.resource === 'mustgatherreports' && w.objectRef.namespace === namespace)
    .map((w) => `${w.verb} ${w.objectRef?.name}${w.objectRef?.subresource ? `/${w.objectRef.subresource}` : ''}`);
  return eventually(async () => {
    const first = await writes();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await writes();
    return second.length === first.length ? second : undefined;
  }, 'the audit log to settle', 30_000, 0);
}

/** Creation order: creationTimestamp (whole seconds), then uid. */
const inLineOrder = (reports: MustGatherReport[]) => [...reports].sort((a, b) =>
  Date.parse(a.metadata.creationTimestamp!) - Date.parse(b.metadata.creationTimestamp!) || (a.metadata.uid! < b.metadata.uid! ? -1 : 1)).map((r) => r.metadata.name);

const SLOT_WORDS = 'reports start in creation order as gathering slots (--max-gathering 1) free up.';

describe.runIf(LOCAL_CLUSTER)(localOnly('limits for the fleet', 'its CA, for the operator\'s least-privilege user, and its audit log'), () => {
  afterAll(async () => admin?.delete({ kind: 'Namespace', name: operatorNamespace }).catch(() => undefined));

  it('lets one report gather at a time under --max-gathering 1: the others wait Queued in creation order, their places move, each ends Ready', async () => {
    const namespace = await testNamespace(admin, 'fleet');
    const messages = await recordMessages(namespace);
    const { controller, gauge } = await startController(namespace, { maxGathering: 1, storageBudgetBytes: 0 });
    // The first starts at once, alone; the next two wait, in line order. (Admission is for good: a report created in
    // the same second as one already admitted waits, whatever its uid.)
    const first = 'a';
    await createReport(admin, namespace, first, { images: IMAGES });
    await eventually(async () => podOf((await getReport(admin, namespace, first))!), 'the first report to be admitted');
    const [second, third] = inLineOrder([await createReport(admin, namespace, 'b', { images: IMAGES }), await createReport(admin, namespace, 'c', { images: IMAGES })]) as [string, string];

    await eventually(async () => {
      const [two, three] = [await getReport(admin, namespace, second), await getReport(admin, namespace, third)];
      return readyOf(two)?.reason === 'Queued' && readyOf(three)?.message.startsWith('Queued: 2nd') && two && three;
    }, 'two reports in line');
    expect(readyOf(await getReport(admin, namespace, second))?.message).toBe('Queued: next in line, waiting for a gathering slot: 1 report of at most 1 is gathering (--max-gathering).');
    expect(readyOf(await getReport(admin, namespace, third))?.message).toBe(`Queued: 2nd in line (1 report ahead); ${SLOT_WORDS}`);
    expect(await gauge('mustgather_reports_queued')).toBe(2);
    expect(await gauge('mustgather_reports_gathering')).toBe(1);
    // What the ClusterOperator says (Available, not Degraded: waiting is not a fault).
    expect(controller.health().fleet).toEqual({ gathering: 1, queued: 2, storageBytes: 10 * Gi, maxGathering: 1, storageBudgetBytes: 0 });
    expect(controller.health().failing).toEqual([]);
    // A report in line has created nothing, and has no finalizer.
    for (const name of [second, third]) {
      const report = (await getReport(admin, namespace, name))!;
      expect(report.metadata.finalizers ?? []).toEqual([]);
      expect(report.status?.namespace).toBeUndefined();
      expect(await ownedObjects(admin, report.metadata.uid!)).toEqual([]);
    }

    for (const name of [first, second, third]) await finish(namespace, name);
    // Its place moved up as the one ahead left. (Created in the same second as the one ahead but with a greater uid, it
    // may have been next in line for a moment, until the other showed.)
    expect(messages(third).filter((m) => m.startsWith('Queued')).slice(-2)).toEqual([
      `Queued: 2nd in line (1 report ahead); ${SLOT_WORDS}`,
      'Queued: next in line, waiting for a gathering slot: 1 report of at most 1 is gathering (--max-gathering).',
    ]);
    expect(messages(first).some((m) => m.startsWith('Queued'))).toBe(false);
    for (const name of [first, second, third]) expect((await getReport(admin, namespace, name))?.metadata.finalizers).toContain(FINALIZER);
    await eventually(async () => (await gauge('mustgather_reports_queued')) === 0 && (await gauge('mustgather_reports_gathering')) === 0, 'the gauges to empty');
  });

  it('forms the same line after a restart, writing nothing; deleting a report in line is immediate and moves the ones behind it', async () => {
    const namespace = await testNamespace(admin, 'fleet');
    const limits = { maxGathering: 1, storageBudgetBytes: 0 };
    const before = await startController(namespace, limits);
    await createReport(admin, namespace, 'r0', { images: IMAGES });
    await eventually(async () => (await getReport(admin, namespace, 'r0'))?.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True', 'r0 to start');
    const created = [];
    for (let i = 1; i < 4; i++) created.push(await createReport(admin, namespace, `r${i}`, { images: IMAGES }));
    const order = ['r0', ...inLineOrder(created)];
    await eventually(async () => readyOf(await getReport(admin, namespace, order[3]!))?.message.startsWith('Queued: 3rd'), 'three reports in line');
    const queuedStatus = async () => Promise.all(order.slice(1).map(async (name) => readyOf(await getReport(admin, namespace, name))));
    const lineBefore = await queuedStatus();
    await before.controller.stop();
    const writesBefore = (await reportWrites(namespace)).length;

    // A new operator (a restart, or another leader) knows only what the reports store.
    const after = await startController(namespace, limits);
    await eventually(async () => (await after.gauge('mustgather_reports_queued')) === 3, 'the new operator to see the line');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await reportWrites(namespace)).slice(writesBefore)).toEqual([]);
    expect(await queuedStatus()).toEqual(lineBefore);

    // The head of the line goes at once: nothing of it exists, nothing waits for the operator.
    await admin.delete(ref(namespace, order[1]!));
    expect(await getReport(admin, namespace, order[1]!)).toBeUndefined();
    await eventually(async () => readyOf(await getReport(admin, namespace, order[2]!))?.message.startsWith('Queued: next in line'), 'the next one to move up');
    // Each report's status is its own write (its own reconcile): the one behind moves up too, not in the same instant.
    await eventually(async () => readyOf(await getReport(admin, namespace, order[3]!))?.message === `Queued: 2nd in line (1 report ahead); ${SLOT_WORDS}`, 'the last one to move up');

    // The order holds: the one admitted before the restart keeps its slot, then the next in creation order goes.
    await finish(namespace, order[0]!);
    await finish(namespace, order[2]!);
    await eventually(async () => podOf((await getReport(admin, namespace, order[3]!))!), 'the last one to be admitted');
  });

  it('starts a report that waited in line longer than the start timeout as any other: its clock runs from admission', async () => {
    const namespace = await testNamespace(admin, 'fleet');
    const startTimeoutMs = 4_000;
    await startController(namespace, { maxGathering: 1, storageBudgetBytes: 0 }, { startTimeoutMs });
    const first = await createReport(admin, namespace, 'first', { images: IMAGES });
    await eventually(() => podOf(first), 'the first report\'s pod');
    // Gathering is progress: the first report does not time out while the second waits.
    await setPodStatus(admin, reportObjectNames(first.metadata).namespace, podStatus(IMAGES, { running: true, platform: 'kubernetes' }));
    const waited = await createReport(admin, namespace, 'waited', { images: IMAGES });
    await eventually(async () => readyOf(await getReport(admin, namespace, 'waited'))?.reason === 'Queued', 'the second to wait');
    await new Promise((resolve) => setTimeout(resolve, startTimeoutMs + 1_000));
    await finish(namespace, 'first');

    const names = reportObjectNames(waited.metadata);
    await eventually(() => podOf(waited), 'the second report\'s pod', 30_000, 50);
    const admittedAt = Date.parse((await admin.get({ kind: 'Namespace', name: names.namespace }))!.metadata.creationTimestamp!);
    expect(await admin.get({ kind: 'ClusterRoleBinding', name: names.gatherBinding })).toBeDefined();
    // Nothing runs its pod here: it gives up one start timeout after its admission, not at once.
    const ended = await eventually(async () => {
      const now = await getReport(admin, namespace, 'waited');
      return readyOf(now)?.reason === 'StartTimedOut' ? now : undefined;
    }, 'StartTimedOut', 30_000, 100);
    expect(Date.parse(ended!.status!.finishedAt!) - admittedAt).toBeGreaterThanOrEqual(startTimeoutMs - 1_000);
    expect(readyOf(ended)?.message).toMatch(/^Gave up after 4s: waiting for the report pod to start/);
  });

  it('keeps live volumes within --storage-budget: a Ready report holds its volume until deleted; one larger than the budget is refused at once', async () => {
    const namespace = await testNamespace(admin, 'fleet');
    const { gauge } = await startController(namespace, { maxGathering: 0, storageBudgetBytes: 25 * Gi });
    for (const name of ['a', 'b']) await createReport(admin, namespace, name, { images: IMAGES });
    for (const name of ['a', 'b']) await eventually(async () => podOf((await getReport(admin, namespace, name))!), `${name}'s pod`);
    await createReport(admin, namespace, 'c', { images: IMAGES });
    const huge = await createReport(admin, namespace, 'huge', { images: IMAGES, storage: { size: '30Gi' } });

    const waiting = 'Queued: next in line, waiting for storage: 20.0 GiB of the 25.0 GiB budget in use, this report needs 10.0 GiB (--storage-budget).';
    await eventually(async () => readyOf(await getReport(admin, namespace, 'c'))?.message === waiting, 'c to wait for storage');
    const refused = await eventually(async () => {
      const now = await getReport(admin, namespace, 'huge');
      return readyOf(now)?.reason === 'ExceedsStorageBudget' ? now : undefined;
    }, 'the huge report to be refused');
    expect(readyOf(refused)?.message).toBe(
      'spec.storage.size (30.0 GiB) is larger than the operator\'s whole storage budget (--storage-budget 25.0 GiB): the report could never start. Create it again with a smaller spec.storage.size.',
    );
    // Refused for good: it expires like any finished report, and has nothing to clean up.
    expect(Date.parse(refused!.status!.expiresAt!) - Date.parse(refused!.status!.finishedAt!)).toBe(30 * 60_000);
    expect(refused!.metadata.finalizers ?? []).toEqual([]);
    expect(await ownedObjects(admin, huge.metadata.uid!)).toEqual([]);
    expect(await gauge('mustgather_storage_used_bytes')).toBe(20 * Gi);
    expect(await gauge('mustgather_storage_budget_bytes')).toBe(25 * Gi);

    // Ready is not gone: a still holds its volume.
    await finish(namespace, 'a');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readyOf(await getReport(admin, namespace, 'c'))?.message).toBe(waiting);
    // Deleted (its namespace and volume removed by the finalizer): c fits.
    await admin.delete(ref(namespace, 'a'));
    await eventually(async () => podOf((await getReport(admin, namespace, 'c'))!), 'c to be admitted once a is gone', 60_000, 200);
    expect(await gauge('mustgather_reports_queued')).toBe(0);
  });

  it('keeps a line of 200 at O(N) writes: one status write per report joining it, at most POSITIONS_SHOWN + 1 per admission', async () => {
    const n = 200;
    const namespace = await testNamespace(admin, 'fleet');
    const { gauge } = await startController(namespace, { maxGathering: 1, storageBudgetBytes: 0 });
    await createReport(admin, namespace, 'first', { images: IMAGES });
    await eventually(async () => podOf((await getReport(admin, namespace, 'first'))!), 'the first report\'s pod');
    const start = (await reportWrites(namespace)).length;
    const names = Array.from({ length: n }, (_, i) => `q${String(i).padStart(3, '0')}`);
    const created: MustGatherReport[] = [];
    for (let i = 0; i < n; i += 20) created.push(...(await Promise.all(names.slice(i, i + 20).map((name) => createReport(admin, namespace, name, { images: IMAGES })))));
    await eventually(async () => {
      const list = await admin.list(RESOURCES.MustGatherReport, { namespace });
      return list.items.filter((r) => readyOf(r as unknown as MustGatherReport)?.reason === 'Queued').length === n;
    }, `${n} reports in line`, 120_000, 500);
    expect(await gauge('mustgather_reports_queued')).toBe(n);
    const joined = (await reportWrites(namespace)).slice(start);
    // Same-second reports are ordered by uid, so one created later may take a place ahead of earlier ones: only the
    // exact places within POSITIONS_SHOWN are rewritten for it.
    console.log(`${n} reports joining a line behind --max-gathering 1: ${joined.length} operator writes to them`);
    expect(joined.every((w) => w.startsWith('patch ') && w.endsWith('/status'))).toBe(true);
    expect(joined.length).toBeLessThanOrEqual(3 * n);

    const order = inLineOrder(created);
    const rounds = 10;
    await finish(namespace, 'first');
    const perAdmission: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const mark = (await reportWrites(namespace)).length;
      await finish(namespace, order[round]!);
      const writes = (await reportWrites(namespace)).slice(mark);
      // Writes to reports still in line (the admitted one's own, its finalizer and statuses, are not the line's cost).
      perAdmission.push(writes.filter((w) => !w.includes(` ${order[round]}`) && !w.includes(` ${order[round + 1]}`)).length);
    }
    console.log(`writes to the reports in line per admission (${n - 1}..${n - rounds} in line): ${perAdmission.join(', ')}`);
    for (const count of perAdmission) expect(count).toBeLessThanOrEqual(POSITIONS_SHOWN + 1);
    expect(await gauge('mustgather_reports_queued')).toBe(n - rounds - 1);
  }, 300_000);
});

describe.runIf(LOCAL_CLUSTER)(localOnly('retention that can change', 'its CA, for the operator\'s least-privilege user'), () => {
  it('moves expiresAt with deleteAfter, extended or shortened, and deletes a report past its new deadline at once', async () => {
    const namespace = await testNamespace(admin, 'retain');
    const clock = { offsetMs: 0 };
    await startController(namespace, { maxGathering: 0, storageBudgetBytes: 0 }, { now: () => new Date(Date.now() + clock.offsetMs) });
    const created = await createReport(admin, namespace, 'kept', { images: IMAGES, deleteAfter: '30m' });
    const ready = await finish(namespace, 'kept');
    const finishedAt = Date.parse(ready.status!.finishedAt!);
    expect(Date.parse(ready.status!.expiresAt!)).toBe(finishedAt + 30 * 60_000);

    // What the operator writes for the report, in either namespace or cluster-wide under its name.
    const names = reportObjectNames(created.metadata);
    const writesForIt = async () => (await auditedWrites(OPERATOR_USER))
      .filter((w) => w.objectRef?.namespace === namespace || w.objectRef?.namespace === names.namespace || w.objectRef?.name?.startsWith(names.namespace))
      .map((w) => `${w.verb} ${w.objectRef?.resource}/${w.objectRef?.name}${w.objectRef?.subresource ? `/${w.objectRef.subresource}` : ''}`);
    await reportWrites(namespace);
    const mark = (await writesForIt()).length;
    await admin.patch(ref(namespace, 'kept'), { spec: { deleteAfter: '2h' } });
    const extended = await eventually(async () => {
      const now = await getReport(admin, namespace, 'kept');
      return now?.status?.expiresAt === new Date(finishedAt + 2 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z') ? now : undefined;
    }, 'expiresAt to follow deleteAfter: 2h');
    expect(extended!.status!.finishedAt).toBe(ready.status!.finishedAt);
    expect(extended!.status!.observedGeneration).toBe(extended!.metadata.generation);
    // The chart does not depend on deleteAfter: the change costs the status write, nothing else.
    await reportWrites(namespace);
    expect((await writesForIt()).slice(mark)).toEqual(['patch mustgatherreports/kept/status']);

    await admin.patch(ref(namespace, 'kept'), { spec: { deleteAfter: '10m' } });
    await eventually(async () => (await getReport(admin, namespace, 'kept'))?.status?.expiresAt === new Date(finishedAt + 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'expiresAt to follow deleteAfter: 10m');

    // Fifteen minutes on, without any event (the operator would wake at the deadline): now shortened to 5m, the
    // report is past its new deadline, and goes with what it created, without waiting for a timer.
    clock.offsetMs = 15 * 60_000;
    const patchedAt = Date.now();
    await admin.patch(ref(namespace, 'kept'), { spec: { deleteAfter: '5m' } });
    await eventually(async () => {
      const now = await getReport(admin, namespace, 'kept');
      return now === undefined || now.metadata.deletionTimestamp !== undefined;
    }, 'the report to be deleted at once', 5_000, 50);
    console.log(`deleteAfter shortened past the deadline -> report deleted: ${Date.now() - patchedAt} ms`);
    await eventually(async () => (await getReport(admin, namespace, 'kept')) === undefined, 'the finalizer to release the report', 60_000, 200);
    expect(await ownedObjects(admin, created.metadata.uid!)).toEqual([]);
  });
});
