/**
 * Kubernetes Events on reports, for what a person wants to know (created, gathering, a failed image, ready,
 * expired). One event per (report, reason, message) per process: a level-triggered loop would otherwise repeat them.
 */
import { randomBytes } from 'node:crypto';
import type { KubeClient } from './client.js';
import { collectionPath, RESOURCES } from './resources.js';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid?: string; readonly resourceVersion?: string };
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** `source.component` and `reportingComponent`. @default 'mustgather-operator' */
  readonly component?: string;
  /** Identity of this operator instance (`reportingInstance`). @default the host name */
  readonly instance?: string;
  /** Logs failures to record (an event is never worth failing a reconcile for). */
  readonly onError?: (err: Error) => void;
  /**
   * Events written at once; the rest wait their turn (client-go's broadcaster is asynchronous too): a fleet of reports
   * must not spend the API server's attention on events before the work the events describe.
   * @default 2
   */
  readonly maxInFlight?: number;
}

export class EventRecorder {
  private readonly seen = new Set<string>();
  private readonly component: string;
  private readonly instance: string;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly client: KubeClient, private readonly options: EventRecorderOptions = {}) {
    this.component = options.component ?? 'mustgather-operator';
    this.instance = options.instance ?? process.env.HOSTNAME ?? 'local';
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /**
   * Records an event unless this process already recorded the same one for the same object. Resolves once it is
   * written (or failed, reported to `onError`); callers need not wait.
   */
  record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${target.metadata.uid ?? `${target.metadata.namespace}/${target.metadata.name}`}\0${reason}\0${message}`;
    if (this.seen.has(key)) return Promise.resolve();
    this.seen.add(key);
    const written = this.write(key, target, type, reason, message);
    this.pending.add(written);
    void written.finally(() => this.pending.delete(written));
    return written;
  }

  /** Resolves once every event recorded so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async write(key: string, target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    if (this.inFlight >= this.maxInFlight) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      await this.post(key, target, type, reason, message);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private async post(key: string, target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    try {
      await this.client.request('POST', collectionPath(RESOURCES.Event, target.metadata.namespace), {
        subject: `Event for ${target.kind}/${target.metadata.namespace}/${target.metadata.name}`,
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${target.metadata.name.slice(0, 200)}.${randomBytes(8).toString('hex')}`, namespace: target.metadata.namespace },
          involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.metadata.name, namespace: target.metadata.namespace, uid: target.metadata.uid },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.seen.delete(key);
      this.options.onError?.(err as Error);
    }
  }

  /** Forgets a deleted object's events. */
  forget(uid: string): void {
    for (const key of this.seen) if (key.startsWith(`${uid}\0`)) this.seen.delete(key);
  }
}
