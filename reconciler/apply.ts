/**
 * Server-side apply in stages, fluxcd-ssa style: every object gets a typed change-set entry, an object whose live
 * state already holds every desired field costs no write, and every error names its object.
 *
 * "Already holds" is a subset check of desired against live JSON (see `isSubset`): it needs only the GET the
 * reconciler does anyway, survives operator restarts (unlike an in-memory hash), and catches drift in our fields (a
 * removed label, an edited port), while fields others own or the server defaults do not count as drift.
 */
import type { KubeClient, KubeObject } from './kube-client.js';
import { type ObjectRef, refOf, refString } from './resources.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'kept';

/** What applying one object did. `kept`: a create-only object exists and differs; it is left as is. */
export interface ChangeSetEntry {
  readonly ref: ObjectRef;
  readonly subject: string;
  readonly action: ApplyAction;
  /** The object as the server returned it (or as it was, when unchanged). */
  readonly live: KubeObject;
}

export interface ApplyStageOptions {
  /** Server-side apply field manager. */
  readonly fieldManager: string;
  /** Kinds that are created once and never updated (Pods are immutable). @default ['Pod'] */
  readonly createOnly?: readonly string[];
}

/** The order objects are applied in: namespace and cluster-scoped objects, then the rest, the pod last. */
export function stageOf(object: KubeObject): number {
  if (object.kind === 'Namespace' || !object.metadata.namespace) return 0;
  return object.kind === 'Pod' ? 2 : 1;
}

/** Desired objects grouped by stage, in order. */
export function stages(objects: readonly KubeObject[]): KubeObject[][] {
  const grouped: KubeObject[][] = [[], [], []];
  for (const object of objects) grouped[stageOf(object)]!.push(object);
  return grouped.filter((group) => group.length > 0);
}

/** A Secret's write-only `stringData` as the `data` the server stores, so it can be compared with live. */
function comparable(object: KubeObject): Record<string, unknown> {
  if (object.kind !== 'Secret' || !object.stringData) return object;
  const { stringData, ...rest } = object as KubeObject & { stringData: Record<string, string>; data?: Record<string, string> };
  const data = { ...rest.data };
  for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(value, 'utf8').toString('base64');
  return { ...rest, data };
}

/**
 * Whether every field of `desired` has the same value in `live`. Objects: every desired key, recursively. Arrays:
 * same length, element-wise subset (lists we set are ours whole). Scalars: equal.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((item, i) => isSubset(item, live[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(([key, value]) => isSubset(value, (live as Record<string, unknown>)[key]));
  }
  return desired === live;
}

/** Applies one object given its live state (undefined: absent). */
export async function applyObject(client: KubeClient, desired: KubeObject, live: KubeObject | undefined, options: ApplyStageOptions): Promise<ChangeSetEntry> {
  const ref = refOf(desired);
  const subject = refString(ref);
  const createOnly = (options.createOnly ?? ['Pod']).includes(desired.kind);
  if (live && isSubset(comparable(desired), live)) return { ref, subject, action: 'unchanged', live };
  if (live && createOnly) return { ref, subject, action: 'kept', live };
  try {
    // A create-only object is POSTed: applying it would need `patch` on it, a permission the operator does not hold.
    const result = createOnly
      ? await client.create(desired, { fieldManager: options.fieldManager })
      : await client.apply(desired, { fieldManager: options.fieldManager, force: true });
    return { ref, subject, action: live ? 'configured' : 'created', live: result };
  } catch (err) {
    throw new Error(`${subject}: apply failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Applies a stage: reads each object's live state and applies what differs, all in parallel. */
export async function applyStage(client: KubeClient, objects: readonly KubeObject[], options: ApplyStageOptions): Promise<ChangeSetEntry[]> {
  return Promise.all(objects.map(async (desired) => applyObject(client, desired, await client.get(refOf(desired)), options)));
}
