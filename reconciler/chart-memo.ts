/**
 * The last chart rendered for each report, by a digest of what it was rendered from. A report is reconciled on every
 * watch event of what it owns, its inputs rarely change, and a render costs milliseconds of CPU. Kept packed (a 40 KB
 * chart in 5 KB; unpacking it costs a tenth of a render): a thousand reports' charts held as objects would be most of
 * the operator's heap.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/client.js';
import { type PackedJson, packJson, unpackJson } from '../kube/packed-json.js';

/**
 * JSON with every object's keys in sorted order: the same value gives the same text whatever order its keys were
 * built in. The inputs of a chart come from two places: what the operator computed (status.cluster as it was read) and
 * what the API server stored and sends back (the same object, its keys sorted); a digest of their plain JSON would
 * differ, and every later reconcile would render again.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

export class ChartMemo<K extends string = string> {
  private readonly charts = new Map<K, { readonly inputs: string; readonly chart: PackedJson<KubeObject[]> }>();

  /** The chart for `inputs`: the one kept for `key` when its inputs are the same, else `render()`'s (then kept). */
  chart(key: K, inputs: unknown, render: () => KubeObject[]): KubeObject[] {
    const digest = createHash('sha256').update(canonicalJson(inputs)).digest('base64');
    const last = this.charts.get(key);
    if (last?.inputs === digest) return unpackJson(last.chart);
    const objects = render();
    this.charts.set(key, { inputs: digest, chart: packJson(objects) });
    return objects;
  }

  /** Drops what was kept for `key` (its report is gone). */
  forget(key: K): void {
    this.charts.delete(key);
  }
}
