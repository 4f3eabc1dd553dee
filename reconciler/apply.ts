/**
 * Server-side apply in stages, fluxcd-ssa style: every object gets a typed change-set entry, an object whose live
 * state already holds every desired field costs no write, and every error names its object.
 *
 * "Already holds" is a subset check of desired against live JSON (see `isSubset`): it needs only the object the
 * reconciler's cache holds anyway, survives operator restarts (unlike an in-memory hash), and catches drift in our
 * fields (a removed label, an edited port), while fields others own or the server defaults do not count as drift.
 */
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import { type ObjectRef, refOf, refString } from '../kube/resources.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'kept' | 'deleted';

/**
 * What one action did to one object: applying it, or deleting it (ownership.ts). `kept`: a create-only object exists
 * and differs; it is left as is.
 */
export interface ChangeSetEntry {
  readonly ref: ObjectRef;
  readonly subject: string;
  readonly action: ApplyAction;
  /** The object as the server returned it (or as it was, when unchanged); none when deleted. */
  readonly live?: KubeObject;
  /** `kept`: the first field where the live object differs from the desired one (a path such as `spec.containers[0].image`). */
  readonly difference?: string;
}

export interface ApplyStageOptions {
  /** Server-side apply field manager. */
  readonly fieldManager: string;
  /** Kinds that are created once and never updated (Pods are immutable). @default ['Pod'] */
  readonly createOnly?: readonly string[];
  /**
   * Where an object's live state comes from (undefined: absent).
   * @default a GET from the API server
   */
  readonly live?: (ref: ObjectRef) => KubeObject | undefined | Promise<KubeObject | undefined>;
  /**
   * Called after each write that succeeded, also when other writes of the same stage fail: what a cache of live
   * state must wait to see.
   * @default - nothing
   */
  readonly onWrite?: WriteObserver;
}

/**
 * Sees one successful write: the object's ref, the state the write was decided on (undefined: absent) and the
 * server's answer (undefined: deleted).
 */
export type WriteObserver = (ref: ObjectRef, before: KubeObject | undefined, after: KubeObject | undefined) => void;

/** What the API server said about a failed request, without the subject the caller names itself. */
export function serverMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.apiMessage || err.reason || `HTTP ${err.statusCode}`;
  return err instanceof Error ? err.message : String(err);
}

/** A stage of {@link applyStaged}: objects applied together, once what they need is in place. */
export interface Stage {
  /**
   * The objects; or how to make them, once the stages before are applied and this stage's precondition holds (a
   * service account's token can only be requested once the account exists).
   */
  readonly objects: readonly KubeObject[] | ((applied: ReadonlyMap<string, KubeObject>) => readonly KubeObject[] | Promise<readonly KubeObject[]>);
  /**
   * What must hold before the stage is applied, given the live state of every object applied so far (by
   * `Kind/namespace/name`): undefined when it holds, else what the stage waits for, in words ("Secret/ns/name to
   * hold a token"). The stage and those after it are left for a later reconcile.
   * @default - nothing: the stage follows the one before
   */
  readonly waitsFor?: (applied: ReadonlyMap<string, KubeObject>) => string | undefined | Promise<string | undefined>;
  /**
   * The stages (indices of earlier ones) this one needs applied first; it runs as soon as they are, beside any other
   * stage that does not need it: objects that nothing in a chain of steps needs (a Service beside account -> token ->
   * Secret) do not hold the chain up.
   * @default - the stage before it
   */
  readonly after?: readonly number[];
}

/** What {@link applyStaged} did: every object it applied, and what stopped it early, if anything. */
export interface StagedResult {
  readonly changes: ChangeSetEntry[];
  /** The precondition a stage is waiting for; undefined when every stage was applied. */
  readonly waitingFor?: string;
}

/**
 * Applies each stage once the stages it needs (`after`, by default the one before) succeeded and its precondition
 * holds (fluxcd's ApplyAllStaged, with stages that need not wait for each other applied at once). A stage whose
 * precondition does not hold leaves itself and what needs it for a later reconcile. A failed stage rejects, once every
 * stage started has ended, with the error of its first failed object (of the earliest failed stage). Changes are
 * listed in stage order.
 */
export async function applyStaged(client: KubeClient, plan: readonly Stage[], options: ApplyStageOptions): Promise<StagedResult> {
  const applied = new Map<string, KubeObject>();
  const entries: ChangeSetEntry[][] = plan.map(() => []);
  const waiting: (string | undefined)[] = plan.map(() => undefined);
  /** Per stage: whether it was applied (false: it, or a stage it needs, waits). */
  const runs: Promise<boolean>[] = [];
  plan.forEach((stage, index) => {
    const after = stage.after ?? (index > 0 ? [index - 1] : []);
    if (after.some((earlier) => !Number.isInteger(earlier) || earlier < 0 || earlier >= index)) {
      throw new Error(`apply stage ${index}: needs stages before it, not ${after.join(', ')}`);
    }
    runs.push((async () => {
      if (!(await Promise.all(after.map((earlier) => runs[earlier]!))).every(Boolean)) return false;
      waiting[index] = await stage.waitsFor?.(applied);
      if (waiting[index]) return false;
      const objects = typeof stage.objects === 'function' ? await stage.objects(applied) : stage.objects;
      entries[index] = await applyStage(client, objects, options);
      for (const entry of entries[index]!) if (entry.live) applied.set(entry.subject, entry.live);
      return true;
    })());
  });
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const waitingFor = waiting.find((why) => why !== undefined);
  return { changes: entries.flat(), ...(waitingFor ? { waitingFor } : {}) };
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
  return firstDifference(desired, live) === undefined;
}

/**
 * Where {@link isSubset} fails first, as a path (`spec.containers[1].image`; `` for the whole value), or undefined
 * when `desired` is a subset of `live`: what a kept object differs in, for people.
 */
export function firstDifference(desired: unknown, live: unknown, path = ''): string | undefined {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return path;
    for (let i = 0; i < desired.length; i++) {
      const found = firstDifference(desired[i], live[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return path;
    for (const [key, value] of Object.entries(desired)) {
      const found = firstDifference(value, (live as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return desired === live ? undefined : path;
}

/** Applies one object given its live state (undefined: absent). */
export async function applyObject(client: KubeClient, desired: KubeObject, live: KubeObject | undefined, options: ApplyStageOptions): Promise<ChangeSetEntry> {
  const ref = refOf(desired);
  const subject = refString(ref);
  const createOnly = (options.createOnly ?? ['Pod']).includes(desired.kind);
  const difference = live ? firstDifference(comparable(desired), live) : '';
  if (live && difference === undefined) return { ref, subject, action: 'unchanged', live };
  if (live && createOnly) return { ref, subject, action: 'kept', live, ...(difference ? { difference } : {}) };
  try {
    // A create-only object is POSTed: applying it would need `patch` on it, a permission the operator does not hold.
    const result = createOnly
      ? await client.create(desired, { fieldManager: options.fieldManager })
      : await client.apply(desired, { fieldManager: options.fieldManager, force: true });
    options.onWrite?.(ref, live, result);
    return { ref, subject, action: live ? 'configured' : 'created', live: result };
  } catch (err) {
    throw new Error(`${subject}: ${createOnly ? 'create' : 'apply'} failed: ${serverMessage(err)}`, { cause: err });
  }
}

/** Applies a stage: looks up each object's live state and applies what differs, all in parallel. */
export async function applyStage(client: KubeClient, objects: readonly KubeObject[], options: ApplyStageOptions): Promise<ChangeSetEntry[]> {
  const live = options.live ?? ((ref: ObjectRef) => client.get(ref));
  return Promise.all(objects.map(async (desired) => applyObject(client, desired, await live(refOf(desired)), options)));
}
