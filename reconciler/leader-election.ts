/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: so that two operator
 * replicas never reconcile at once. Every write carries the lease's resourceVersion, so of two candidates racing
 * for an expired lease the API server lets exactly one win (the other gets a 409). Expiry is judged by the local
 * clock from when this candidate last saw the lease change, never from the times written in it, so clock skew
 * between replicas does not matter.
 */
import { isConflict, type KubeClient, type KubeObject } from '../kube/client.js';
import { type ObjectRef, refString, RESOURCES } from '../kube/resources.js';
import { sleep } from '../kube/backoff.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  /** Where the lease lives. */
  readonly lease: { readonly namespace: string; readonly name: string };
  /** This candidate (the pod name, say); unique among the candidates. */
  readonly identity: string;
  /** How long others wait, from the last renewal they saw, before taking the lease over. @default 15_000 */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long stops leading (before others may take over). @default 10_000 */
  readonly renewDeadlineMs?: number;
  /** Between attempts to acquire or renew. @default 2_000 */
  readonly retryPeriodMs?: number;
  /** Called on becoming leader; `signal` aborts when leadership ends. The work it returns is awaited by `release()`. */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called when leadership ends: lost, stopped or released. */
  readonly onStoppedLeading?: () => void;
  /** Failed attempts and callbacks; the elector keeps trying by itself. @default console.error */
  readonly onError?: (error: Error) => void;
}

export const LEADER_ELECTION_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/** client-go's JitterFactor for acquire attempts: wait between 1 and 2.2 retry periods. */
const ACQUIRE_JITTER = 1.2;

export class LeaderElector {
  private readonly subject: string;
  private readonly ref: ObjectRef;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly reportError: (error: Error) => void;
  /** The lease as last read or written (its resourceVersion is the precondition of the next write). */
  private lease: Lease | undefined;
  /** When (local monotonic clock) the lease record last changed under our eyes. */
  private observedAt = 0;
  private leading: AbortController | undefined;
  private leaderWork: Promise<void> = Promise.resolve();
  private stopping = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    const ref = { kind: RESOURCES.Lease.kind, ...options.lease };
    this.subject = `leader election ${refString(ref)} (${options.identity})`;
    this.ref = ref;
    this.leaseDurationMs = options.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs;
    this.reportError = options.onError ?? ((error) => console.error(error));
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error(`${this.subject}: needs leaseDuration > renewDeadline > retryPeriod`);
    }
  }

  isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder of the lease as last seen ('' when released), or undefined before the first read. */
  observedLeader(): string | undefined {
    return this.lease?.spec?.holderIdentity;
  }

  /**
   * Campaigns until this candidate holds the lease, then leads and renews until the lease is lost or the elector
   * stops. Resolves when that is over: like client-go, it does not campaign again (a replica that lost the lease
   * should restart from a clean slate); call `run()` again to do so.
   */
  run(): Promise<void> {
    if (this.running) throw new Error(`${this.subject}: already running`);
    if (this.stopping.signal.aborted) this.stopping = new AbortController();
    this.running = this.campaign().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Graceful shutdown: stops leading, waits for the work `onStartedLeading` returned, then hands the lease over by
   * emptying its holder (with a one-second duration), so a successor takes over at its next attempt rather than
   * after a full lease duration.
   */
  async release(): Promise<void> {
    await this.stop();
    await this.leaderWork;
    const deadline = AbortSignal.timeout(this.renewDeadlineMs);
    // A renewal that stop() cut short may still have landed, leaving the version seen here stale (409): read again.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.lease?.spec?.holderIdentity !== this.options.identity) return;
      const now = microTime(new Date());
      try {
        await this.write({ ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now }, 'update', deadline);
        return;
      } catch (error) {
        if (isConflict(error) && !deadline.aborted) {
          await this.client.get<Lease>(this.ref, { signal: deadline }).then((lease) => lease && this.observe(lease), () => undefined);
          continue;
        }
        // The lease then expires by itself after its duration.
        this.report('could not release the lease', error);
        return;
      }
    }
  }

  /** Stops campaigning or leading without releasing (others take over once the lease expires). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async campaign(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) {
      await sleep(this.retryPeriodMs * (1 + ACQUIRE_JITTER * Math.random()), signal);
    }
    if (signal.aborted) return;
    this.startLeading();
    let renewedAt = performance.now();
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        renewedAt = performance.now();
        continue;
      }
      const holder = this.lease?.spec?.holderIdentity;
      if (holder && holder !== this.options.identity) {
        this.report(`lease taken over by ${holder}`);
        break;
      }
      if (performance.now() - renewedAt > this.renewDeadlineMs) {
        this.report(`could not renew the lease for ${this.renewDeadlineMs} ms`);
        break;
      }
    }
    this.stopLeading();
  }

  /** One attempt; true when this candidate holds the lease afterwards. Failures are reported, not thrown. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    try {
      const current = await this.read();
      const now = microTime(new Date());
      const mine = { holderIdentity: this.options.identity, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), renewTime: now };
      if (!current) {
        await this.write({ ...mine, acquireTime: now, leaseTransitions: 0 }, 'create');
        return true;
      }
      const spec = current.spec ?? {};
      const held = spec.holderIdentity === this.options.identity;
      const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
      if (!held && spec.holderIdentity && performance.now() < this.observedAt + durationMs) return false;
      await this.write(held ? { ...spec, ...mine } : { ...mine, acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 });
      return true;
    } catch (error) {
      // A conflict is another candidate's write winning the race, and an abort is stop(): neither is a failure.
      if (!isConflict(error) && !this.stopping.signal.aborted) this.report('acquiring or renewing the lease failed', error);
      return false;
    }
  }

  /** Reads the lease, noting when its record changed. */
  private async read(): Promise<Lease | undefined> {
    const lease = await this.client.get<Lease>(this.ref, { signal: this.requestSignal() });
    if (lease) this.observe(lease);
    return lease;
  }

  /**
   * Replaces (or creates) the lease's spec; an update keeps the rest of the lease as last seen, its resourceVersion
   * included as the precondition.
   */
  private async write(spec: LeaseSpec, verb: 'create' | 'update' = 'update', signal = this.requestSignal()): Promise<void> {
    const body: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: RESOURCES.Lease.kind,
      metadata: {
        ...(verb === 'update' ? { ...this.lease?.metadata, managedFields: undefined } : {}),
        name: this.options.lease.name,
        namespace: this.options.lease.namespace,
      },
      spec,
    };
    this.observe(await (verb === 'create' ? this.client.create<Lease>(body, { signal }) : this.client.update<Lease>(body, { signal })));
  }

  private observe(lease: Lease): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== JSON.stringify(this.lease?.spec ?? {}) || !this.lease) this.observedAt = performance.now();
    this.lease = lease;
  }

  /** One request may take at most a renew deadline: a hung connection must not keep a stale leader leading. */
  private requestSignal(): AbortSignal {
    return AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.renewDeadlineMs)]);
  }

  private startLeading(): void {
    const leading = new AbortController();
    this.leading = leading;
    try {
      this.leaderWork = Promise.resolve(this.options.onStartedLeading(leading.signal)).catch((error) => this.report('onStartedLeading failed', error));
    } catch (error) {
      this.report('onStartedLeading failed', error);
    }
  }

  private stopLeading(): void {
    this.leading?.abort();
    this.leading = undefined;
    try {
      this.options.onStoppedLeading?.();
    } catch (error) {
      this.report('onStoppedLeading failed', error);
    }
  }

  private report(message: string, cause?: unknown): void {
    try {
      this.reportError(new Error(`${this.subject}: ${message}`, cause === undefined ? {} : { cause }));
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }
}

/** A Kubernetes MicroTime (RFC 3339 with exactly six fractional digits, which the API server requires). */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
