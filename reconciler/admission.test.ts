import { describe, expect, it } from 'vitest';
import type { GatherStatus, MustGatherReport, MustGatherReportStatus } from '../constructs/report-api.js';
import {
  ADMITTED, FleetAdmission, type FleetLimits, type LineEntry, lineEntry, lineOrder, ordinal, parseMaxGathering, parseStorageBudget, planAdmission,
  POSITIONS_SHOWN, type Verdict,
} from './admission.js';
import { FINALIZER } from './reconcile.js';

const Gi = 2 ** 30;
const T0 = Date.parse('2026-11-25T10:00:00Z');

/** A report created `second` seconds after T0. */
function report(name: string, second: number, options: {
  uid?: string; size?: string; admitted?: boolean; deleting?: boolean; status?: MustGatherReportStatus;
} = {}): MustGatherReport {
  return {
    apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport',
    metadata: {
      name, namespace: 'ns', uid: options.uid ?? `uid-${name}`, creationTimestamp: new Date(T0 + second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...(options.admitted ? { finalizers: [FINALIZER] } : {}),
      ...(options.deleting ? { deletionTimestamp: '2026-11-25T11:00:00Z' } : {}),
    },
    spec: { images: ['quay.io/a/mg:v1'], ...(options.size ? { storage: { size: options.size } } : {}) },
    ...(options.status ? { status: options.status } : {}),
  };
}

const readyStatus = (status: 'True' | 'False', reason: string, message = reason): MustGatherReportStatus => ({
  conditions: [{ type: 'Ready', status, reason, message, lastTransitionTime: '2026-11-25T10:00:00Z' }],
});
const gathers = (...states: GatherStatus['state'][]): MustGatherReportStatus => ({
  ...readyStatus('False', 'Gathering'), gathers: states.map((state, i) => ({ index: i + 1, image: `i${i}`, state })),
});

const limits = (maxGathering: number, storageBudget = 0): FleetLimits => ({ maxGathering, storageBudgetBytes: storageBudget * Gi });
const waiting = (verdict: Verdict | undefined) => (verdict && !verdict.admitted ? verdict.waiting : undefined);

describe('lineEntry', () => {
  it('is admitted with the finalizer (stored: the same after a restart), or when this operator just admitted it', () => {
    expect(lineEntry(report('a', 0, { admitted: true })).admitted).toBe(true);
    expect(lineEntry(report('a', 0)).admitted).toBe(false);
    expect(lineEntry(report('a', 0), true).admitted).toBe(true);
  });

  it('holds a gathering slot until every gather ended, or it is Ready, or failed for good', () => {
    const gathering = (status?: MustGatherReportStatus) => lineEntry(report('a', 0, { admitted: true, ...(status ? { status } : {}) })).gathering;
    expect(gathering()).toBe(true);
    expect(gathering(readyStatus('False', 'Queued'))).toBe(true);
    expect(gathering(gathers('Succeeded', 'Running'))).toBe(true);
    expect(gathering(gathers('Succeeded', 'Pending'))).toBe(true);
    expect(gathering(gathers('Succeeded', 'Failed'))).toBe(false);
    expect(gathering(readyStatus('True', 'ArchiveReady'))).toBe(false);
    expect(gathering(readyStatus('False', 'StartTimedOut'))).toBe(false);
    expect(gathering(readyStatus('False', 'ImagePullFailed'))).toBe(true);
    expect(lineEntry(report('a', 0, { admitted: true, deleting: true })).gathering).toBe(false);
  });

  it('takes no place in line while being deleted or once ended for good, keeping what its Ready condition says', () => {
    expect(lineEntry(report('a', 0, { deleting: true })).outOfLine?.reason).toBe('Deleting');
    expect(lineEntry(report('a', 0, { status: readyStatus('False', 'ExceedsStorageBudget', 'too big') })).outOfLine).toEqual({ reason: 'ExceedsStorageBudget', message: 'too big' });
    expect(lineEntry(report('a', 0, { status: readyStatus('False', 'Queued') })).outOfLine).toBeUndefined();
    expect(lineEntry(report('a', 0, { size: 'lots' })).outOfLine?.reason).toBe('InvalidSpec');
  });

  it('counts spec.storage.size in bytes, 10Gi by default', () => {
    expect(lineEntry(report('a', 0)).sizeBytes).toBe(10 * Gi);
    expect(lineEntry(report('a', 0, { size: '1.5G' })).sizeBytes).toBe(1_500_000_000);
  });
});

describe('planAdmission', () => {
  const entries = (...reports: MustGatherReport[]) => reports.map((r) => lineEntry(r));

  it('orders the line by creation time, then uid, whatever order the cache lists reports in', () => {
    const line = entries(report('c', 5), report('b', 1, { uid: 'z' }), report('a', 1, { uid: 'm' }), report('d', 0));
    expect([...line].sort(lineOrder).map((e) => e.key)).toEqual(['ns/d', 'ns/a', 'ns/b', 'ns/c']);
    const plan = planAdmission(line, limits(1));
    expect(plan.verdicts.get('ns/d')).toEqual(ADMITTED);
    expect(['ns/a', 'ns/b', 'ns/c'].map((key) => waiting(plan.verdicts.get(key))?.message)).toEqual([
      'Queued: next in line, waiting for a gathering slot: 1 report of at most 1 is gathering (--max-gathering).',
      'Queued: 2nd in line (1 report ahead); reports start in creation order as gathering slots (--max-gathering 1) free up.',
      'Queued: 3rd in line (2 reports ahead); reports start in creation order as gathering slots (--max-gathering 1) free up.',
    ]);
    expect(plan.usage).toEqual({ gathering: 0, queued: 3, storageBytes: 0 });
  });

  it('counts the slots of admitted reports still gathering, not of finished ones', () => {
    const done = report('done', 0, { admitted: true, status: readyStatus('True', 'ArchiveReady') });
    const busy = report('busy', 1, { admitted: true, status: gathers('Running') });
    const plan = planAdmission(entries(done, busy, report('next', 2), report('later', 3)), limits(2));
    expect(plan.verdicts.get('ns/next')).toEqual(ADMITTED);
    expect(waiting(plan.verdicts.get('ns/later'))).toEqual({ reason: 'Queued', message: 'Queued: next in line, waiting for a gathering slot: 2 reports of at most 2 are gathering (--max-gathering).' });
    expect(plan.verdicts.has('ns/done')).toBe(false);
    expect(plan.usage).toEqual({ gathering: 1, queued: 1, storageBytes: 20 * Gi });
  });

  it('keeps live volumes within the budget: a Ready report holds its volume until it is deleted', () => {
    const ready = report('ready', 0, { admitted: true, status: readyStatus('True', 'ArchiveReady') });
    const plan = planAdmission(entries(ready, report('fits', 1), report('waits', 2)), limits(0, 25));
    expect(plan.verdicts.get('ns/fits')).toEqual(ADMITTED);
    expect(waiting(plan.verdicts.get('ns/waits'))?.message).toBe(
      'Queued: next in line, waiting for storage: 20.0 GiB of the 25.0 GiB budget in use, this report needs 10.0 GiB (--storage-budget).',
    );
    expect(plan.usage.storageBytes).toBe(10 * Gi);
    // Deleted, the Ready report's volume is free again.
    expect(planAdmission(entries(report('fits', 1), report('waits', 2)), limits(0, 25)).verdicts.get('ns/waits')).toEqual(ADMITTED);
  });

  it('says both when the head waits for a slot and for storage', () => {
    const busy = report('busy', 0, { admitted: true, size: '20Gi' });
    const plan = planAdmission(entries(busy, report('waits', 1)), limits(1, 25));
    expect(waiting(plan.verdicts.get('ns/waits'))?.message).toBe(
      'Queued: next in line, waiting for a gathering slot (1 report of at most 1 is gathering (--max-gathering)) and for storage ' +
        '(20.0 GiB of the 25.0 GiB budget in use, this report needs 10.0 GiB (--storage-budget)).',
    );
  });

  it('refuses at once a report larger than the whole budget, without holding back the line', () => {
    const plan = planAdmission(entries(report('huge', 0, { size: '200Gi' }), report('small', 1, { size: '1Gi' })), limits(4, 100));
    expect(waiting(plan.verdicts.get('ns/huge'))).toEqual({
      reason: 'ExceedsStorageBudget',
      message: 'spec.storage.size (200.0 GiB) is larger than the operator\'s whole storage budget (--storage-budget 100.0 GiB): the report could never start. ' +
        'Create it again with a smaller spec.storage.size.',
    });
    expect(plan.verdicts.get('ns/small')).toEqual(ADMITTED);
    expect(plan.usage.queued).toBe(0);
  });

  it('is strict: a report that does not fit holds back smaller ones behind it (else it could wait for ever)', () => {
    const plan = planAdmission(entries(report('held', 0, { admitted: true, size: '60Gi' }), report('big', 1, { size: '50Gi' }), report('small', 2, { size: '1Gi' })), limits(0, 100));
    expect(waiting(plan.verdicts.get('ns/big'))?.message).toMatch(/^Queued: next in line, waiting for storage/);
    expect(waiting(plan.verdicts.get('ns/small'))?.message).toMatch(/^Queued: 2nd in line/);
  });

  it('shows exact places up to POSITIONS_SHOWN, then only that the report is further back', () => {
    const line = Array.from({ length: POSITIONS_SHOWN + 3 }, (_, i) => report(`r${i}`, i));
    const plan = planAdmission([lineEntry(report('busy', -1, { admitted: true })), ...entries(...line)], limits(1));
    const messages = line.map((r) => waiting(plan.verdicts.get(`ns/${r.metadata.name}`))!.message);
    expect(messages[POSITIONS_SHOWN - 1]).toMatch(/^Queued: 10th in line \(9 reports ahead\)/);
    expect(messages[POSITIONS_SHOWN]).toBe('Queued: behind 10 or more reports in line; reports start in creation order as gathering slots (--max-gathering 1) free up.');
    expect(messages[POSITIONS_SHOWN + 2]).toBe(messages[POSITIONS_SHOWN]);
  });

  it('leaves out the reports being deleted and those that ended for good before admission, keeping their words', () => {
    const plan = planAdmission(entries(report('gone', 0, { deleting: true }), report('refused', 1, { status: readyStatus('False', 'ExceedsStorageBudget', 'too big') }), report('a', 2)), limits(1));
    expect(plan.verdicts.get('ns/gone')).toEqual({ admitted: false });
    expect(plan.verdicts.get('ns/refused')).toEqual({ admitted: false, waiting: { reason: 'ExceedsStorageBudget', message: 'too big' } });
    expect(plan.verdicts.get('ns/a')).toEqual(ADMITTED);
  });

  it('admits everyone without limits', () => {
    const plan = planAdmission(entries(...Array.from({ length: 50 }, (_, i) => report(`r${i}`, i))), limits(0, 0));
    expect([...plan.verdicts.values()].every((v) => v.admitted)).toBe(true);
    expect(plan.usage).toEqual({ gathering: 0, queued: 0, storageBytes: 0 });
  });

  it('drains a line of N behind --max-gathering 1 with O(N) message changes, where exact places everywhere would cost N²/2', () => {
    const n = 200;
    let line: LineEntry[] = Array.from({ length: n }, (_, i) => lineEntry(report(`r${i}`, i)));
    const last = new Map<string, string>();
    let changes = 0;
    let exactPlaceChanges = 0;
    for (let round = 0; round < n; round++) {
      const plan = planAdmission(line, limits(1));
      for (const [key, verdict] of plan.verdicts) {
        const message = waiting(verdict)?.message ?? 'admitted';
        if (last.get(key) !== message) changes++;
        last.set(key, message);
      }
      exactPlaceChanges += plan.usage.queued;
      // The admitted report gathers, ends, and is deleted: the next one starts.
      line = line.filter((e) => plan.verdicts.get(e.key)?.admitted !== true);
    }
    console.log(`draining ${n} reports behind --max-gathering 1: ${changes} message changes (exact places in every message: ${exactPlaceChanges})`);
    expect(changes).toBeLessThanOrEqual((POSITIONS_SHOWN + 2) * n);
    expect(exactPlaceChanges).toBeGreaterThan((n * n) / 2 - n);
  });
});

describe('ordinal and the flags', () => {
  it('writes places as people do', () => {
    expect([1, 2, 3, 4, 10, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual(['1st', '2nd', '3rd', '4th', '10th', '11th', '12th', '13th', '21st', '22nd', '23rd', '101st', '111th']);
  });

  it('parses --max-gathering and --storage-budget, saying what is wrong', () => {
    expect(parseMaxGathering('0')).toBe(0);
    expect(parseMaxGathering('4')).toBe(4);
    for (const bad of ['', 'four', '1.5', '-1']) expect(() => parseMaxGathering(bad)).toThrow(`"${bad}" is not a whole number of reports (0: no limit)`);
    expect(parseStorageBudget('0')).toBe(0);
    expect(parseStorageBudget('100Gi')).toBe(100 * Gi);
    expect(parseStorageBudget('1T')).toBe(1e12);
    expect(() => parseStorageBudget('100GB')).toThrow('"100GB" is not a quantity such as 100Gi or 500Mi (0: no limit)');
    expect(() => parseStorageBudget('-1Gi')).toThrow('"-1Gi" is negative');
    expect(() => parseStorageBudget('50Mi')).toThrow('"50Mi" is smaller than the smallest report volume (100Mi): every report would be refused');
  });
});

describe('FleetAdmission', () => {
  function fleet(fleetLimits: FleetLimits) {
    const reports = new Map<string, MustGatherReport>();
    const enqueued: string[] = [];
    let plans = 0;
    const admission = new FleetAdmission({
      limits: fleetLimits, read: (key) => reports.get(key), enqueue: (key) => enqueued.push(key), onPlan: () => plans++,
    });
    const put = (r: MustGatherReport) => {
      reports.set(`ns/${r.metadata.name}`, r);
      admission.touched(`ns/${r.metadata.name}`);
    };
    const remove = (name: string) => {
      reports.delete(`ns/${name}`);
      admission.touched(`ns/${name}`);
    };
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    return { admission, reports, put, remove, enqueued, plans: () => plans, settled };
  }

  it('records an admission at once: no other report takes the slot before the cache shows the finalizer', async () => {
    const f = fleet(limits(1));
    const [a, b] = [report('a', 0), report('b', 1)];
    f.put(a);
    f.put(b);
    expect(f.admission.verdict(a)).toEqual(ADMITTED);
    expect(f.admission.verdict(b).admitted).toBe(false);
    // A later report that sorts first (same second, smaller uid) arrives before a's finalizer shows: it waits.
    const early = report('early', 0, { uid: '0' });
    f.put(early);
    expect(f.admission.verdict(early).admitted).toBe(false);
    expect(f.admission.verdict(a)).toEqual(ADMITTED);
    await f.settled();
    expect(f.admission.usage()).toEqual({ gathering: 1, queued: 2, storageBytes: 10 * Gi });
  });

  it('plans again only for changes that matter to the line, and queues only the reports whose verdict changed', async () => {
    const f = fleet(limits(1));
    const line = Array.from({ length: 30 }, (_, i) => report(`r${i}`, i));
    for (const r of line) f.put(r);
    await f.settled();
    expect(f.plans()).toBe(1);
    const first = f.admission.verdict(line[0]!);
    expect(first).toEqual(ADMITTED);
    f.put({ ...line[0]!, metadata: { ...line[0]!.metadata, finalizers: [FINALIZER] } });
    await f.settled();
    const plansBefore = f.plans();
    f.enqueued.length = 0;
    // A queued report's status written (its message): nothing the line depends on.
    f.put({ ...line[5]!, status: readyStatus('False', 'Queued', 'Queued: 5th in line') });
    await f.settled();
    expect(f.plans()).toBe(plansBefore);
    expect(f.enqueued).toEqual([]);

    // The gathering report is done: the next one may start, and the places within POSITIONS_SHOWN move; no others.
    f.put({ ...line[0]!, metadata: { ...line[0]!.metadata, finalizers: [FINALIZER] }, status: readyStatus('True', 'ArchiveReady') });
    await f.settled();
    expect(f.enqueued).toEqual(line.slice(1, 1 + POSITIONS_SHOWN + 1).map((r) => `ns/${r.metadata.name}`));
    expect(f.admission.verdict(line[1]!)).toEqual(ADMITTED);
  });

  it('frees a report\'s volume when it is gone, and a report deleted while queued just leaves the line', async () => {
    const f = fleet(limits(0, 20));
    const [a, b, c] = [report('a', 0), report('b', 1), report('c', 2)];
    for (const r of [a, b, c]) f.put(r);
    for (const r of [a, b]) {
      expect(f.admission.verdict(r)).toEqual(ADMITTED);
      f.put({ ...r, metadata: { ...r.metadata, finalizers: [FINALIZER] } });
    }
    expect(f.admission.verdict(c).admitted).toBe(false);
    await f.settled();
    f.enqueued.length = 0;
    f.remove('a');
    await f.settled();
    expect(f.enqueued).toEqual(['ns/c']);
    expect(f.admission.verdict(c)).toEqual(ADMITTED);
    const d = report('d', 3);
    f.put(d);
    f.remove('d');
    await f.settled();
    expect(f.admission.usage()).toEqual({ gathering: 2, queued: 0, storageBytes: 20 * Gi });
  });
});
