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
}

export class EventRecorder {
  private readonly seen = new Set<string>();
  private readonly component: string;
  private readonly instance: string;

  constructor(private readonly client: KubeClient, private readonly options: EventRecorderOptions = {}) {
    this.component = options.component ?? 'mustgather-operator';
    this.instance = options.instance ?? process.env.HOSTNAME ?? 'local';
  }

  /** Records an event unless this process already recorded the same one for the same object. */
  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${target.metadata.uid ?? `${target.metadata.namespace}/${target.metadata.name}`}\0${reason}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
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
