/**
 * `reconcile(key)`: level-triggered, controller-runtime style. Each call reads the report and what it owns from the
 * watch caches (no GET or LIST), renders the chart in memory, applies it in stages, prunes what is no longer wanted
 * (the cluster-admin binding once gathering is over), writes the status when it changed, and says when to come back
 * (the start or expiry deadline). A cache that has not yet shown one of the reconciler's own writes is not read: the
 * watch event that shows the write brings the report back.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_OPERATOR_NAMESPACE, OPERATOR_NAME } from '../constructs/install-chart.js';
import { DEFAULT_DOWNLOAD_ACCESS, type DownloadAccess, PATHS, type Platform } from '../constructs/pod-contract.js';
import { ingressHostname, LABELS, reportNamespaceName, reportObjectNames, serviceHostnames } from '../constructs/report-identity.js';
import { DEFAULT_IMAGES, gatherImages, type OperatorImages } from '../constructs/operator-config.js';
import { type MustGatherReport, ReportValidationError, validateSpec } from '../constructs/report-api.js';
import { isWarningReason } from '../constructs/ready-reasons.js';
import type { IngressOptions } from '../constructs/report-ingress.js';
import type { CertificateAndKey } from '../constructs/serving-cert.js';
import { newCookieSecret, type RenderReportOptions, renderReport } from '../constructs/render.js';
import { applyStaged, type ChangeSetEntry, type Stage, stages, type WriteObserver } from './apply.js';
import { ReportCache } from './cache.js';
import type { EventRecorder } from '../kube/events.js';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../kube/client.js';
import { deleteObjects, prune, removeReportObjects } from './ownership.js';
import { type ObjectRef, refString, RESOURCES } from '../kube/resources.js';
import { ensureServingCa, issueServingCertificate, renewalTime, type ServingCa, servingCertificateProblem } from './serving-ca.js';
import type { ReconcileResult } from './work-queue.js';
import { parseReportKey, type ReportKey, reportKey } from './report-key.js';
import { type ClaimView, computeStatus, type Observed, type PodView, type RouteView, type StatusResult } from './status.js';
import type { Verdict } from './admission.js';

/** Finalizer that keeps a report until its namespace and cluster-scoped bindings are gone. */
export const FINALIZER = 'mustgather.openshift.io/cleanup';
/** Field manager of every server-side apply. */
export const FIELD_MANAGER = 'mustgather-operator';

/**
 * How long a new report may go without a status while its pod waits for the gather token: creationTimestamp has
 * whole seconds, so a report may look up to a second older than it is.
 */
const FIRST_STATUS_GRACE_MS = 2_000;

/** How long a report that cannot start (stuck in `READY_REASONS`) may go without progress before it ends StartTimedOut. */
export const DEFAULT_START_TIMEOUT_MS = 10 * 60_000;

export { CLIENT_CA_SOURCE } from './cache.js';
export { reportKey } from './report-key.js';

export interface ReconcilerOptions {
  readonly client: KubeClient;
  /**
   * Where reports and what they own are read from; the controller shares its own.
   * @default - one of its own over `client`, started by the first reconcile and stopped by `stop()`
   */
  readonly cache?: ReportCache;
  /**
   * Platform profile of the report charts (`mustgather run` detects it).
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /**
   * The operator's namespace, which holds its serving CA (Kubernetes profile); created when missing.
   * @default DEFAULT_OPERATOR_NAMESPACE
   */
  readonly operatorNamespace?: string;
  /**
   * An Ingress per report (Kubernetes profile).
   * @default - none: reports are reached through their Service
   */
  readonly ingress?: IngressOptions;
  /**
   * Who may download.
   * @default DEFAULT_DOWNLOAD_ACCESS
   */
  readonly downloadAccess?: DownloadAccess;
  /**
   * Images of the report pod's own containers.
   * @default DEFAULT_IMAGES
   */
  readonly images?: OperatorImages;
  /**
   * Whether a report that is not admitted yet may start now (the fleet's limits, reconciler/admission.ts); asked
   * before anything of it is created.
   * @default - every report starts at once
   */
  readonly admission?: (report: MustGatherReport) => Verdict;
  /**
   * Where events go.
   * @default - no events
   */
  readonly events?: EventRecorder;
  /**
   * How long a report that cannot start may go without progress before it ends StartTimedOut; 0: never.
   * @default DEFAULT_START_TIMEOUT_MS
   */
  readonly startTimeoutMs?: number;
  /**
   * The clock, for tests of deadlines.
   * @default () => new Date()
   */
  readonly now?: () => Date;
  /**
   * Called with what each reconcile did, for logs.
   * @default - nothing
   */
  readonly onChanges?: (key: string, changes: readonly ChangeSetEntry[]) => void;
  /**
   * How long before looking again at a report whose cache has not yet shown one of the reconciler's own writes: a
   * safety net, as the watch event that shows the write enqueues the report first.
   * @default 1000
   */
  readonly pollAfterMs?: number;
}

function reportRef(report: MustGatherReport): ObjectRef {
  return { kind: RESOURCES.MustGatherReport.kind, namespace: report.metadata.namespace, name: report.metadata.name };
}

const secretValue = (secret: KubeObject | undefined, key: string): string | undefined => {
  const data = (secret as { data?: Record<string, string> } | undefined)?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
};

/** What a Kubernetes-profile report needs from the operator's CA: its certificate for the report, and the CA's PEM. */
interface IssuedTls {
  readonly servingCertificate: CertificateAndKey;
  readonly caBundle: string;
}

export class Reconciler {
  private readonly client: KubeClient;
  private readonly images: OperatorImages;
  private readonly platform: Platform;
  private readonly now: () => Date;
  private readonly pollAfterMs: number;
  private readonly startTimeoutMs: number;
  /** The serving CA, read (or made) once: it does not change while the operator runs. */
  private servingCa: Promise<ServingCa> | undefined;
  private readonly cache: ReportCache;
  /** Set when the cache is the reconciler's own: started at the first reconcile. */
  private ownCache: Promise<void> | undefined;
  /**
   * The last chart rendered for each report, by a digest of what it was rendered from: a report is reconciled many
   * times (every watch event of what it owns), its inputs rarely change, and a render costs milliseconds of CPU.
   */
  private readonly rendered = new Map<ReportKey, { readonly inputs: string; readonly objects: KubeObject[] }>();
  /** Each report's serving certificate last found good, until its renewal time. */
  private readonly goodCertificates = new Map<ReportKey, { readonly cert: string; readonly key: string; readonly hostnames: string; readonly renewAt: number }>();

  constructor(private readonly options: ReconcilerOptions) {
    this.client = options.client;
    this.images = options.images ?? DEFAULT_IMAGES;
    this.platform = options.platform ?? 'openshift';
    this.now = options.now ?? (() => new Date());
    this.pollAfterMs = options.pollAfterMs ?? 1000;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.cache = options.cache ?? new ReportCache({ client: options.client, platform: this.platform });
  }

  /** The cache, synced; one of its own is started the first time. */
  private async synced(): Promise<ReportCache> {
    if (!this.options.cache && !this.ownCache) {
      this.cache.start();
      this.ownCache = this.cache.waitForSync();
    }
    await this.ownCache;
    return this.cache;
  }

  /** Tells the cache about each write made for report `key`, so that it is not read before it shows them. */
  private writesFor(key: string): WriteObserver {
    return (ref, before, after) => this.cache.wrote(key, ref, before, after);
  }

  /** Stops the reconciler's own cache (a shared one belongs to whoever made it). */
  async stop(): Promise<void> {
    if (this.ownCache) await this.cache.stop();
  }

  /** The report's status from what was observed, with this reconciler's start timeout. */
  private status(observed: Omit<Observed, 'startTimeoutMs'>): StatusResult {
    return computeStatus({ ...observed, startTimeoutMs: this.startTimeoutMs });
  }

  /** Hostnames of a report's serving certificate: its Service's, and its Ingress host when there is one. */
  private servingHostnames(names: ReturnType<typeof reportObjectNames>): string[] {
    return [...serviceHostnames(names), ...(this.options.ingress ? [ingressHostname(names, this.options.ingress.hostSuffix)] : [])];
  }

  /** Where the archive is served on the Kubernetes profile (no router to wait for). */
  private directUrl(names: ReturnType<typeof reportObjectNames>): string {
    const host = this.options.ingress ? ingressHostname(names, this.options.ingress.hostSuffix) : serviceHostnames(names)[0];
    return `https://${host}/${PATHS.archiveFile}`;
  }

  /** The operator's CA; a failed attempt is forgotten so the next reconcile tries again. */
  private async ca(): Promise<ServingCa> {
    this.servingCa ??= ensureServingCa(this.client, this.options.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE, { [LABELS.name]: OPERATOR_NAME })
      .catch((err: unknown) => {
        this.servingCa = undefined;
        throw err;
      });
    return this.servingCa;
  }

  /**
   * The live serving certificate when it is still good, else a new one. A certificate found good is not parsed and
   * verified again until its renewal time (that costs milliseconds, and a report is reconciled on every watch event).
   */
  private async servingTls(key: ReportKey, names: ReturnType<typeof reportObjectNames>, live: KubeObject | undefined): Promise<IssuedTls> {
    const ca = await this.ca();
    const hostnames = this.servingHostnames(names);
    const current = { cert: secretValue(live, 'tls.crt') ?? '', key: secretValue(live, 'tls.key') ?? '' };
    const now = this.now();
    const checked = this.goodCertificates.get(key);
    if (checked && checked.cert === current.cert && checked.key === current.key && checked.hostnames === hostnames.join() && now.getTime() < checked.renewAt) {
      return { servingCertificate: current, caBundle: ca.cert };
    }
    if (servingCertificateProblem(current, ca, hostnames, now)) {
      return { servingCertificate: await issueServingCertificate(ca, hostnames, { now }), caBundle: ca.cert };
    }
    this.goodCertificates.set(key, { ...current, hostnames: hostnames.join(), renewAt: renewalTime(new X509Certificate(current.cert)) });
    return { servingCertificate: current, caBundle: ca.cert };
  }

  /** Drops what was kept for a report that is gone. */
  private forgetReport(key: ReportKey): void {
    this.rendered.delete(key);
    this.goodCertificates.delete(key);
  }

  /** The report's chart: the last one rendered when the inputs are the same (the chart is a pure function of them). */
  private render(key: string, report: MustGatherReport, options: RenderReportOptions): KubeObject[] {
    const { name, namespace, uid } = report.metadata;
    const inputs = createHash('sha256').update(JSON.stringify([name, namespace, uid, report.spec, options])).digest('base64');
    const last = this.rendered.get(key as ReportKey);
    if (last?.inputs === inputs) return last.objects;
    const objects = renderReport(report, options) as KubeObject[];
    this.rendered.set(key as ReportKey, { inputs, objects });
    return objects;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cache = await this.synced();
    if (cache.stale(key).length > 0) return { requeueAfter: this.pollAfterMs };
    const parsed = parseReportKey(key);
    if (!parsed) return {}; // not a report's key: nothing to reconcile (keys come from reports and their annotations)
    const { namespace, name } = parsed;
    const cached = cache.get<MustGatherReport>({ kind: RESOURCES.MustGatherReport.kind, namespace, name });
    if (!cached) {
      cache.forget(key);
      this.forgetReport(key as ReportKey);
      return {};
    }
    if (cached.metadata.deletionTimestamp) return this.finalize(key, cached);
    // One instant per reconcile: what is pruned and the status written agree about a deadline passing meanwhile.
    const now = this.now();
    try {
      validateSpec(cached.spec);
    } catch (err) {
      if (!(err instanceof ReportValidationError)) throw err;
      // The CRD refuses such specs; one stored before a schema change still must not crash the loop.
      return this.nothingCreated(key, cached, now, { invalidSpec: `The spec is invalid: ${err.message}.` });
    }
    // A report with objects already was admitted (a crash can come between its namespace and its finalizer): it goes on.
    const verdict = cache.ownedBy(cached.metadata.uid ?? '').length > 0 ? undefined : this.options.admission?.(cached);
    if (verdict && !verdict.admitted) return this.nothingCreated(key, cached, now, verdict.waiting ? { waiting: verdict.waiting } : {});
    // The finalizer goes on while the first stage (namespace, cluster-scoped objects) is applied: one round trip less
    // per new report. No later stage starts before it is in place; a report deleted meanwhile gets what the first
    // stage created deleted again at once (and a crash in between is the orphan sweep's at the next start). Going on
    // with the server's answer, the newest there is, saves waiting for the watch to bring it.
    const finalized = cached.metadata.finalizers?.includes(FINALIZER)
      ? Promise.resolve(cached)
      : this.patchFinalizers(key, cached, [...(cached.metadata.finalizers ?? []), FINALIZER]);
    finalized.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
    const onWrite = this.writesFor(key);

    const names = reportObjectNames(cached.metadata);
    const inNamespace = (kind: string, objectName: string) => ({ kind, namespace: names.namespace, name: objectName });
    const openshift = this.platform === 'openshift';
    const pod = cache.get<PodView & KubeObject>(inNamespace('Pod', names.main));
    // The random inputs of the chart, read back: oauth-proxy's cookie secret, or the operator-issued certificate.
    const secret = cache.get(inNamespace('Secret', openshift ? names.proxyCookieSecret : names.servingCertSecret));
    // When the report's objects began to exist: its namespace's creation, or now for a report starting now (one that
    // waited in line, or for a busy operator, must not have used up its start timeout before it started).
    const admittedAt = cache.get({ kind: RESOURCES.Namespace.kind, name: names.namespace })?.metadata.creationTimestamp ?? now.toISOString();
    const gathering = !this.status({ report: cached, ...(pod ? { pod } : {}), admittedAt, now }).gatheringOver;
    const tls = openshift ? undefined : await this.servingTls(key as ReportKey, names, secret);
    const desired = this.render(key, cached, {
      platform: this.platform, images: this.images, clientCa: cache.clientCa(), gathering,
      downloadAccess: this.options.downloadAccess ?? DEFAULT_DOWNLOAD_ACCESS,
      ...(openshift ? { cookieSecret: secretValue(secret, 'session_secret') ?? newCookieSecret() } : { servingCertificate: tls!.servingCertificate }),
      ...(this.options.ingress ? { ingress: this.options.ingress } : {}),
    });

    const tokenRef = refString(inNamespace('Secret', names.gatherTokenSecret));
    const plan: Stage[] = stages(desired).map((objects) => objects.some((object) => object.kind === 'Pod')
      ? {
        objects,
        waitsFor: (applied) => {
          if (pod) return undefined; // create-only: it stays as it is
          // Gathering over without a pod: the report ended before its pod ran (StartTimedOut); a new one could not gather.
          if (!gathering) return 'nothing: the report ended before its pod ran';
          // The pod mounts the gather token by key; creating it before the token is issued would stall the kubelet.
          // The token controller's write to the Secret comes through its watch and brings the report back.
          return secretValue(applied.get(tokenRef), 'token') ? undefined : `${tokenRef} to hold the gather token`;
        },
      }
      : { objects });
    const second = plan[1];
    if (second) plan[1] = { ...second, waitsFor: async (applied) => ((await finalized) ? second.waitsFor?.(applied) : 'the report, deleted meanwhile') };
    const changes: ChangeSetEntry[] = [];
    let applyError: Error | undefined;
    let waitingFor: string | undefined;
    try {
      const staged = await applyStaged(this.client, plan, { fieldManager: FIELD_MANAGER, live: (ref) => cache.get(ref), onWrite });
      changes.push(...staged.changes);
      waitingFor = staged.waitingFor;
      changes.push(...(await prune(this.client, cache.ownedBy(cached.metadata.uid ?? ''), desired, { onWrite })));
    } catch (err) {
      applyError = err as Error;
    }
    const report = await finalized;
    if (!report) {
      const created = changes.filter((c) => c.action === 'created' && c.live).map((c) => c.live!);
      changes.push(...(await deleteObjects(this.client, created, { onWrite })));
      this.options.onChanges?.(key, changes);
      return {};
    }
    this.options.onChanges?.(key, changes);
    const livePod = (changes.find((c) => c.ref.kind === 'Pod')?.live ?? pod) as (PodView & KubeObject) | undefined;

    const route = openshift ? cache.get<RouteView & KubeObject>(inNamespace('Route', names.main)) : undefined;
    const claim = cache.get<ClaimView & KubeObject>(inNamespace('PersistentVolumeClaim', names.main));
    const result = this.status({
      report, now, admittedAt,
      ...(livePod ? { pod: livePod } : {}), ...(route ? { route } : {}), ...(claim ? { claim } : {}),
      ...(tls ? { url: this.directUrl(names), caBundle: tls.caBundle } : {}),
      ...(applyError ? { applyError: applyError.message } : {}),
    });
    // A new report whose pod waits for its gather token only (the token controller answers within milliseconds) gets
    // its first status with its pod: one write instead of two; unless the wait drags on.
    const age = now.getTime() - Date.parse(report.metadata.creationTimestamp ?? '');
    if (!report.status && waitingFor && !applyError && age < FIRST_STATUS_GRACE_MS) return { requeueAfter: FIRST_STATUS_GRACE_MS - age };
    await this.writeStatus(key, report, result);
    this.recordTransitions(report, result, changes);
    if (applyError) throw new Error(`MustGatherReport/${key}: ${applyError.message}`, { cause: applyError });
    return this.expireOrRequeue(key, report, result);
  }

  /**
   * A report of which nothing is created: an invalid spec, or one held back by the fleet's limits (in line, or
   * refused). It gets no finalizer, as there is nothing to clean up: deleting it is immediate. Its status says why;
   * one that ended for good expires like any finished report.
   */
  private async nothingCreated(key: string, report: MustGatherReport, now: Date, why: Pick<Observed, 'invalidSpec' | 'waiting'>): Promise<ReconcileResult> {
    const result = this.status({ report, now, ...why });
    await this.writeStatus(key, report, result);
    this.recordTransitions(report, result, []);
    return this.expireOrRequeue(key, report, result);
  }

  /** Deletes a report past its expiry; else says when to look again (the next deadline no watch event marks). */
  private async expireOrRequeue(key: string, report: MustGatherReport, result: StatusResult): Promise<ReconcileResult> {
    if (result.expiresAt && result.expiresAt.getTime() <= this.now().getTime()) {
      void this.options.events?.record(report, 'Normal', 'Expired', `The report expired at ${result.status.expiresAt}; deleting it and everything it created.`);
      const ref = reportRef(report);
      await this.client.delete(ref, { ...(report.metadata.uid ? { uid: report.metadata.uid } : {}) });
      this.writesFor(key)(ref, report as MustGatherReport & KubeObject, undefined);
      return {};
    }
    // The earliest moment something changes that no watch reports; at least 1 ms, as 0 means "do not requeue".
    const deadlines = [result.startDeadline, result.expiresAt].filter((d) => d !== undefined).map((d) => d.getTime() - this.now().getTime());
    const requeueAfter = Math.min(...deadlines);
    return Number.isFinite(requeueAfter) ? { requeueAfter: Math.max(requeueAfter, 1) } : {};
  }

  /**
   * Deletes what of a report its namespace's deletion does not take: the cluster-scoped bindings and the Role and
   * RoleBinding beside the report; then that namespace. Releases the report once the cache shows them all gone (their
   * delete events bring the report back here).
   */
  private async finalize(key: string, report: MustGatherReport): Promise<ReconcileResult> {
    if (!report.metadata.finalizers?.includes(FINALIZER)) return {};
    // The index holds only objects labelled with the report's uid: a user's namespace that shares the name is not ours.
    const owned = this.cache.ownedBy(report.metadata.uid ?? '');
    const removal = await removeReportObjects(this.client, owned, reportNamespaceName(report.metadata), { onWrite: this.writesFor(key) });
    this.options.onChanges?.(key, removal.changes);
    if (!removal.done) return {};
    this.forgetReport(key as ReportKey);
    const released = await this.patchFinalizers(key, report, report.metadata.finalizers.filter((f) => f !== FINALIZER));
    if (released && report.metadata.uid) this.options.events?.forget(report.metadata.uid);
    return {};
  }

  /** Replaces the finalizer list, guarded by resourceVersion so a concurrent change is not lost; undefined: the report is gone. */
  private async patchFinalizers(key: string, report: MustGatherReport, finalizers: string[]): Promise<MustGatherReport | undefined> {
    const ref = reportRef(report);
    try {
      const patched = await this.client.patch<MustGatherReport & KubeObject>(ref, { metadata: { finalizers, resourceVersion: report.metadata.resourceVersion } });
      this.writesFor(key)(ref, report as MustGatherReport & KubeObject, patched);
      return patched;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Writes the status subresource, only when it changed. */
  private async writeStatus(key: string, report: MustGatherReport, result: StatusResult): Promise<void> {
    if (isDeepStrictEqual(normalize(report.status), normalize(result.status))) return;
    const ref = reportRef(report);
    try {
      // A merge patch with the whole status: `null` clears what is no longer there (a report_url that went away).
      const cleared = Object.fromEntries(Object.keys(report.status ?? {}).map((k) => [k, null]));
      const written = await this.client.patch<KubeObject>(ref, { metadata: { resourceVersion: report.metadata.resourceVersion }, status: { ...cleared, ...result.status } }, { subresource: 'status' });
      this.writesFor(key)(ref, report as MustGatherReport & KubeObject, written);
    } catch (err) {
      if (isNotFound(err)) return;
      // Someone wrote the report meanwhile: the watch brings the new version and with it another reconcile.
      if (isConflict(err)) throw new Error(`MustGatherReport/${reportKey(report)}: status conflict, retrying`, { cause: err });
      throw err;
    }
  }

  /** Events for what changed; written in the background (the reconcile does not wait for them). */
  private recordTransitions(report: MustGatherReport, result: StatusResult, changes: readonly ChangeSetEntry[]): void {
    const events = this.options.events;
    if (!events) return;
    if (changes.some((c) => c.ref.kind === 'Pod' && c.action === 'created')) {
      void events.record(report, 'Normal', 'Created', `Created namespace ${reportNamespaceName(report.metadata)} and the report pod.`);
    }
    if (changes.some((c) => c.ref.kind === 'Pod' && c.action === 'kept')) {
      void events.record(report, 'Normal', 'PodKept', 'The report pod differs from what this operator version renders; it is kept as is so collection is not restarted.');
    }
    for (const gather of result.status.gathers ?? []) {
      if (gather.state === 'Running') void events.record(report, 'Normal', 'Gathering', `Gathering with image ${gather.image} (${gather.index} of ${gatherImages(report.spec).length}).`);
      if (gather.state === 'Failed' || gather.state === 'TimedOut' || gather.state === 'VolumeFull') {
        void events.record(report, 'Warning', gather.state === 'Failed' ? 'GatherFailed' : gather.state, `Image ${gather.image} (${gather.index} of ${gatherImages(report.spec).length}): ${gather.message ?? gather.state}`);
      }
    }
    if (changes.some((c) => c.action === 'deleted' && c.ref.kind === 'ClusterRoleBinding')) {
      void events.record(report, 'Normal', 'AccessRevoked', 'Gathering is over: deleted the gather service account\'s cluster-admin binding.');
    }
    const ready = result.status.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') void events.record(report, 'Normal', 'Ready', ready.message);
    else if (ready && result.finished) void events.record(report, 'Warning', ready.reason, ready.message);
    else if (ready && isWarningReason(ready.reason)) {
      void events.record(report, 'Warning', ready.reason, ready.message);
    }
  }
}

/** Conditions compared without key order. */
function normalize(status: unknown): unknown {
  return JSON.parse(JSON.stringify(status ?? {}));
}
