/**
 * Deletes objects a report owns (by its uid label) that it no longer wants: the gather binding once gathering is over,
 * anything an older operator version created and this one does not.
 */
import type { Platform } from '../constructs/ports.js';
import { LABELS } from '../constructs/report-identity.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { type ObjectRef, refOf, refString, RESOURCES, type ResourceType } from './resources.js';

/** Kinds a report chart renders on every platform. */
const COMMON_TYPES: readonly ResourceType[] = [
  RESOURCES.ClusterRoleBinding, RESOURCES.ServiceAccount, RESOURCES.Secret, RESOURCES.ConfigMap, RESOURCES.PersistentVolumeClaim,
  RESOURCES.Service, RESOURCES.NetworkPolicy, RESOURCES.Pod, RESOURCES.Role, RESOURCES.RoleBinding,
];

/**
 * Every kind a report chart renders on `platform`: what pruning, the orphan sweep and the controller's watches look
 * at. Route on OpenShift, Ingress elsewhere: a plain cluster need not serve the Route API at all.
 */
export function ownedTypes(platform: Platform): readonly ResourceType[] {
  return [...COMMON_TYPES, platform === 'openshift' ? RESOURCES.Route : RESOURCES.Ingress];
}

/** Kinds the chart puts beside the report, in the report's own namespace (the file server's Events permission). */
export const BESIDE_REPORT_TYPES: readonly ResourceType[] = [RESOURCES.Role, RESOURCES.RoleBinding];

/** Where a report's objects are: its own namespace of objects, and the namespace of the report itself. */
export interface ReportNamespaces {
  /** The namespace the operator made for the report's objects. */
  readonly objects: string;
  /** The report's namespace. */
  readonly report: string;
}

/** The namespace to list `type` in, for one report (undefined: cluster-scoped). */
export function namespaceOf(type: ResourceType, namespaces: ReportNamespaces): string | undefined {
  if (!type.namespaced) return undefined;
  return BESIDE_REPORT_TYPES.includes(type) ? namespaces.report : namespaces.objects;
}

export interface PruneEntry {
  readonly ref: ObjectRef;
  readonly subject: string;
  readonly action: 'deleted';
}

/** Selects a report's objects. */
export function ownedSelector(uid: string): string {
  return `${LABELS.reportUid}=${uid}`;
}

/**
 * Lists the report's objects of `types` (cluster-scoped ones cluster-wide, the rest where the report keeps them) and
 * deletes those whose `Kind/namespace/name` is not in `desired`.
 */
export async function prune(
  client: KubeClient, uid: string, namespaces: ReportNamespaces, desired: readonly KubeObject[], types: readonly ResourceType[],
): Promise<PruneEntry[]> {
  const wanted = new Set(desired.map((object) => refString(refOf(object))));
  const selector = ownedSelector(uid);
  const lists = await Promise.all(types.map((type) => {
    const namespace = namespaceOf(type, namespaces);
    return client.list(type, { labelSelector: selector, ...(namespace ? { namespace } : {}) });
  }));
  const unwanted = lists.flatMap((list) => list.items).filter((object) => !object.metadata.deletionTimestamp && !wanted.has(refString(refOf(object))));
  return Promise.all(unwanted.map(async (object) => {
    const ref = refOf(object);
    try {
      await client.delete(ref, { ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) });
    } catch (err) {
      throw new Error(`${refString(ref)}: prune failed: ${(err as Error).message}`, { cause: err });
    }
    return { ref, subject: refString(ref), action: 'deleted' as const };
  }));
}
