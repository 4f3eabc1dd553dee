/**
 * Reads of cluster state that only a report starting to gather needs (its images and the cluster's facts): GETs and
 * LISTs at that moment, not informers, so the operator holds nothing in memory for them and a report that needs no
 * resolution pays nothing. Answers are shared for a few seconds: a burst of reports created together costs one read
 * of each kind, not one per report.
 */
import type { KubeClient } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';

/** How long an answer is shared between reports. */
export const CLUSTER_READS_TTL_MS = 10_000;

export class ClusterReads {
  private readonly answers = new Map<string, { readonly at: number; readonly value: Promise<unknown> }>();

  constructor(readonly client: KubeClient, private readonly ttlMs = CLUSTER_READS_TTL_MS, private readonly clock: () => number = Date.now) {}

  /** `read()`'s answer, shared with every caller of the same `key` for the TTL; a failure is not kept. */
  shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    const now = this.clock();
    const kept = this.answers.get(key);
    if (kept && now - kept.at < this.ttlMs) return kept.value as Promise<T>;
    if (this.answers.size > 64) for (const [k, v] of this.answers) if (now - v.at >= this.ttlMs) this.answers.delete(k);
    const value = read();
    this.answers.set(key, { at: now, value });
    value.catch(() => {
      if (this.answers.get(key)?.value === value) this.answers.delete(key);
    });
    return value;
  }

  /**
   * Whether the API server serves `type` (discovery of its group version): OpenShift's kinds are absent on plain
   * Kubernetes, which is normal, not an error.
   */
  served(type: ResourceType): Promise<boolean> {
    // One discovery document per group version, however many of its kinds are asked about.
    return this.shared(`discovery ${type.group}/${type.version}`, () => this.client.servedResources(type)).then((served) => served.has(type.plural));
  }

}
