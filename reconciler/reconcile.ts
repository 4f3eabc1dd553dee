/**
 * `reconcile(key)`: level-triggered, controller-runtime style. Each call re-reads the report and what it owns,
 * renders the chart in memory, applies it in stages, prunes what is no longer wanted (the cluster-admin binding once
 * gathering is over), writes the status when it changed, and says when to come back (the expiry deadline).
 */
import { isDeepStrictEqual } from 'node:util';
import { LABELS, reportNamespaceName, reportObjectNames } from '../constructs/report-identity.js';
import { DEFAULT_IMAGES, type OperatorImages } from '../constructs/operator-config.js';
import { type MustGatherReport, ReportValidationError, validateSpec } from '../constructs/report-api.js';
import { newCookieSecret, renderReport } from '../constructs/render.js';
import { applyStage, type ChangeSetEntry, stages } from './apply.js';
import type { EventRecorder } from './events.js';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from './kube-client.js';
import { OWNED_TYPES, ownedSelector, prune, type PruneEntry } from './prune.js';
import { RESOURCES } from './resources.js';
import type { ReconcileResult } from './work-queue.js';
import { type ClaimView, computeStatus, type PodView, type RouteView, type StatusResult } from './status.js';

/** Finalizer that keeps a report until its namespace and cluster-scoped bindings are gone. */
export const FINALIZER = 'mustgather.openshift.io/cleanup';
/** Field manager of every server-side apply. */
export const FIELD_MANAGER = 'mustgather-operator';

export interface ReconcilerOptions {
  readonly client: KubeClient;
  /**
   * Images of the report pod's own containers.
   * @default DEFAULT_IMAGES
   */
  readonly images?: OperatorImages;
  /**
   * Where events go.
   * @default - no events
   */
  readonly events?: EventRecorder;
  /**
   * The clock, for tests of deadlines.
   * @default () => new Date()
   */
  readonly now?: () => Date;
  /**
   * Called with what each reconcile did, for logs.
   * @default - nothing
   */
  readonly onChanges?: (key: string, changes: readonly (ChangeSetEntry | PruneEntry)[]) => void;
  /**
   * How long to wait before looking again at something no watch reports (a service-account token being issued, a
   * namespace finishing termination).
   * @default 1000
   */
  readonly pollAfterMs?: number;
}

/** `namespace/name` of a report. */
export function reportKey(report: { metadata: { namespace?: string; name: string } }): string {
  return `${report.metadata.namespace}/${report.metadata.name}`;
}

function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

const secretValue = (secret: KubeObject | undefined, key: string): string | undefined => {
  const data = (secret as { data?: Record<string, string> } | undefined)?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
};

export class Reconciler {
  private readonly client: KubeClient;
  private readonly images: OperatorImages;
  private readonly now: () => Date;
  private readonly pollAfterMs: number;

  constructor(private readonly options: ReconcilerOptions) {
    this.client = options.client;
    this.images = options.images ?? DEFAULT_IMAGES;
    this.now = options.now ?? (() => new Date());
    this.pollAfterMs = options.pollAfterMs ?? 1000;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const report = await this.client.get<MustGatherReport>({ kind: RESOURCES.MustGatherReport.kind, namespace, name });
    if (!report) return {};
    if (report.metadata.deletionTimestamp) return this.finalize(report);
    if (!report.metadata.finalizers?.includes(FINALIZER)) {
      await this.patchFinalizers(report, [...(report.metadata.finalizers ?? []), FINALIZER]);
      return this.reconcile(key);
    }

    try {
      validateSpec(report.spec);
    } catch (err) {
      if (!(err instanceof ReportValidationError)) throw err;
      // The CRD refuses such specs; one stored before a schema change still must not crash the loop.
      await this.writeStatus(report, computeStatus({ report, invalidSpec: `The spec is invalid: ${err.message}.`, now: this.now() }));
      return {};
    }

    const names = reportObjectNames(report.metadata);
    const inNamespace = (kind: string, objectName: string) => ({ kind, namespace: names.namespace, name: objectName });
    const [pod, cookie] = await Promise.all([
      this.client.get<PodView & KubeObject>(inNamespace('Pod', names.main)),
      this.client.get(inNamespace('Secret', names.proxyCookieSecret)),
    ]);
    const gatheringOver = computeStatus({ report, ...(pod ? { pod } : {}), now: this.now() }).gatheringOver;

    const desired = renderReport(report, { images: this.images, cookieSecret: secretValue(cookie, 'session_secret') ?? newCookieSecret() })
      .filter((object) => !(gatheringOver && (object.metadata.name === names.gatherBinding || object.metadata.name === names.gatherTokenSecret))) as KubeObject[];

    const changes: (ChangeSetEntry | PruneEntry)[] = [];
    let applyError: string | undefined;
    let livePod: (PodView & KubeObject) | undefined = pod;
    let waitingForToken = false;
    try {
      for (const stage of stages(desired)) {
        const isPodStage = stage.some((object) => object.kind === 'Pod');
        if (isPodStage && !pod && !gatheringOver) {
          const token = changes.find((c): c is ChangeSetEntry => 'live' in c && c.ref.kind === 'Secret' && c.ref.name === names.gatherTokenSecret);
          // The pod mounts the gather token by key; creating it before the token is issued would stall the kubelet.
          if (!secretValue(token?.live, 'token')) {
            waitingForToken = true;
            break;
          }
        }
        const entries = await applyStage(this.client, stage, { fieldManager: FIELD_MANAGER });
        changes.push(...entries);
        const podEntry = entries.find((e) => e.ref.kind === 'Pod');
        if (podEntry) livePod = podEntry.live as PodView & KubeObject;
      }
      changes.push(...(await prune(this.client, report.metadata.uid ?? '', names.namespace, desired)));
    } catch (err) {
      applyError = (err as Error).message;
    }
    this.options.onChanges?.(key, changes);

    const [route, claim] = await Promise.all([
      this.client.get<RouteView & KubeObject>(inNamespace('Route', names.main)),
      this.client.get<ClaimView & KubeObject>(inNamespace('PersistentVolumeClaim', names.main)),
    ]);
    const result = computeStatus({
      report, now: this.now(),
      ...(livePod ? { pod: livePod } : {}), ...(route ? { route } : {}), ...(claim ? { claim } : {}),
      ...(applyError ? { applyError } : {}),
    });
    await this.writeStatus(report, result);
    await this.recordTransitions(report, result, changes);
    if (applyError) throw new Error(`MustGatherReport/${key}: ${applyError}`);

    if (result.expiresAt && result.expiresAt.getTime() <= this.now().getTime()) {
      await this.options.events?.record(report, 'Normal', 'Expired', `The report expired at ${result.status.expiresAt}; deleting it and everything it created.`);
      await this.client.delete({ kind: RESOURCES.MustGatherReport.kind, namespace, name }, { ...(report.metadata.uid ? { uid: report.metadata.uid } : {}) });
      return {};
    }
    if (waitingForToken) return { requeueAfter: this.pollAfterMs };
    if (result.expiresAt) return { requeueAfter: result.expiresAt.getTime() - this.now().getTime() };
    return {};
  }

  /** Deletes the report's cluster-scoped objects and namespace; releases the report once they are gone. */
  private async finalize(report: MustGatherReport): Promise<ReconcileResult> {
    if (!report.metadata.finalizers?.includes(FINALIZER)) return {};
    const remaining = await removeReportObjects(this.client, report.metadata.uid ?? '', reportNamespaceName(report.metadata));
    if (remaining > 0) return { requeueAfter: this.pollAfterMs };
    await this.patchFinalizers(report, report.metadata.finalizers.filter((f) => f !== FINALIZER));
    if (report.metadata.uid) this.options.events?.forget(report.metadata.uid);
    return {};
  }

  /** Replaces the finalizer list, guarded by resourceVersion so a concurrent change is not lost. */
  private async patchFinalizers(report: MustGatherReport, finalizers: string[]): Promise<void> {
    const ref = { kind: RESOURCES.MustGatherReport.kind, namespace: report.metadata.namespace, name: report.metadata.name };
    try {
      await this.client.patch(ref, { metadata: { finalizers, resourceVersion: report.metadata.resourceVersion } });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** Writes the status subresource, only when it changed. */
  private async writeStatus(report: MustGatherReport, result: StatusResult): Promise<void> {
    if (isDeepStrictEqual(normalize(report.status), normalize(result.status))) return;
    const ref = { kind: RESOURCES.MustGatherReport.kind, namespace: report.metadata.namespace, name: report.metadata.name };
    try {
      // A merge patch with the whole status: `null` clears what is no longer there (a report_url that went away).
      const cleared = Object.fromEntries(Object.keys(report.status ?? {}).map((k) => [k, null]));
      await this.client.patch(ref, { metadata: { resourceVersion: report.metadata.resourceVersion }, status: { ...cleared, ...result.status } }, { subresource: 'status' });
    } catch (err) {
      if (isNotFound(err)) return;
      // Someone wrote the report meanwhile: the watch brings the new version and with it another reconcile.
      if (isConflict(err)) throw new Error(`MustGatherReport/${reportKey(report)}: status conflict, retrying`, { cause: err });
      throw err;
    }
  }

  private async recordTransitions(report: MustGatherReport, result: StatusResult, changes: readonly (ChangeSetEntry | PruneEntry)[]): Promise<void> {
    const events = this.options.events;
    if (!events) return;
    if (changes.some((c) => c.ref.kind === 'Pod' && c.action === 'created')) {
      await events.record(report, 'Normal', 'Created', `Created namespace ${reportNamespaceName(report.metadata)} and the report pod.`);
    }
    if (changes.some((c) => c.ref.kind === 'Pod' && c.action === 'kept')) {
      await events.record(report, 'Normal', 'PodKept', 'The report pod differs from what this operator version renders; it is kept as is so collection is not restarted.');
    }
    for (const gather of result.status.gathers ?? []) {
      if (gather.state === 'Running') await events.record(report, 'Normal', 'Gathering', `Gathering with image ${gather.image} (${gather.index} of ${report.spec.images.length}).`);
      if (gather.state === 'Failed' || gather.state === 'TimedOut' || gather.state === 'VolumeFull') {
        await events.record(report, 'Warning', gather.state === 'Failed' ? 'GatherFailed' : gather.state, `Image ${gather.image} (${gather.index} of ${report.spec.images.length}): ${gather.message ?? gather.state}`);
      }
    }
    if (changes.some((c) => c.action === 'deleted' && c.ref.kind === 'ClusterRoleBinding')) {
      await events.record(report, 'Normal', 'AccessRevoked', 'Gathering is over: deleted the gather service account\'s cluster-admin binding.');
    }
    const ready = result.status.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') await events.record(report, 'Normal', 'Ready', ready.message);
    else if (ready && result.finished) await events.record(report, 'Warning', ready.reason, ready.message);
    else if (ready?.reason === 'ImagePullFailed' || ready?.reason === 'Unschedulable' || ready?.reason === 'StorageUnavailable') {
      await events.record(report, 'Warning', ready.reason, ready.message);
    }
  }
}

/** Conditions compared without key order. */
function normalize(status: unknown): unknown {
  return JSON.parse(JSON.stringify(status ?? {}));
}

/**
 * Deletes a report's cluster-scoped objects (by uid label) and its namespace; returns how many are still there
 * (terminating). Also what the orphan sweep uses for reports that vanished while the operator was down.
 */
export async function removeReportObjects(client: KubeClient, uid: string, namespace: string): Promise<number> {
  const clusterScoped = OWNED_TYPES.filter((type) => !type.namespaced);
  const lists = await Promise.all(clusterScoped.map((type) => client.list(type, { labelSelector: ownedSelector(uid) })));
  const objects = lists.flatMap((list) => list.items);
  await Promise.all(objects.map((object) => client.delete({ kind: object.kind, name: object.metadata.name })));
  const ns = await client.get({ kind: 'Namespace', name: namespace });
  // Only delete a namespace this report owns: a user's namespace that happens to share the name is not ours.
  if (ns && ns.metadata.labels?.[LABELS.reportUid] === uid) {
    if (!ns.metadata.deletionTimestamp) await client.delete({ kind: 'Namespace', name: namespace });
    return objects.length + 1;
  }
  return objects.length;
}
