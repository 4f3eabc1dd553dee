/**
 * Retry timing shared by the informers (re-list and re-watch) and the work queue (failed reconciles): exponential
 * delays with jitter, and a sleep that an abort ends early.
 */

/** `baseMs * 2^failures`, capped at `maxMs`. */
export function exponentialDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures, 52));
}

/** Between half and all of `ms`, so that clients failing together do not retry together. */
export function jittered(ms: number): number {
  return ms / 2 + (Math.random() * ms) / 2;
}

/** Resolves after `ms`, or at once when `signal` aborts, leaving no timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
