/**
 * Limits for the fleet: at most `--max-gathering` reports gather at once, and the volumes of live reports stay within
 * `--storage-budget`. The others wait in line with Ready=False, reason Queued, first come first served by creation
 * time, ties by uid: both are stored on the report, so a restarted operator (or a new leader) forms the same line.
 *
 * A report is admitted when it leaves the line. From then on it carries the finalizer (stored on the report: a
 * restarted operator sees the same admissions), creates its objects, holds a gathering slot until its last gather
 * ended (its cluster-admin binding goes then; at the latest once Ready or failed) and holds its volume's size of the
 * budget until the report is gone. A report in line has created nothing and has no finalizer: deleting it is
 * immediate.
 *
 * The line is strict: a report that does not fit holds back the ones behind it (were smaller ones let past, a large
 * report could wait for ever). A report larger than the whole budget would never fit: it is refused at once
 * (ExceedsStorageBudget, terminal; it expires like any finished report) instead of blocking the line.
 *
 * Where a report stands, without N² writes: were every queued report's exact place in its message, each admission
 * would rewrite all N of them, N² writes to drain a line of N. So a message changes only when something changes for
 * that report itself:
 * - the head of the line says what it waits for, with numbers: a gathering slot (how many gather, of how many), or
 *   storage (how much of the budget is in use, and how much it needs). Only the head waits on those numbers; the
 *   rest wait for the head.
 * - the next ones, up to {@link POSITIONS_SHOWN}, say their exact place ("3rd in line"): those are the places that
 *   move soon, and they move at each admission.
 * - further back, "behind 10 or more reports", which stays until the report comes within that distance.
 * An admission thus rewrites at most {@link POSITIONS_SHOWN} messages however long the line, each report's message
 * changes at most {@link POSITIONS_SHOWN} + 2 times, and draining a line of N costs O(N) writes. The whole line is
 * counted in `mustgather_reports_queued` and the ClusterOperator's status.
 *
 * The pure part (what each report's place is: {@link planAdmission}) is a function of the reports alone; the small
 * stateful part ({@link FleetAdmission}) keeps one line entry per report from the controller's cache events, plans
 * again (O(N log N), no API call) only when a change matters to the line, and queues the keys of the reports whose
 * verdict changed: the next ones in line, not all.
 */
import { LIMITS, type MustGatherReport, resolveSpec } from '../constructs/report-api.js';
import { isTerminalReason, type ReadyReason } from '../constructs/ready-reasons.js';
import { formatBytes, parseQuantity } from '../constructs/quantity.js';
import { FINALIZER } from './reconcile.js';
import { reportKey } from './report-key.js';
import type { Waiting } from './status.js';

/** How many places in line are shown exactly (the head's included); further back only "behind this many or more". */
export const POSITIONS_SHOWN = 10;

/** The operator's limits; 0 turns one off. */
export interface FleetLimits {
  /** Reports gathering at once (`--max-gathering`). */
  readonly maxGathering: number;
  /** Bytes the volumes of live reports may claim together (`--storage-budget`). */
  readonly storageBudgetBytes: number;
}

/** `--max-gathering`: a whole number of reports, 0 for no limit; throws saying what is wrong. */
export function parseMaxGathering(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0) throw new Error(`"${text}" is not a whole number of reports (0: no limit)`);
  return value;
}

/** `--storage-budget`: a quantity such as 100Gi, in bytes, 0 for no limit; throws saying what is wrong. */
export function parseStorageBudget(text: string): number {
  const bytes = parseQuantity(text.trim());
  if (bytes === undefined) throw new Error(`"${text}" is not a quantity such as 100Gi or 500Mi (0: no limit)`);
  if (bytes < 0) throw new Error(`"${text}" is negative (0: no limit)`);
  const min = parseQuantity(LIMITS.storageSize.min)!;
  if (bytes > 0 && bytes < min) throw new Error(`"${text}" is smaller than the smallest report volume (${LIMITS.storageSize.min}): every report would be refused`);
  return Math.floor(bytes);
}

/** What the line needs to know of one report. */
export interface LineEntry {
  /** `namespace/name`. */
  readonly key: string;
  readonly uid: string;
  /** creationTimestamp, in ms since the epoch. */
  readonly createdAt: number;
  /** `spec.storage.size`, in bytes. */
  readonly sizeBytes: number;
  /** Left the line: its objects exist (or are being made); it holds its volume until it is gone. */
  readonly admitted: boolean;
  /** Admitted and still gathering: holds a gathering slot. */
  readonly gathering: boolean;
  /**
   * Not admitted and takes no place in line: being deleted, or ended for good (refused, or an invalid spec), with
   * what its Ready condition says.
   */
  readonly outOfLine?: { readonly reason: string; readonly message: string };
}

/** May the report start now; if not, why it waits (or why it never will). */
export type Verdict = { readonly admitted: true } | { readonly admitted: false; readonly waiting?: Waiting };

/** What the fleet holds now. */
export interface FleetUsage {
  /** Admitted reports still gathering. */
  readonly gathering: number;
  /** Reports waiting in line. */
  readonly queued: number;
  /** The volumes of admitted reports, together, in bytes. */
  readonly storageBytes: number;
}

export interface AdmissionPlan {
  /** For each report that is not admitted: whether it may start now, or why it waits. */
  readonly verdicts: ReadonlyMap<string, Verdict>;
  readonly usage: FleetUsage;
}

export const ADMITTED: Verdict = { admitted: true };

const gatherEnded = (state: string) => state !== 'Pending' && state !== 'Running';

/** Whether a report's status shows its gathering is over: every gather ended, or it is Ready, or failed for good. */
function gatheringOver(status: MustGatherReport['status']): boolean {
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True' || (ready?.status === 'False' && isTerminalReason(ready.reason))) return true;
  const gathers = status?.gathers ?? [];
  return gathers.length > 0 && gathers.every((g) => gatherEnded(g.state));
}

/** The report's volume size in bytes; undefined when the spec has none that parses (its reconcile says InvalidSpec). */
function volumeBytes(report: MustGatherReport): number | undefined {
  const size = resolveSpec(report.spec ?? {}).storage.size;
  const bytes = typeof size === 'string' ? parseQuantity(size) : undefined;
  return bytes === undefined || bytes < 0 ? undefined : Math.ceil(bytes);
}

/** The report's entry in the line; `admittedHere`: this operator admitted it and the cache does not show it yet. */
export function lineEntry(report: MustGatherReport, admittedHere = false): LineEntry {
  const { metadata, status } = report;
  const admitted = admittedHere || (metadata.finalizers?.includes(FINALIZER) ?? false);
  const deleting = metadata.deletionTimestamp !== undefined;
  const sizeBytes = volumeBytes(report);
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  const createdAt = Date.parse(metadata.creationTimestamp ?? '');
  const entry = {
    key: reportKey(report), uid: metadata.uid ?? '', createdAt: Number.isNaN(createdAt) ? Number.MAX_SAFE_INTEGER : createdAt,
    sizeBytes: sizeBytes ?? 0, admitted,
    // Deleting: the finalizer stops its gathers at once (the binding goes first); its volume goes with its namespace.
    gathering: admitted && !deleting && !gatheringOver(status),
  };
  if (admitted) return entry;
  if (deleting) return { ...entry, outOfLine: { reason: 'Deleting', message: 'The report is being deleted.' } };
  if (ready?.status === 'False' && isTerminalReason(ready.reason)) return { ...entry, outOfLine: { reason: ready.reason, message: ready.message } };
  if (sizeBytes === undefined) return { ...entry, outOfLine: { reason: 'InvalidSpec', message: 'spec.storage.size is not a quantity.' } };
  return entry;
}

/** Line order: creation time, then uid (both stored, so the order survives restarts). */
export function lineOrder(a: LineEntry, b: LineEntry): number {
  return a.createdAt - b.createdAt || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);
}

/** 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ... */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What makes the line move, in words that do not change while the operator runs. */
function lineMovesWith(limits: FleetLimits): string {
  const what = [
    ...(limits.maxGathering > 0 ? [`gathering slots (--max-gathering ${limits.maxGathering})`] : []),
    ...(limits.storageBudgetBytes > 0 ? [`storage (--storage-budget ${formatBytes(limits.storageBudgetBytes)})`] : []),
  ];
  return `reports start in creation order as ${what.join(' and ')} free up`;
}

/** The message of the report at `position` (1: the head) in line. */
export function queuedMessage(
  position: number, limits: FleetLimits,
  head?: { readonly gathering: number; readonly storageBytes: number; readonly sizeBytes: number; readonly slotFree: boolean; readonly storageFree: boolean },
): string {
  if (position === 1 && head) {
    const slot = `${plural(head.gathering, 'report')} of at most ${limits.maxGathering} ${head.gathering === 1 ? 'is' : 'are'} gathering (--max-gathering)`;
    const storage = `${formatBytes(head.storageBytes)} of the ${formatBytes(limits.storageBudgetBytes)} budget in use, this report needs ${formatBytes(head.sizeBytes)} (--storage-budget)`;
    if (!head.slotFree && !head.storageFree) return `Queued: next in line, waiting for a gathering slot (${slot}) and for storage (${storage}).`;
    return head.slotFree ? `Queued: next in line, waiting for storage: ${storage}.` : `Queued: next in line, waiting for a gathering slot: ${slot}.`;
  }
  if (position <= POSITIONS_SHOWN) return `Queued: ${ordinal(position)} in line (${plural(position - 1, 'report')} ahead); ${lineMovesWith(limits)}.`;
  return `Queued: behind ${POSITIONS_SHOWN} or more reports in line; ${lineMovesWith(limits)}.`;
}

/** Why a report larger than the whole budget is refused. */
export function refusalMessage(sizeBytes: number, limits: FleetLimits): string {
  return `spec.storage.size (${formatBytes(sizeBytes)}) is larger than the operator's whole storage budget (--storage-budget ${formatBytes(limits.storageBudgetBytes)}): ` +
    'the report could never start. Create it again with a smaller spec.storage.size.';
}

const QUEUED: ReadyReason = 'Queued';
const REFUSED: ReadyReason = 'ExceedsStorageBudget';

/**
 * Who may start now and where the others stand: the admitted reports' slots and volumes are taken, then the line is
 * walked in order, admitting while the head fits. O(N log N) in the number of reports.
 */
export function planAdmission(entries: Iterable<LineEntry>, limits: FleetLimits): AdmissionPlan {
  let gathering = 0;
  let storageBytes = 0;
  const verdicts = new Map<string, Verdict>();
  const line: LineEntry[] = [];
  for (const entry of entries) {
    if (entry.admitted) {
      storageBytes += entry.sizeBytes;
      if (entry.gathering) gathering++;
    } else if (entry.outOfLine) {
      // Ended for good before admission keeps what it says; one being deleted is released by the API server at once.
      const { reason, message } = entry.outOfLine;
      verdicts.set(entry.key, isTerminalReason(reason) ? { admitted: false, waiting: { reason: reason as ReadyReason, message } } : { admitted: false });
    } else if (limits.storageBudgetBytes > 0 && entry.sizeBytes > limits.storageBudgetBytes) {
      verdicts.set(entry.key, { admitted: false, waiting: { reason: REFUSED, message: refusalMessage(entry.sizeBytes, limits) } });
    } else {
      line.push(entry);
    }
  }
  const usage = { gathering, storageBytes };
  // Without a limit, the order does not matter: every report starts.
  if (limits.maxGathering > 0 || limits.storageBudgetBytes > 0) line.sort(lineOrder);
  let admitted = 0;
  for (const entry of line) {
    const slotFree = limits.maxGathering <= 0 || gathering < limits.maxGathering;
    const storageFree = limits.storageBudgetBytes <= 0 || storageBytes + entry.sizeBytes <= limits.storageBudgetBytes;
    if (!slotFree || !storageFree) break;
    verdicts.set(entry.key, ADMITTED);
    gathering++;
    storageBytes += entry.sizeBytes;
    admitted++;
  }
  const head = line[admitted];
  for (let i = admitted; i < line.length; i++) {
    const position = i - admitted + 1;
    const message = position === 1 && head
      ? queuedMessage(1, limits, {
        gathering, storageBytes, sizeBytes: head.sizeBytes,
        slotFree: limits.maxGathering <= 0 || gathering < limits.maxGathering,
        storageFree: limits.storageBudgetBytes <= 0 || storageBytes + head.sizeBytes <= limits.storageBudgetBytes,
      })
      : queuedMessage(position, limits);
    verdicts.set(line[i]!.key, { admitted: false, waiting: { reason: QUEUED, message } });
  }
  return { verdicts, usage: { ...usage, queued: line.length - admitted } };
}

const sameVerdict = (a: Verdict, b: Verdict): boolean =>
  a.admitted === b.admitted && (a.admitted || b.admitted || (a.waiting?.reason === b.waiting?.reason && a.waiting?.message === b.waiting?.message));

const sameEntry = (a: LineEntry | undefined, b: LineEntry | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.uid === b.uid && a.createdAt === b.createdAt && a.sizeBytes === b.sizeBytes &&
    a.admitted === b.admitted && a.gathering === b.gathering && a.outOfLine?.reason === b.outOfLine?.reason && a.outOfLine?.message === b.outOfLine?.message);

export interface FleetAdmissionOptions {
  readonly limits: FleetLimits;
  /** The report of a key, from the controller's cache; undefined when it is gone. */
  readonly read: (key: string) => MustGatherReport | undefined;
  /** Brings a report whose verdict changed back to its reconcile. */
  readonly enqueue: (key: string) => void;
  /**
   * After each new plan, with what the fleet holds.
   * @default - nothing
   */
  readonly onPlan?: (usage: FleetUsage) => void;
}

/**
 * The line as the controller keeps it: one entry per report, from its cache's events. A change that matters to the
 * line (a report added or gone, admitted, done gathering, ...) plans again once per burst of events (the next turn of
 * the event loop, or at once when a reconcile asks); a status write of a queued report does not. Nothing here calls the
 * API server.
 */
export class FleetAdmission {
  private readonly entries = new Map<string, LineEntry>();
  /** Reports this operator admitted whose finalizer its cache does not show yet: key -> uid. */
  private readonly admittedHere = new Map<string, string>();
  private plan: AdmissionPlan = { verdicts: new Map(), usage: { gathering: 0, queued: 0, storageBytes: 0 } };
  private stale = false;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly options: FleetAdmissionOptions) {}

  get limits(): FleetLimits {
    return this.options.limits;
  }

  /** A report changed or went (a cache event). */
  touched(key: string): void {
    const report = this.options.read(key);
    const uid = this.admittedHere.get(key);
    if (uid !== undefined && (report?.metadata.uid !== uid || report.metadata.finalizers?.includes(FINALIZER))) this.admittedHere.delete(key);
    const entry = report && lineEntry(report, this.admittedHere.has(key));
    const before = this.entries.get(key);
    if (entry) this.entries.set(key, entry);
    else this.entries.delete(key);
    if (!sameEntry(before, entry)) this.invalidate();
  }

  /**
   * Whether `report` may start now, asked by its reconcile before it creates anything. Admitting is recorded at once,
   * so no other report takes the same slot before the cache shows this one's finalizer.
   */
  verdict(report: MustGatherReport): Verdict {
    const key = reportKey(report);
    const uid = report.metadata.uid ?? '';
    if (report.metadata.finalizers?.includes(FINALIZER) || this.admittedHere.get(key) === uid) return ADMITTED;
    if (this.entries.get(key)?.uid !== uid) this.touched(key);
    this.refresh();
    const verdict = this.plan.verdicts.get(key) ?? { admitted: false };
    if (verdict.admitted) {
      this.admittedHere.set(key, uid);
      this.touched(key);
    }
    return verdict;
  }

  /** What the fleet holds, as of the latest plan. */
  usage(): FleetUsage {
    this.refresh();
    return this.plan.usage;
  }

  /** Stops a pending plan (the controller stops). */
  stop(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }

  private invalidate(): void {
    this.stale = true;
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.refresh();
    });
  }

  /**
   * Plans again if something changed, and queues the reports whose verdict changed (a report new to the line is
   * queued by its own event already).
   */
  private refresh(): void {
    if (!this.stale) return;
    this.stale = false;
    const previous = this.plan.verdicts;
    this.plan = planAdmission(this.entries.values(), this.options.limits);
    for (const [key, verdict] of this.plan.verdicts) {
      const before = previous.get(key);
      if (before && !sameVerdict(before, verdict)) this.options.enqueue(key);
    }
    this.options.onPlan?.(this.plan.usage);
  }
}
