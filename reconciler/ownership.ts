/**
 * What a report owns and how it lets go of it, in one place: the kinds a report chart renders, the label selector and
 * index the caches find them by, pruning what the chart no longer renders (the gather binding once gathering is
 * over), removing what a deleted report leaves outside its namespace, and the start-up sweep of what vanished reports
 * left behind. Every deletion is a change-set entry like an apply's (`deleted`), and names its object.
 */
import { LABELS, MANAGED_BY, REPORT_ANNOTATION } from '../constructs/report-identity.js';
import type { Platform } from '../constructs/pod-contract.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { refOf, refString, RESOURCES, type ResourceType } from '../kube/resources.js';
import { type ChangeSetEntry, serverMessage, type WriteObserver } from './apply.js';
import { parseReportKey, type ReportKey, reportKey } from './report-key.js';

/** The label selector of everything this operator creates for reports. */
export const OWNED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

/** The uid of the report that owns `object` (its label): what the caches index owned objects by. */
export function ownerUid(object: KubeObject): string | undefined {
  return object.metadata.labels?.[LABELS.reportUid];
}

/** The key of the report that owns `object` (its annotation); undefined when missing or malformed. */
export function ownerKey(object: KubeObject): ReportKey | undefined {
  return parseReportKey(object.metadata.annotations?.[REPORT_ANNOTATION] ?? '')?.key;
}

/**
 * Kinds a report chart renders on every platform; and Role, which it no longer renders: earlier versions' Roles beside
 * reports are pruned like any object the chart stops rendering.
 */
const COMMON_TYPES: readonly ResourceType[] = [
  RESOURCES.ClusterRoleBinding, RESOURCES.ServiceAccount, RESOURCES.Secret, RESOURCES.ConfigMap, RESOURCES.PersistentVolumeClaim,
  RESOURCES.Service, RESOURCES.NetworkPolicy, RESOURCES.Pod, RESOURCES.Role, RESOURCES.RoleBinding,
];

/**
 * Every kind a report chart renders on `platform`: what the controller's watches look at. Route on OpenShift, Ingress
 * elsewhere: a plain cluster need not serve the Route API at all.
 */
export function ownedTypes(platform: Platform): readonly ResourceType[] {
  return [...COMMON_TYPES, platform === 'openshift' ? RESOURCES.Route : RESOURCES.Ingress];
}

/** Kinds the chart puts beside the report, in the report's own namespace (the file server's Events permission). */
export const BESIDE_REPORT_TYPES: readonly ResourceType[] = [RESOURCES.Role, RESOURCES.RoleBinding];

/** What the report's namespace does not take with it when it goes: cluster-scoped objects and those beside the report. */
const OUTSIDE_REPORT_NAMESPACE: readonly ResourceType[] = [RESOURCES.ClusterRoleBinding, ...BESIDE_REPORT_TYPES];

export interface DeleteOptions {
  /** Sees each delete that succeeded. @default - nothing */
  readonly onWrite?: WriteObserver;
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
export async function deleteObjects(client: KubeClient, objects: readonly KubeObject[], options: DeleteOptions = {}): Promise<ChangeSetEntry[]> {
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
export async function prune(client: KubeClient, owned: readonly KubeObject[], desired: readonly KubeObject[], options: DeleteOptions = {}): Promise<ChangeSetEntry[]> {
  return deleteObjects(client, unwanted(owned, desired), options);
}

/**
 * Removes what a deleted report owns (`owned`, by its uid): the objects outside its namespace, and its namespace
 * (which takes the rest along). `namespace` is the report's namespace name: only a namespace labelled as this
 * report's is deleted, never a user's namespace that happens to share the name. `done` once nothing is left.
 */
export async function removeReportObjects(client: KubeClient, owned: readonly KubeObject[], namespace: string, options: DeleteOptions = {}): Promise<{ changes: ChangeSetEntry[]; done: boolean }> {
  const outside = new Set(OUTSIDE_REPORT_NAMESPACE.map((type) => type.kind));
  const leftovers = owned.filter((object) => outside.has(object.kind));
  const reportNamespace = owned.find((object) => object.kind === RESOURCES.Namespace.kind && object.metadata.name === namespace);
  const doomed = [...leftovers, ...(reportNamespace ? [reportNamespace] : [])];
  const changes = await deleteObjects(client, doomed.filter((object) => !object.metadata.deletionTimestamp), options);
  return { changes, done: doomed.length === 0 };
}

/**
 * At start-up, deletes what reports that no longer exist left behind (a report deleted while the operator was down,
 * its finalizer removed by hand): namespaces, cluster role bindings, and the roles and role bindings beside the
 * report, labelled as the operator's, whose report is gone or is a different object now (another uid under the same
 * name).
 */
export async function sweepOrphans(client: KubeClient): Promise<ChangeSetEntry[]> {
  const lists = await Promise.all([...OUTSIDE_REPORT_NAMESPACE, RESOURCES.Namespace].map((type) => client.list(type, { labelSelector: OWNED_SELECTOR })));
  // The reports, listed after what they own: an object listed above belongs to a report made before it, which this
  // list shows unless it is gone. One paged list, not a GET per report (a thousand of them at every start).
  const owners = new Map<string, string | undefined>();
  await client.list(RESOURCES.MustGatherReport, { each: (report) => void owners.set(reportKey(report), report.metadata.uid) });
  const swept: ChangeSetEntry[] = [];
  for (const object of lists.flatMap((list) => list.items)) {
    const key = ownerKey(object);
    if (!key || object.metadata.deletionTimestamp) continue;
    if (owners.get(key) === ownerUid(object)) continue;
    const ref = refOf(object);
    if (await client.delete(ref)) swept.push({ ref, subject: refString(ref), action: 'deleted' });
  }
  return swept;
}
