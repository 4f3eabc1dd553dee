/**
 * Leader election against a real kube-apiserver: two candidates on one Lease, with durations short enough for a
 * test (lease 2 s, renew deadline 1.5 s, retry 200 ms).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.js';
import { type Lease, LeaderElector, type LeaderElectionOptions } from '../../reconciler/leader-election.js';
import { adminClient, eventually, testNamespace } from './helpers.js';

const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 } as const;

let admin: KubeClient;
beforeAll(() => {
  admin = adminClient();
});

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((elector) => elector.stop()));
});

/** A candidate that records when it led and every error. */
function candidate(namespace: string, identity: string, options: Partial<LeaderElectionOptions> = {}) {
  const log: string[] = [];
  const errors: Error[] = [];
  let leadSignal: AbortSignal | undefined;
  const elector = new LeaderElector(admin, {
    lease: { namespace, name: 'operator' },
    identity,
    ...TIMING,
    onStartedLeading: (signal) => {
      leadSignal = signal;
      log.push('started');
    },
    onStoppedLeading: () => log.push('stopped'),
    onError: (error) => errors.push(error),
    ...options,
  });
  electors.push(elector);
  const done = elector.run();
  return { elector, log, errors, done, signal: () => leadSignal };
}

const readLease = (namespace: string) => admin.get<Lease>({ kind: 'Lease', namespace, name: 'operator' });

/** Waits until exactly one of the two candidates leads; returns it, then the other. */
async function oneLeader<C extends { elector: LeaderElector }>(a: C, b: C): Promise<[C, C]> {
  return eventually(async () => (a.elector.isLeader() !== b.elector.isLeader() ? (a.elector.isLeader() ? [a, b] : [b, a]) as [C, C] : undefined), 'one leader', 10_000, 20);
}

describe('LeaderElector', () => {
  it('lets exactly one of two candidates lead, and keeps it leading', async () => {
    const ns = await testNamespace(admin, 'le');
    const a = candidate(ns, 'a');
    const b = candidate(ns, 'b');
    const [leader, follower] = await oneLeader(a, b);
    // Over several lease durations of renewals, never both and never neither.
    const until = Date.now() + 2.5 * TIMING.leaseDurationMs;
    while (Date.now() < until) {
      expect(leader.elector.isLeader()).toBe(true);
      expect(follower.elector.isLeader()).toBe(false);
      await sleep(25);
    }
    expect(leader.log).toEqual(['started']);
    expect(follower.log).toEqual([]);
    const lease = await readLease(ns);
    expect(lease?.spec?.holderIdentity).toBe(leader === a ? 'a' : 'b');
    expect(lease?.spec?.leaseDurationSeconds).toBe(2);
    expect(lease?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(follower.elector.observedLeader()).toBe(lease?.spec?.holderIdentity);
    expect([...leader.errors, ...follower.errors]).toEqual([]);
  });

  it('hands over at once on release()', async () => {
    // A lease long enough that only a release explains a quick takeover, however loaded the machine.
    const long = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: TIMING.retryPeriodMs };
    const ns = await testNamespace(admin, 'le');
    const leader = candidate(ns, 'a', long);
    await eventually(async () => leader.elector.isLeader(), 'a to lead', 10_000, 20);
    const b = candidate(ns, 'b', long);
    await sleep(3 * TIMING.retryPeriodMs);
    expect(b.elector.isLeader()).toBe(false);

    const released = performance.now();
    await leader.elector.release();
    await leader.done;
    expect(leader.log).toEqual(['started', 'stopped']);
    expect(leader.signal()?.aborted).toBe(true);
    await eventually(async () => b.elector.isLeader(), 'b to lead', 15_000, 10);
    // At b's next attempt, not when the lease would have expired.
    expect(performance.now() - released).toBeLessThan(long.leaseDurationMs / 2);
    const lease = await readLease(ns);
    expect(lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(b.errors).toEqual([]);
  });

  it('replaces a leader that stopped without releasing once its lease expires', async () => {
    const ns = await testNamespace(admin, 'le');
    const a = candidate(ns, 'a');
    const b = candidate(ns, 'b');
    const [leader, follower] = await oneLeader(a, b);
    const stopped = performance.now();
    await leader.elector.stop(); // a crash, as far as the lease can tell
    expect(leader.log).toEqual(['started', 'stopped']);
    expect((await readLease(ns))?.spec?.holderIdentity).toBe(leader === a ? 'a' : 'b');
    await eventually(async () => follower.elector.isLeader(), 'the follower to take over', 10_000, 10);
    const elapsed = performance.now() - stopped;
    // The leader renewed about one retry period before stopping; the follower waits a lease duration from there.
    expect(elapsed).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - 2 * TIMING.retryPeriodMs);
    // Soon after expiry (a loaded machine may add seconds; what matters is that it happens, and not before).
    expect(elapsed).toBeLessThan(3 * TIMING.leaseDurationMs);
  });

  it('stops leading when another holder takes the lease', async () => {
    const ns = await testNamespace(admin, 'le');
    const a = candidate(ns, 'a');
    await eventually(async () => a.elector.isLeader(), 'a to lead', 10_000, 20);
    await admin.patch({ kind: 'Lease', namespace: ns, name: 'operator' }, { spec: { holderIdentity: 'intruder', leaseDurationSeconds: 60 } });
    await a.done; // run() ends with leadership
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log).toEqual(['started', 'stopped']);
    expect(a.signal()?.aborted).toBe(true);
    expect(a.errors.map((e) => e.message)).toEqual([`leader election Lease/${ns}/operator (a): lease taken over by intruder`]);
  });

  it('waits for the leader work before releasing', async () => {
    const ns = await testNamespace(admin, 'le');
    let drained = false;
    const a = candidate(ns, 'a', {
      onStartedLeading: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => setTimeout(() => {
        drained = true;
        resolve();
      }, 300))),
    });
    await eventually(async () => a.elector.isLeader(), 'a to lead', 10_000, 20);
    await a.elector.release();
    expect(drained).toBe(true);
    expect((await readLease(ns))?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });
});
