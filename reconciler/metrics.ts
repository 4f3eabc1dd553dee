/**
 * The operator's Prometheus metrics, in a registry of their own: a global registry leaks metrics between tests and
 * between operators embedded in one process.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestObserver } from '../kube/client.js';
import type { WorkQueueObserver } from './work-queue.js';

export interface MetricsOptions {
  /** Also export prom-client's process and Node.js metrics (`process_*`, `nodejs_*`). @default true */
  readonly defaultMetrics?: boolean;
}

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileErrorsTotal: Counter;
  readonly reconcileDuration: Histogram;
  readonly workqueueDepth: Gauge;
  /** Reports by condition type and status; the reconciler sets it. */
  readonly reports: Gauge<'condition' | 'status'>;
  readonly apiRequestsTotal: Counter<'verb' | 'code'>;
  /** Reports waiting in line for the fleet's limits (Ready=False, reason Queued). */
  readonly reportsQueued: Gauge;
  /** Admitted reports still gathering (each holds a `--max-gathering` slot). */
  readonly reportsGathering: Gauge;
  /** `--max-gathering` (0: no limit). */
  readonly gatheringLimit: Gauge;
  /** The volumes of live admitted reports together (what counts against `--storage-budget`). */
  readonly storageUsedBytes: Gauge;
  /** `--storage-budget` in bytes (0: no limit). */
  readonly storageBudgetBytes: Gauge;
}

export function createMetrics(options: MetricsOptions = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    reconcileTotal: new Counter({
      name: 'mustgather_reconcile_total', help: 'Reconciles by result (success, error, requeue).', labelNames: ['result'], registers,
    }),
    reconcileErrorsTotal: new Counter({ name: 'mustgather_reconcile_errors_total', help: 'Reconciles that failed.', registers }),
    reconcileDuration: new Histogram({
      name: 'mustgather_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      // Reconciles are API round trips: milliseconds normally, up to a minute against a struggling API server.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    workqueueDepth: new Gauge({ name: 'mustgather_workqueue_depth', help: 'Keys waiting for a worker.', registers }),
    reports: new Gauge({
      name: 'mustgather_reports', help: 'MustGatherReports by condition type and status.', labelNames: ['condition', 'status'], registers,
    }),
    apiRequestsTotal: new Counter({
      name: 'mustgather_api_requests_total', help: 'Kubernetes API requests by HTTP verb and status code.', labelNames: ['verb', 'code'], registers,
    }),
    reportsQueued: new Gauge({ name: 'mustgather_reports_queued', help: 'Reports waiting in line for the fleet\'s limits (Ready=False, reason Queued).', registers }),
    reportsGathering: new Gauge({ name: 'mustgather_reports_gathering', help: 'Admitted reports still gathering.', registers }),
    gatheringLimit: new Gauge({ name: 'mustgather_gathering_limit', help: 'Reports that may gather at once (--max-gathering; 0: no limit).', registers }),
    storageUsedBytes: new Gauge({
      name: 'mustgather_storage_used_bytes', help: 'Volume sizes (spec.storage.size) of the live admitted reports together: what counts against --storage-budget.', registers,
    }),
    storageBudgetBytes: new Gauge({ name: 'mustgather_storage_budget_bytes', help: 'The storage budget of report volumes (--storage-budget; 0: no limit).', registers }),
  };
}

/** Feeds the reconcile and work queue metrics from a WorkQueue. */
export function workQueueObserver(metrics: OperatorMetrics): WorkQueueObserver {
  return {
    processed({ result, durationMs }) {
      metrics.reconcileTotal.inc({ result });
      if (result === 'error') metrics.reconcileErrorsTotal.inc();
      metrics.reconcileDuration.observe(durationMs / 1000);
    },
    depth(depth) {
      metrics.workqueueDepth.set(depth);
    },
  };
}

/** Feeds `mustgather_api_requests_total` from `KubeClient.observe`. */
export function apiRequestObserver(metrics: OperatorMetrics): RequestObserver {
  return (method, _path, statusCode) => metrics.apiRequestsTotal.inc({ verb: method, code: String(statusCode) });
}
