/**
 * Deletes objects a report owns (by its uid label) that it no longer wants: the gather binding once gathering is over,
 * anything an older operator version created and this one does not.
 */
import { LABELS } from '../constructs/report-identity.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { type ObjectRef, refOf, refString, RESOURCES, type ResourceType } from './resources.js';

/** Every kind a report chart renders: what pruning and the orphan sweep look at. */
export const OWNED_TYPES: readonly ResourceType[] = [
  RESOURCES.ClusterRoleBinding, RESOURCES.ServiceAccount, RESOURCES.Secret, RESOURCES.PersistentVolumeClaim,
  RESOURCES.Service, RESOURCES.Route, RESOURCES.NetworkPolicy, RESOURCES.Pod,
];

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
 * Lists the report's objects (cluster-scoped ones cluster-wide, the rest in its namespace) and deletes those whose
 * `Kind/namespace/name` is not in `desired`.
 */
export async function prune(client: KubeClient, uid: string, namespace: string, desired: readonly KubeObject[]): Promise<PruneEntry[]> {
  const wanted = new Set(desired.map((object) => refString(refOf(object))));
  const selector = ownedSelector(uid);
  const lists = await Promise.all(OWNED_TYPES.map((type) => client.list(type, { labelSelector: selector, ...(type.namespaced ? { namespace } : {}) })));
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
