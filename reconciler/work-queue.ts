/**
 * A work queue with controller-runtime semantics: keys (not events) are queued, so a burst of events for one object
 * costs one reconcile; a key is never reconciled twice at once; failures retry with per-key exponential backoff;
 * a reconcile can ask to run again at a deadline (a timeout, an expiry).
 */

import { exponentialDelay } from '../kube/backoff.js';

/** What a handler may ask for: run again after this many milliseconds (even when nothing changes). */
export interface ReconcileResult {
  readonly requeueAfter?: number;
}

/** Reconciles one key. The signal aborts when the queue shuts down without draining. */
export type ReconcileHandler = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

export type ReconcileOutcome = 'success' | 'requeue' | 'error';

/** One finished handler run, for metrics and logs. */
export interface ProcessedEvent {
  readonly key: string;
  readonly result: ReconcileOutcome;
  readonly durationMs: number;
  readonly error?: unknown;
  /** When the key runs again: the backoff after an error, or the requested `requeueAfter`. */
  readonly retryInMs?: number;
}

/** Hooks for metrics; every one is optional. */
export interface WorkQueueObserver {
  /** After every handler run. */
  processed?(event: ProcessedEvent): void;
  /** Whenever the number of keys waiting for a worker changes. */
  depth?(depth: number): void;
}

export interface WorkQueueOptions {
  /** Handlers running at once, over distinct keys. @default 1 */
  readonly concurrency?: number;
  /** First retry delay of a failing key; doubles on each further failure. @default 100 */
  readonly baseDelayMs?: number;
  /** Cap of the retry delay. @default 300_000 (5 minutes) */
  readonly maxDelayMs?: number;
  readonly observer?: WorkQueueObserver;
  /** Where handler errors are reported (the observer sees them too). @default console.error */
  readonly logError?: (message: string, error: unknown) => void;
}

export const WORK_QUEUE_DEFAULTS = {
  concurrency: 1,
  baseDelayMs: 100,
  maxDelayMs: 5 * 60_000,
} as const;

/** The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ShutdownOptions {
  /** Wait for in-flight handlers to finish; otherwise their signal aborts and shutdown resolves at once. @default true */
  readonly drain?: boolean;
}

export class WorkQueue {
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly observer: WorkQueueObserver;
  private readonly logError: (message: string, error: unknown) => void;

  /** Keys ready for a worker, in order; every one is also in `dirty`. */
  private readonly ready: string[] = [];
  /** Keys that need a run: queued, or added again while in flight. */
  private readonly dirty = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly delayed = new Map<string, { deadline: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly abort = new AbortController();
  private handler: ReconcileHandler | undefined;
  private stopped = false;

  constructor(options: WorkQueueOptions = {}) {
    this.concurrency = options.concurrency ?? WORK_QUEUE_DEFAULTS.concurrency;
    this.baseDelayMs = options.baseDelayMs ?? WORK_QUEUE_DEFAULTS.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? WORK_QUEUE_DEFAULTS.maxDelayMs;
    this.observer = options.observer ?? {};
    this.logError = options.logError ?? ((message, error) => console.error(message, error));
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new Error(`work queue: concurrency must be a positive integer, not ${this.concurrency}`);
  }

  /** Queues a key unless it is already queued. A key in flight runs once more after it finishes. */
  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.inFlight.has(key)) return;
    this.ready.push(key);
    this.depthChanged();
    this.dispatch();
  }

  /** Queues a key after `ms`; of several pending deadlines for a key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const deadline = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.deadline <= deadline) return;
    if (pending) clearTimeout(pending.timer);
    this.arm(key, deadline);
  }

  /**
   * Waits for a deadline in steps of at most {@link MAX_TIMER_MS}: Node fires a longer timeout after 1 ms (a report
   * kept for 30 days would be reconciled in a tight loop).
   */
  private arm(key: string, deadline: number): void {
    const ms = Math.min(deadline - Date.now(), MAX_TIMER_MS);
    // Unref: a pending retry alone must not keep the process alive.
    const timer = setTimeout(() => {
      if (Date.now() < deadline) return this.arm(key, deadline);
      this.delayed.delete(key);
      this.add(key);
    }, Math.max(ms, 0)).unref();
    this.delayed.set(key, { deadline, timer });
  }

  /** Queues a key after its backoff, which doubles with each call until `forget`. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = exponentialDelay(failures, this.baseDelayMs, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets a key's backoff (after it succeeded). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures counted since the last `forget`. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting for a worker. */
  depth(): number {
    return this.ready.length;
  }

  /** Starts the workers. */
  run(handler: ReconcileHandler): void {
    if (this.handler) throw new Error('work queue: already running');
    this.handler = handler;
    this.dispatch();
  }

  /**
   * Stops taking work: queued and delayed keys are dropped (a level-triggered controller recomputes them from the
   * world when it starts again) and no handler starts. Resolves when the in-flight handlers have finished (`drain`),
   * or at once after aborting their signal.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.ready.length = 0;
    this.dirty.clear();
    this.depthChanged();
    if (options.drain ?? true) await Promise.all(this.inFlight.values());
    else this.abort.abort(new Error('work queue shut down'));
  }

  private dispatch(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.stopped && this.inFlight.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.dirty.delete(key);
      this.depthChanged();
      this.inFlight.set(key, this.process(key, handler));
    }
  }

  private async process(key: string, handler: ReconcileHandler): Promise<void> {
    const started = performance.now();
    let event: Omit<ProcessedEvent, 'durationMs'>;
    try {
      const result = await handler(key, this.abort.signal);
      this.forget(key);
      const requeueAfter = result?.requeueAfter ?? 0;
      if (requeueAfter > 0) this.addAfter(key, requeueAfter);
      event = requeueAfter > 0 ? { key, result: 'requeue', retryInMs: requeueAfter } : { key, result: 'success' };
    } catch (error) {
      // Every failure retries with backoff: a level-triggered reconcile that cannot succeed (an invalid spec) says so in
      // the report's status and returns, so nothing it throws is final. Only a queue shutting down drops the key.
      if (this.stopped) {
        this.logError(`reconcile ${key} failed during shutdown; not retrying`, error);
        event = { key, result: 'error', error };
      } else {
        const retryInMs = this.addRateLimited(key);
        this.logError(`reconcile ${key} failed; retrying in ${retryInMs} ms`, error);
        event = { key, result: 'error', error, retryInMs };
      }
    }
    this.notify(() => this.observer.processed?.({ ...event, durationMs: performance.now() - started }));
    this.inFlight.delete(key);
    if (this.dirty.has(key)) {
      this.ready.push(key);
      this.depthChanged();
    }
    this.dispatch();
  }

  private depthChanged(): void {
    this.notify(() => this.observer.depth?.(this.ready.length));
  }

  /** A failing observer must not stall the queue. */
  private notify(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logError('work queue: observer failed', error);
    }
  }
}
