/**
 * The operator's control loop: informers (the {@link ReportCache}) turn every change to a report, or to anything it
 * owns, into the report's key on a work queue; workers run `reconcile(key)`, which reads from those same caches.
 * Events only enqueue keys; all decisions happen in reconcile.
 */
import { reportNamespaceName } from '../constructs/report-identity.js';
import type { OperatorImages } from '../constructs/operator-config.js';
import type { MustGatherReport } from '../constructs/report-api.js';
import { FleetAdmission, type FleetLimits, type FleetUsage } from './admission.js';
import { ReportCache } from './cache.js';
import type { OperatorHealth } from './cluster-operator.js';
import { EventRecorder } from '../kube/events.js';
import type { KubeClient } from '../kube/client.js';
import { type Logger, silentLogger } from './log.js';
import { type OperatorMetrics, workQueueObserver } from './metrics.js';
import { Reconciler, type ReconcilerOptions } from './reconcile.js';
import { parseReportKey, reportKey } from './report-key.js';
import { sweepOrphans } from './ownership.js';
import { RESOURCES } from '../kube/resources.js';
import { WorkQueue } from './work-queue.js';

/** What the controller passes through to its {@link Reconciler}. */
type ReportOptions = Pick<ReconcilerOptions, 'platform' | 'operatorNamespace' | 'ingress' | 'downloadAccess' | 'startTimeoutMs' | 'defaultGatherImage' | 'allowedRegistries'>;

export interface ControllerOptions extends ReportOptions {
  readonly client: KubeClient;
  /** Images of the report pod's own containers. @default DEFAULT_IMAGES */
  readonly images?: OperatorImages;
  /** Namespaces whose reports are reconciled. @default all namespaces */
  readonly namespaces?: readonly string[];
  /** Reports reconciled at once. @default 4 */
  readonly concurrency?: number;
  /**
   * The fleet's limits: reports gathering at once, and the storage budget of their volumes (reconciler/admission.ts).
   * @default - none (every report starts at once; `mustgather run` sets DEFAULT_MAX_GATHERING and DEFAULT_STORAGE_BUDGET)
   */
  readonly limits?: FleetLimits;
  /** Re-reconcile every report this often even without events (a safety net, not the mechanism). @default 600_000 */
  readonly resyncMs?: number;
  /** @default - none */
  readonly metrics?: OperatorMetrics;
  /** @default silentLogger */
  readonly log?: Logger;
  /** Informer watch timeout; tests shorten it. @default 300 */
  readonly watchTimeoutSeconds?: number;
  /** First retry delay of a failing reconcile. @default 100 */
  readonly baseDelayMs?: number;
  /**
   * Called when a report appears or goes away, or what the fleet holds changes (what the ClusterOperator says).
   * @default - nothing
   */
  readonly onReportsChanged?: () => void;
  /** The reconciler's clock. @default () => new Date() */
  readonly now?: () => Date;
}

/** How long report events gather before the report gauge and count are brought up to date. */
const REPORTS_SETTLE_MS = 250;

export class Controller {
  private readonly log: Logger;
  private readonly queue: WorkQueue;
  private readonly cache: ReportCache;
  private readonly reconciler: Reconciler;
  private readonly events: EventRecorder;
  private readonly admission: FleetAdmission;
  /** What the fleet held at the last plan, to tell the ClusterOperator only of changes. */
  private fleet: FleetUsage | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Reports whose last reconciles failed, for the ClusterOperator's Degraded condition. */
  private readonly failing = new Map<string, { failures: number; message: string }>();
  private started = false;
  private reportsTimer: NodeJS.Timeout | undefined;
  /** Reports known when the report set was last looked at. */
  private reportCount = 0;

  constructor(private readonly options: ControllerOptions) {
    this.log = options.log ?? silentLogger;
    const { client } = options;
    const onError = (error: Error) => this.log.error('watch failed, retrying', { error });
    const { platform, operatorNamespace, ingress, downloadAccess, startTimeoutMs } = options;
    this.cache = new ReportCache({
      client, informer: { onError, ...(options.watchTimeoutSeconds ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}) },
      ...(platform ? { platform } : {}), ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    });
    const metricsObserver = options.metrics ? workQueueObserver(options.metrics) : undefined;
    this.queue = new WorkQueue({
      concurrency: options.concurrency ?? 4,
      ...(options.baseDelayMs ? { baseDelayMs: options.baseDelayMs } : {}),
      observer: {
        processed: (event) => {
          metricsObserver?.processed?.(event);
          if (event.result !== 'error') this.failing.delete(event.key);
          else this.failing.set(event.key, { failures: (this.failing.get(event.key)?.failures ?? 0) + 1, message: String((event.error as Error)?.message ?? event.error) });
        },
        depth: (depth) => metricsObserver?.depth?.(depth),
      },
      logError: (message, error) => this.log.error(message, { error }),
    });
    const events = new EventRecorder(client, { onError: (error) => this.log.error('recording an event failed', { error }) });
    this.events = events;
    const limits = options.limits ?? { maxGathering: 0, storageBudgetBytes: 0 };
    options.metrics?.gatheringLimit.set(limits.maxGathering);
    options.metrics?.storageBudgetBytes.set(limits.storageBudgetBytes);
    this.admission = new FleetAdmission({
      limits,
      read: (key) => {
        const ref = parseReportKey(key);
        return ref && this.cache.get<MustGatherReport>({ kind: RESOURCES.MustGatherReport.kind, ...ref });
      },
      enqueue: (key) => this.queue.add(key),
      onPlan: (usage) => this.fleetPlanned(usage),
    });
    this.reconciler = new Reconciler({
      client, events, cache: this.cache, admission: (report) => this.admission.verdict(report),
      ...(platform ? { platform } : {}), ...(operatorNamespace ? { operatorNamespace } : {}),
      ...(ingress ? { ingress } : {}), ...(downloadAccess ? { downloadAccess } : {}),
      ...(startTimeoutMs !== undefined ? { startTimeoutMs } : {}),
      ...(options.images ? { images: options.images } : {}),
      ...(options.defaultGatherImage ? { defaultGatherImage: options.defaultGatherImage } : {}),
      ...(options.allowedRegistries ? { allowedRegistries: options.allowedRegistries } : {}),
      ...(options.now ? { now: options.now } : {}),
      onChanges: (key, changes) => {
        const changed = changes.filter((c) => c.action !== 'unchanged');
        if (changed.length > 0) this.log.info('reconciled', { report: key, changes: changed.map((c) => `${c.subject} ${c.action}`) });
      },
    });
    this.cache.onChange((key, source) => {
      if (source === 'report') this.admission.touched(key);
      this.queue.add(key);
      if (source === 'report') this.reportsTouched();
    });
  }

  /** Sweeps orphans, starts the watches, and reconciles until `stop()`. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const swept = await sweepOrphans(this.options.client);
    if (swept.length > 0) this.log.info('swept orphans', { deleted: swept.map((s) => s.subject) });
    this.cache.start();
    await this.cache.waitForSync();
    this.queue.run((key) => this.reconciler.reconcile(key));
    const resyncMs = this.options.resyncMs ?? 600_000;
    this.resyncTimer = setInterval(() => this.enqueueAll(), resyncMs);
    this.resyncTimer.unref();
    this.log.info('controller started', { namespaces: this.options.namespaces?.length ? this.options.namespaces : 'all' });
  }

  /** Every known report's key, queued (what a resync does). */
  enqueueAll(): void {
    for (const report of this.cache.reports()) this.queue.add(reportKey(report));
  }

  /** Ready once every watch has listed. */
  isReady(): { ready: true } | { ready: false; reason: string } {
    if (!this.started) return { ready: false, reason: 'not started (waiting for leadership?)' };
    const pending = this.cache.unsynced();
    return pending === 0 ? { ready: true } : { ready: false, reason: `${pending} watches still listing` };
  }

  /** What the ClusterOperator reports. */
  health(): OperatorHealth {
    const reports = this.cache.reports();
    return {
      synced: this.isReady().ready,
      failing: [...this.failing].map(([key, f]) => ({ key, ...f })),
      reportNamespaces: reports.map((report) => reportNamespaceName(report.metadata)),
      fleet: { ...this.admission.usage(), ...this.admission.limits },
    };
  }

  /** Stops the watches and lets in-flight reconciles finish. */
  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    clearTimeout(this.reportsTimer);
    this.admission.stop();
    await this.cache.stop();
    await this.queue.shutdown({ drain: true });
    await this.events.flush();
    this.log.info('controller stopped');
  }

  /** A new plan of the line: its gauges, and the ClusterOperator when what the fleet holds changed. */
  private fleetPlanned(usage: FleetUsage): void {
    const metrics = this.options.metrics;
    metrics?.reportsQueued.set(usage.queued);
    metrics?.reportsGathering.set(usage.gathering);
    metrics?.storageUsedBytes.set(usage.storageBytes);
    const before = this.fleet;
    this.fleet = usage;
    if (before && (before.queued !== usage.queued || before.gathering !== usage.gathering || before.storageBytes !== usage.storageBytes)) this.options.onReportsChanged?.();
  }

  /**
   * A report changed: the gauge of reports by condition and the report count are brought up to date shortly after,
   * once for a burst (each is a walk over every report; per event, a fleet of N reports would cost N² steps).
   */
  private reportsTouched(): void {
    this.reportsTimer ??= setTimeout(() => {
      this.reportsTimer = undefined;
      const reports = this.cache.reports();
      const gauge = this.options.metrics?.reports;
      if (gauge) {
        gauge.reset();
        for (const report of reports) {
          for (const condition of report.status?.conditions ?? []) gauge.inc({ condition: condition.type, status: condition.status });
        }
      }
      if (reports.length !== this.reportCount) {
        this.reportCount = reports.length;
        this.options.onReportsChanged?.();
      }
    }, REPORTS_SETTLE_MS);
    this.reportsTimer.unref();
  }
}
