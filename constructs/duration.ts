/**
 * Go-style durations ("30m", "1h30m", "1.5h"), the format `oc adm must-gather --timeout/--since` and most Kubernetes
 * tools accept. The CRD checks the same grammar with CEL (`DURATION_PATTERN`), so the CLI and the API server agree.
 */

/** Anchored regular expression (RE2 and ECMAScript compatible) for a positive Go duration without sign. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g;

/** Milliseconds in a Go duration string, or `undefined` when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) total += Number(amount) * UNIT_MS[unit!]!;
  return total;
}

/** Whole seconds in a duration, rounded up so a timeout is never shorter than asked. */
export function durationSeconds(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`"${text}" is not a duration such as 30m or 1h30m`);
  return Math.ceil(ms / 1000);
}
