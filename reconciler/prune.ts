/**
 * Deletes objects a report owns that it no longer wants: the gather binding once gathering is over, anything an older
 * operator version created and this one does not. What it owns comes from the caller (the reconciler's cache, by the
 * report's uid label), so pruning costs no LIST.
 */
import type { Platform } from '../constructs/pod-contract.js';
import { serverMessage, type WriteObserver } from './apply.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { type ObjectRef, refOf, refString, RESOURCES, type ResourceType } from '../kube/resources.js';

/** Kinds a report chart renders on every platform. */
const COMMON_TYPES: readonly ResourceType[] = [
  RESOURCES.ClusterRoleBinding, RESOURCES.ServiceAccount, RESOURCES.Secret, RESOURCES.ConfigMap, RESOURCES.PersistentVolumeClaim,
  RESOURCES.Service, RESOURCES.NetworkPolicy, RESOURCES.Pod, RESOURCES.Role, RESOURCES.RoleBinding,
];

/**
 * Every kind a report chart renders on `platform`: what the orphan sweep and the controller's watches look at. Route
 * on OpenShift, Ingress elsewhere: a plain cluster need not serve the Route API at all.
 */
export function ownedTypes(platform: Platform): readonly ResourceType[] {
  return [...COMMON_TYPES, platform === 'openshift' ? RESOURCES.Route : RESOURCES.Ingress];
}

/** Kinds the chart puts beside the report, in the report's own namespace (the file server's Events permission). */
export const BESIDE_REPORT_TYPES: readonly ResourceType[] = [RESOURCES.Role, RESOURCES.RoleBinding];

export interface PruneEntry {
  readonly ref: ObjectRef;
  readonly subject: string;
  readonly action: 'deleted';
}

/** Of `owned`, what `desired` does not name (by `Kind/namespace/name`) and is not already being deleted. */
export function unwanted(owned: readonly KubeObject[], desired: readonly KubeObject[]): KubeObject[] {
  const wanted = new Set(desired.map((object) => refString(refOf(object))));
  return owned.filter((object) => !object.metadata.deletionTimestamp && !wanted.has(refString(refOf(object))));
}

/**
 * Deletes `objects`, each only if it is still the same object (uid precondition); an object already gone counts as
 * deleted. Errors name the object.
 */
export async function deleteObjects(client: KubeClient, objects: readonly KubeObject[], options: { onWrite?: WriteObserver } = {}): Promise<PruneEntry[]> {
  return Promise.all(objects.map(async (object) => {
    const ref = refOf(object);
    try {
      await client.delete(ref, { ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) });
    } catch (err) {
      throw new Error(`${refString(ref)}: delete failed: ${serverMessage(err)}`, { cause: err });
    }
    options.onWrite?.(ref, object, undefined);
    return { ref, subject: refString(ref), action: 'deleted' as const };
  }));
}

/** Deletes what of `owned` is not `desired`. */
export async function prune(client: KubeClient, owned: readonly KubeObject[], desired: readonly KubeObject[], options: { onWrite?: WriteObserver } = {}): Promise<PruneEntry[]> {
  return deleteObjects(client, unwanted(owned, desired), options);
}
