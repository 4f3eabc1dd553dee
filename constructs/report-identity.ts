/**
 * Names and labels derived from a report's identity. Pure and deterministic: the same report always gets the same
 * names, names always fit their limits (63 characters for namespaces and label values) however long the report's
 * name, and two reports never share a namespace (a hash of namespace, name and uid is part of the name).
 */
import { createHash } from 'node:crypto';
import type { ReportMetadata } from './report-api.js';

/** Label keys on every object a report owns; `REPORT_UID` is what the operator selects and prunes by. */
export const LABELS = {
  reportUid: 'mustgather.openshift.io/report-uid',
  reportName: 'mustgather.openshift.io/report-name',
  reportNamespace: 'mustgather.openshift.io/report-namespace',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
} as const;

/** Annotation with the report's full `namespace/name` (label values are cut to 63 characters). */
export const REPORT_ANNOTATION = 'mustgather.openshift.io/report';

/** `app.kubernetes.io/managed-by` value on everything the operator creates. */
export const MANAGED_BY = 'mustgather-operator';

const NAMESPACE_PREFIX = 'must-gather-';
const MAX_LABEL = 63;
const HASH_LENGTH = 8;

/** Short, stable hex digest. */
export function shortHash(text: string, length = HASH_LENGTH): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Lowercase DNS-label characters only, runs of anything else folded to one "-". */
function dnsLabelChars(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
}

/** Cuts `text` to `max` characters and strips what a DNS label / label value may not end with. */
function cut(text: string, max: number): string {
  return text.slice(0, max).replace(/[^a-zA-Z0-9]+$/, '');
}

type Identity = Pick<ReportMetadata, 'name' | 'namespace' | 'uid'>;

/** The namespace that holds one report's objects: `must-gather-<namespace>-<name>-<hash>`, at most 63 characters. */
export function reportNamespaceName(report: Identity): string {
  const hash = shortHash(`${report.namespace}/${report.name}/${report.uid ?? ''}`);
  const room = MAX_LABEL - NAMESPACE_PREFIX.length - HASH_LENGTH - 1;
  const readable = cut(dnsLabelChars(`${report.namespace}-${report.name}`), room);
  return `${NAMESPACE_PREFIX}${readable}-${hash}`;
}

/** A label value standing for `text`: itself when it fits, else a cut prefix plus a hash of the whole. */
export function labelValue(text: string): string {
  if (text.length <= MAX_LABEL && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(text)) return text;
  return `${cut(text.replace(/[^A-Za-z0-9_.-]+/g, '-'), MAX_LABEL - HASH_LENGTH - 1)}-${shortHash(text)}`;
}

/** Labels that identify the report on every object it owns. */
export function reportLabels(report: Identity): Record<string, string> {
  return {
    [LABELS.name]: 'must-gather-report',
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.reportNamespace]: report.namespace,
    [LABELS.reportName]: labelValue(report.name),
    [LABELS.reportUid]: report.uid ?? '',
  };
}

/** Sub-directory of the volume (and of the archive) that image number `index` (from 1) gathers into. */
export function gatherDirectory(index: number, image: string): string {
  const readable = cut(image.replace(/[^A-Za-z0-9._-]+/g, '-'), 100);
  return `${String(index).padStart(2, '0')}-${readable}`;
}

/**
 * The ClusterRole (install chart) that each report's file server is bound to in the report's own namespace, by a
 * RoleBinding there: `create` on Events, to record downloads on the report. One ClusterRole the operator may `bind`
 * instead of a Role per report: binding a Role the operator made itself costs the API server an escalation check
 * that lists every ClusterRoleBinding and the namespace's RoleBindings (measured: 90 ms per report at 1000 reports,
 * the slowest request of a report's start), while `bind` is one authorizer check.
 */
export const EVENT_RECORDER_CLUSTER_ROLE = 'must-gather-report-event-recorder';

/**
 * {@link EVENT_RECORDER_CLUSTER_ROLE} itself: made by the install chart, and by the local control plane for an
 * operator run outside the cluster (`mustgather run`).
 */
export const EVENT_RECORDER_CLUSTER_ROLE_OBJECT = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: EVENT_RECORDER_CLUSTER_ROLE },
  rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }],
} as const;

/** The gather service account's name, in every report's namespace (the operator's token requests name it). */
export const GATHER_SERVICE_ACCOUNT = 'must-gather-admin';

/** Names of the objects inside a report's namespace, and of those outside it (cluster-scoped, or in the report's own namespace). */
export function reportObjectNames(report: Identity) {
  const namespace = reportNamespaceName(report);
  return {
    namespace,
    /** Pod, PVC, Service, Route and Ingress share one name: there is one of each. */
    main: 'must-gather',
    gatherServiceAccount: GATHER_SERVICE_ACCOUNT,
    gatherTokenSecret: 'must-gather-admin-token',
    gatherBinding: `${namespace}-admin`,
    /** The pod's service account: the file server's (and oauth-proxy's, on OpenShift). */
    serverServiceAccount: 'must-gather-server',
    authDelegatorBinding: `${namespace}-auth-delegator`,
    /**
     * RoleBinding in the report's own namespace to {@link EVENT_RECORDER_CLUSTER_ROLE}: the file server records
     * downloads as Events there. (Not `-events`: earlier versions bound a Role by that name, and a binding's role
     * cannot change; theirs is pruned.)
     */
    eventRecorderBinding: `${namespace}-event-recorder`,
    proxyCookieSecret: 'must-gather-proxy-cookie',
    servingCertSecret: 'must-gather-tls',
    clientCaConfigMap: 'must-gather-client-ca',
    networkPolicy: 'must-gather-https-only',
  } as const;
}

export type ReportObjectNames = ReturnType<typeof reportObjectNames>;

/** DNS names of the report's Service inside the cluster: what its serving certificate must name. */
export function serviceHostnames(names: Pick<ReportObjectNames, 'main' | 'namespace'>): string[] {
  return [`${names.main}.${names.namespace}.svc`, `${names.main}.${names.namespace}.svc.cluster.local`];
}

/** The Ingress host of a report: `<report namespace>.<suffix>` (one DNS label per report under the suffix). */
export function ingressHostname(names: Pick<ReportObjectNames, 'namespace'>, hostSuffix: string): string {
  return `${names.namespace}.${hostSuffix.replace(/^\.+/, '')}`;
}
