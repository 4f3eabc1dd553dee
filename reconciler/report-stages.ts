/**
 * The order a report's chart is applied in. A new report's pod is at the end of a chain of round trips, each needing
 * the one before: namespace -> gather service account -> its token (TokenRequest) -> the token's Secret -> pod.
 * Nothing else in the chart needs more than the namespace (the file server's account, the bindings, which refer to
 * ClusterRoles only, the claim, Service, network policy, client CA, the other Secrets), so it is applied beside that
 * chain, and the pod waits for it too. The chain's stages are kept small because requests sent together are served
 * together: an account applied beside eight other objects took as long as the slowest of them.
 */
import type { ReportObjectNames } from '../constructs/report-identity.js';
import type { KubeObject } from '../kube/client.js';

/** A report's chart (without its runtime objects), by when it is applied. */
export interface ReportStages {
  /** First, with the finalizer. */
  readonly namespace: KubeObject[];
  /** Once the namespace exists: the account whose token the pod's gather containers mount. */
  readonly gatherAccount: KubeObject[];
  /** Once the namespace exists, beside the chain. */
  readonly beside: KubeObject[];
  /** Last, once every other object (and the token's Secret) exists. */
  readonly pod: KubeObject[];
}

/** Splits a report's chart into {@link ReportStages}. */
export function reportStages(chart: readonly KubeObject[], names: Pick<ReportObjectNames, 'namespace' | 'gatherServiceAccount'>): ReportStages {
  const stages: ReportStages = { namespace: [], gatherAccount: [], beside: [], pod: [] };
  for (const object of chart) {
    if (object.kind === 'Namespace') stages.namespace.push(object);
    else if (object.kind === 'Pod') stages.pod.push(object);
    else if (object.kind === 'ServiceAccount' && object.metadata.namespace === names.namespace && object.metadata.name === names.gatherServiceAccount) stages.gatherAccount.push(object);
    else stages.beside.push(object);
  }
  return stages;
}
