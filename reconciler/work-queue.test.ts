import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { exponentialDelay } from '../kube/backoff.js';
import { type ProcessedEvent, WorkQueue, type WorkQueueOptions } from './work-queue.js';


/** Polls until `condition` holds, or fails naming what it waited for. */
async function until(what: string, condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A queue whose errors and results are recorded rather than logged. */
function recordingQueue(options: WorkQueueOptions = {}) {
  const processed: ProcessedEvent[] = [];
  const depths: number[] = [];
  const logged: string[] = [];
  const queue = new WorkQueue({
    observer: { processed: (event) => processed.push(event), depth: (depth) => depths.push(depth) },
    logError: (message) => logged.push(message),
    ...options,
  });
  return { queue, processed, depths, logged };
}

describe('WorkQueue', () => {
  it('deduplicates a key added many times before it runs', async () => {
    const { queue, depths } = recordingQueue();
    for (let i = 0; i < 3; i++) queue.add('a');
    queue.add('b');
    expect(queue.depth()).toBe(2);
    const runs: string[] = [];
    queue.run(async (key) => void runs.push(key));
    await until('both keys', () => runs.length === 2);
    await sleep(10);
    expect(runs).toEqual(['a', 'b']);
    expect(queue.depth()).toBe(0);
    expect(depths.at(-1)).toBe(0);
    await queue.shutdown();
  });

  it('never runs a key twice at once, and re-runs it once when added while in flight', async () => {
    const { queue } = recordingQueue({ concurrency: 4 });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gate = deferred();
    queue.run(async () => {
      runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await gate.promise;
      running--;
    });
    queue.add('a');
    await until('first run', () => runs === 1);
    queue.add('a');
    queue.add('a');
    await sleep(20);
    expect(runs).toBe(1);
    gate.resolve();
    await until('second run', () => runs === 2);
    await sleep(20);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
    await queue.shutdown();
  });

  it('runs at most `concurrency` handlers at once', async () => {
    const { queue } = recordingQueue({ concurrency: 2 });
    let running = 0;
    let maxRunning = 0;
    const done: string[] = [];
    queue.run(async (key) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(15);
      running--;
      done.push(key);
    });
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key);
    await until('all keys', () => done.length === 5);
    expect(maxRunning).toBe(2);
    expect(done.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    await queue.shutdown();
  });

  it('doubles the backoff per failure up to the cap, and forget resets it', async () => {
    expect([0, 1, 2, 3].map((n) => exponentialDelay(n, 100, 300_000))).toEqual([100, 200, 400, 800]);
    expect(exponentialDelay(30, 100, 300_000)).toBe(300_000);
    expect(exponentialDelay(5_000, 100, 300_000)).toBe(300_000);

    const { queue } = recordingQueue({ baseDelayMs: 10, maxDelayMs: 35 });
    expect([1, 2, 3, 4].map(() => queue.addRateLimited('a'))).toEqual([10, 20, 35, 35]);
    expect(queue.retries('a')).toBe(4);
    queue.forget('a');
    expect(queue.retries('a')).toBe(0);
    expect(queue.addRateLimited('a')).toBe(10);
    await queue.shutdown();
  });

  it('retries a failing key with growing delays, then forgets its failures on success', async () => {
    const { queue, processed, logged } = recordingQueue({ baseDelayMs: 20 });
    const startedAt: number[] = [];
    queue.run(async () => {
      startedAt.push(performance.now());
      if (startedAt.length <= 3) throw new Error('not yet');
    });
    queue.add('a');
    await until('success after three failures', () => processed.length === 4);
    const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
    // 20, 40, 80 ms (timers fire no earlier than asked; allow scheduling slack above).
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(processed.map((e) => [e.result, e.retryInMs])).toEqual([['error', 20], ['error', 40], ['error', 80], ['success', undefined]]);
    expect(logged[0]).toBe('reconcile a failed; retrying in 20 ms');
    expect(queue.retries('a')).toBe(0);
    await queue.shutdown();
  });

  it('runs a key again after the requested requeueAfter', async () => {
    const { queue, processed } = recordingQueue();
    const startedAt: number[] = [];
    queue.run(async () => {
      startedAt.push(performance.now());
      return startedAt.length === 1 ? { requeueAfter: 30 } : undefined;
    });
    queue.add('a');
    await until('the requeued run', () => startedAt.length === 2);
    expect(startedAt[1]! - startedAt[0]!).toBeGreaterThanOrEqual(29);
    await until('two results', () => processed.length === 2);
    expect(processed.map((e) => e.result)).toEqual(['requeue', 'success']);
    await queue.shutdown();
  });

  it('keeps the earliest pending deadline of a key', async () => {
    const { queue } = recordingQueue();
    const runs: Record<string, number[]> = { early: [], late: [] };
    const start = performance.now();
    queue.run(async (key) => void runs[key]!.push(performance.now() - start));
    queue.addAfter('early', 200);
    queue.addAfter('early', 20); // replaces the later deadline
    queue.addAfter('late', 20);
    queue.addAfter('late', 200); // ignored: an earlier one is pending
    await sleep(300);
    for (const key of ['early', 'late']) {
      expect(runs[key]).toHaveLength(1);
      expect(runs[key]![0]).toBeGreaterThanOrEqual(19);
      expect(runs[key]![0]).toBeLessThan(150);
    }
    await queue.shutdown();
  });

  it('waits out a deadline longer than a Node timer can hold (a report kept for 30 days)', async () => {
    const { queue } = recordingQueue();
    const runs: string[] = [];
    queue.run(async (key) => void runs.push(key));
    queue.addAfter('month', 30 * 24 * 3600_000);
    queue.addAfter('soon', 20);
    await sleep(100);
    expect(runs).toEqual(['soon']);
    await queue.shutdown();
  });

  it('shuts down after in-flight handlers finish, dropping queued and delayed keys', async () => {
    const { queue } = recordingQueue();
    const runs: string[] = [];
    let finished = false;
    queue.run(async (key) => {
      runs.push(key);
      await sleep(40);
      finished = true;
    });
    queue.add('a');
    queue.add('b'); // waits for the single worker
    queue.addAfter('c', 10);
    await until('a started', () => runs.length === 1);
    await queue.shutdown();
    expect(finished).toBe(true);
    queue.add('d');
    await sleep(40);
    expect(runs).toEqual(['a']);
    expect(queue.depth()).toBe(0);
  });

  it('aborts in-flight handlers when shutting down without draining', async () => {
    const { queue, processed, logged } = recordingQueue({ baseDelayMs: 5 });
    let signal: AbortSignal | undefined;
    queue.run(async (_key, s) => {
      signal = s;
      await new Promise((resolve) => s.addEventListener('abort', resolve));
      throw new Error('aborted');
    });
    queue.add('a');
    await until('a started', () => signal !== undefined);
    await queue.shutdown({ drain: false });
    expect(signal!.aborted).toBe(true);
    await until('the aborted run recorded', () => processed.length === 1);
    expect(processed[0]).toMatchObject({ result: 'error' });
    expect(processed[0]!.retryInMs).toBeUndefined();
    // The one failure that is not retried: the queue is gone.
    expect(logged).toEqual(['reconcile a failed during shutdown; not retrying']);
  });

  it('keeps going when an observer throws', async () => {
    const logged: string[] = [];
    const queue = new WorkQueue({ observer: { depth: () => { throw new Error('boom'); } }, logError: (message) => logged.push(message) });
    const runs: string[] = [];
    queue.run(async (key) => void runs.push(key));
    queue.add('a');
    await until('a ran', () => runs.length === 1);
    expect(logged).toContain('work queue: observer failed');
    await queue.shutdown();
  });
});
