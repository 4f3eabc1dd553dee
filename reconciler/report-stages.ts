/**
 * The order a report's chart is applied in. A new report's pod is at the end of a chain of round trips, each needing
 * the one before: namespace -> gather service account -> its token (TokenRequest) -> the token's Secret -> pod.
 * Nothing else in the chart needs more than the namespace (the file server's account, the bindings, which refer to
 * ClusterRoles only, the claim, Service, network policy, client CA, the other Secrets), so it is applied beside that
 * chain, and the pod waits for what it runs with. What only serves the archive, once every gather is done (the
 * network policy in front of the file server, its Route or Ingress, the bindings only the file server uses: token
 * reviews, events), goes after the pod instead. Requests sent together are served together: an account applied
 * beside a dozen other objects took as long as the slowest of them, so every write before the pod, or beside it,
 * delays it.
 *
 * The Service stays before the pod: on OpenShift the service CA makes the pod's serving certificate Secret from it,
 * and the pod cannot start without that Secret.
 */
import type { ReportObjectNames } from '../constructs/report-identity.js';
import type { KubeObject } from '../kube/client.js';

/** A report's chart (without its runtime objects), by when it is applied. */
export interface ReportStages {
  /** First, with the finalizer. */
  readonly namespace: KubeObject[];
  /** Once the namespace exists: the account whose token the pod's gather containers mount. */
  readonly gatherAccount: KubeObject[];
  /** Once the namespace exists, beside the chain: what the pod runs with. */
  readonly beside: KubeObject[];
  /** Last, once every other object (and the token's Secret) exists. */
  readonly pod: KubeObject[];
  /** After the pod: what only serves the archive once gathering is done. */
  readonly serving: KubeObject[];
}

/** Kinds that only reach the file server: nothing in the pod needs them to start. */
const SERVING_KINDS = new Set(['NetworkPolicy', 'Route', 'Ingress']);

interface Binding {
  readonly kind: string;
  readonly subjects?: readonly { readonly kind?: string; readonly name?: string; readonly namespace?: string }[];
}

/** A binding whose every subject is the report's file server account. */
function bindsOnlyFileServer(object: KubeObject, names: Pick<ReportObjectNames, 'namespace' | 'serverServiceAccount'>): boolean {
  if (object.kind !== 'RoleBinding' && object.kind !== 'ClusterRoleBinding') return false;
  const subjects = (object as Binding).subjects ?? [];
  return subjects.length > 0 && subjects.every((s) => s.kind === 'ServiceAccount' && s.name === names.serverServiceAccount && s.namespace === names.namespace);
}

/** Splits a report's chart into {@link ReportStages}. */
export function reportStages(chart: readonly KubeObject[], names: Pick<ReportObjectNames, 'namespace' | 'gatherServiceAccount' | 'serverServiceAccount'>): ReportStages {
  const stages: ReportStages = { namespace: [], gatherAccount: [], beside: [], pod: [], serving: [] };
  for (const object of chart) {
    if (object.kind === 'Namespace') stages.namespace.push(object);
    else if (object.kind === 'Pod') stages.pod.push(object);
    else if (object.kind === 'ServiceAccount' && object.metadata.namespace === names.namespace && object.metadata.name === names.gatherServiceAccount) stages.gatherAccount.push(object);
    else if (SERVING_KINDS.has(object.kind) || bindsOnlyFileServer(object, names)) stages.serving.push(object);
    else stages.beside.push(object);
  }
  return stages;
}
