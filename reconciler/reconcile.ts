/**
 * `reconcile(key)`: level-triggered, controller-runtime style. Each call reads the report and what it owns from the
 * watch caches (no GET or LIST), renders the chart in memory, applies it in stages, prunes what is no longer wanted
 * (the cluster-admin binding once gathering is over), writes the status when it changed, and says when to come back
 * (the start or expiry deadline). A cache that has not yet shown one of the reconciler's own writes is not read: the
 * watch event that shows the write brings the report back.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { GatherToken } from '../constructs/gather-token-secret.js';
import { DEFAULT_OPERATOR_NAMESPACE, OPERATOR_NAME } from '../constructs/install-chart.js';
import { DEFAULT_DOWNLOAD_ACCESS, type DownloadAccess, PATHS, type Platform } from '../constructs/pod-contract.js';
import { ingressHostname, LABELS, reportNamespaceName, reportObjectNames, serviceHostnames } from '../constructs/report-identity.js';
import { DEFAULT_IMAGES, type OperatorImages } from '../constructs/operator-config.js';
import type { ClusterFacts } from '../constructs/pod-contract.js';
import { type MustGatherReport, ReportValidationError, resolveSpec, validateSpec } from '../constructs/report-api.js';
import { isTerminalReason, isWarningReason } from '../constructs/ready-reasons.js';
import type { IngressOptions } from '../constructs/report-ingress.js';
import type { CertificateAndKey } from '../constructs/serving-cert.js';
import { newCookieSecret, type RenderReportOptions, renderReport } from '../constructs/render.js';
import { applyStaged, type ChangeSetEntry, type Stage, type WriteObserver } from './apply.js';
import { reportStages } from './report-stages.js';
import { currentToken, gatherTokenSeconds, renewalDue, requestGatherToken } from './gather-token.js';
import { ReportCache } from './cache.js';
import type { EventRecorder } from '../kube/events.js';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../kube/client.js';
import { ChartMemo } from './chart-memo.js';
import { deleteObjects, prune, removeReportObjects } from './ownership.js';
import { type ObjectRef, refOf, refString, RESOURCES, secretValue } from '../kube/resources.js';
import { checkServingCertificate, ensureServingCa, issueServingCertificate, renewalTime, type ServingCa } from './serving-ca.js';
import type { ReconcileResult } from './work-queue.js';
import { parseReportKey, type ReportKey, reportKey } from './report-key.js';
import { type ClaimView, computeStatus, type Observed, podRecord, type PodView, type RouteView, type StatusResult } from './status.js';
import { ClusterFactsReader } from './cluster-facts.js';
import { CLUSTER_READS_TTL_MS, ClusterReads } from './cluster-reads.js';
import { ImageResolver, type ResolutionFailure } from './image-resolution.js';
import type { Verdict } from './admission.js';

/** Finalizer that keeps a report until its namespace and cluster-scoped bindings are gone. */
export const FINALIZER = 'mustgather.openshift.io/cleanup';
/** Field manager of every server-side apply. */
export const FIELD_MANAGER = 'mustgather-operator';

/** How soon a report whose images cannot be resolved yet tries again: a quarter of its age, within these bounds. */
const RESOLUTION_RETRY_MS = { min: 1_000, max: 60_000 } as const;

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
   * The default must-gather image where the cluster has no `openshift/must-gather:latest` image stream tag.
   * @default DEFAULT_GATHER_IMAGE
   */
  readonly defaultGatherImage?: string;
  /**
   * The image stream tag whose image is the default must-gather image where it exists.
   * @default DEFAULT_GATHER_IMAGE_STREAM
   */
  readonly defaultGatherImageStream?: string;
  /**
   * Registries or repository prefixes every image a report runs must come from (`--allowed-registries`).
   * @default - any
   */
  readonly allowedRegistries?: readonly string[];
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
  /** The last chart rendered for each report (a render costs milliseconds; a report is reconciled many times). */
  private readonly rendered = new ChartMemo<ReportKey>();
  /** Resolves a starting report's images, and reads what it tells of the cluster: reads only reports that start pay for. */
  private readonly resolver: ImageResolver;
  private readonly clusterFacts: ClusterFactsReader;
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
    const reads = new ClusterReads(options.client, CLUSTER_READS_TTL_MS, () => this.now().getTime());
    this.resolver = new ImageResolver(reads, {
      ...(options.defaultGatherImage ? { defaultImage: options.defaultGatherImage } : {}),
      ...(options.defaultGatherImageStream ? { defaultImageStream: options.defaultGatherImageStream } : {}),
      ...(options.allowedRegistries ? { allowedRegistries: options.allowedRegistries } : {}),
    });
    this.clusterFacts = new ClusterFactsReader(reads);
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
   * The live serving certificate when it is still good, else a new one. A certificate found good, or issued here, is
   * not parsed and verified again until its renewal time (that costs a millisecond, and a report is reconciled on every
   * watch event).
   */
  private async servingTls(key: ReportKey, names: ReturnType<typeof reportObjectNames>, live: KubeObject | undefined): Promise<IssuedTls> {
    const ca = await this.ca();
    const hostnames = this.servingHostnames(names);
    const current = { cert: secretValue(live, 'tls.crt') ?? '', key: secretValue(live, 'tls.key') ?? '' };
    const now = this.now();
    const known = this.goodCertificates.get(key);
    if (known && known.cert === current.cert && known.key === current.key && known.hostnames === hostnames.join() && now.getTime() < known.renewAt) {
      return { servingCertificate: current, caBundle: ca.cert };
    }
    const check = checkServingCertificate(current, ca, hostnames, now);
    let good = current;
    let renewAt: number;
    if ('problem' in check) {
      const issued = await issueServingCertificate(ca, hostnames, { now });
      good = { cert: issued.cert, key: issued.key };
      renewAt = renewalTime(issued);
    } else {
      renewAt = check.renewAt;
    }
    this.goodCertificates.set(key, { ...good, hostnames: hostnames.join(), renewAt });
    return { servingCertificate: good, caBundle: ca.cert };
  }

  /** Drops what was kept for a report that is gone. */
  private forgetReport(key: ReportKey): void {
    this.rendered.forget(key);
    this.goodCertificates.delete(key);
  }

  /** The report's chart: the last one rendered when the inputs are the same (the chart is a pure function of them). */
  private render(key: string, report: MustGatherReport, options: RenderReportOptions): KubeObject[] {
    const { name, namespace, uid } = report.metadata;
    return this.rendered.chart(key as ReportKey, [name, namespace, uid, report.spec, options], () => renderReport(report, options) as KubeObject[]);
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
    const ownedBefore = cache.ownsAnything(cached.metadata.uid ?? '');
    const verdict = ownedBefore ? undefined : this.options.admission?.(cached);
    if (verdict && !verdict.admitted) return this.nothingCreated(key, cached, now, verdict.waiting ? { waiting: verdict.waiting } : {});
    // The finalizer goes on while the namespace and what goes in it are applied: one round trip less per new report.
    // What its namespace's deletion does not take (cluster role bindings, the event recorder's binding beside the
    // report) and the pod wait for it; a report deleted meanwhile gets what was created deleted again at once (and a
    // crash in between is the orphan sweep's at the next start). Going on with the server's answer, the newest there
    // is, saves waiting for the watch to bring it. Its request leaves now, before the render.
    const finalized = cached.metadata.finalizers?.includes(FINALIZER)
      ? Promise.resolve(cached)
      : this.patchFinalizers(key, cached, [...(cached.metadata.finalizers ?? []), FINALIZER]);
    finalized.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
    const onWrite = this.writesFor(key);

    const names = reportObjectNames(cached.metadata);
    const inNamespace = (kind: string, objectName: string) => ({ kind, namespace: names.namespace, name: objectName });
    const openshift = this.platform === 'openshift';
    const pod = cache.get<PodView & KubeObject>(inNamespace('Pod', names.main));
    const chosen = await this.chosenImages(cached, pod, now);
    if (!('images' in chosen)) return this.unresolved(key, finalized, chosen.failure);
    const { images, cluster } = chosen;
    // The random inputs of the chart, read back: oauth-proxy's cookie secret, or the operator-issued certificate.
    const secret = cache.get(inNamespace('Secret', openshift ? names.proxyCookieSecret : names.servingCertSecret));
    // When the report's objects began to exist: its namespace's creation, or now for a report starting now (one that
    // waited in line, or for a busy operator, must not have used up its start timeout before it started).
    const admittedAt = cache.get({ kind: RESOURCES.Namespace.kind, name: names.namespace })?.metadata.creationTimestamp ?? now.toISOString();
    // What every status computed here is told beside the report itself.
    const known = { now, images, admittedAt, ...(cluster ? { cluster } : {}) };
    const gathering = !this.status({ ...known, report: cached, ...(pod ? { pod } : {}) }).gatheringOver;
    // The serving certificate (Kubernetes profile): the live one while it is good, else a new one. Made in the next
    // turn of the event loop, once the first stage's requests are on their way: its CPU (a fraction of a millisecond,
    // several on a cold start) then overlaps their round trip instead of delaying them.
    const issuing = openshift ? undefined : nextTurn().then(() => this.servingTls(key as ReportKey, names, secret));
    issuing?.catch(() => undefined); // awaited by the stages that need it, and after them
    let token = gathering ? currentToken(cache.get(inNamespace('Secret', names.gatherTokenSecret)), now) : undefined;
    const base: RenderReportOptions = {
      platform: this.platform, images: this.images, clientCa: cache.clientCa(), gathering, gatherImages: images, ...(cluster ? { clusterFacts: cluster } : {}),
      downloadAccess: this.options.downloadAccess ?? DEFAULT_DOWNLOAD_ACCESS,
      ...(this.options.ingress ? { ingress: this.options.ingress } : {}),
    };
    const cookieSecret = openshift ? secretValue(secret, 'session_secret') ?? newCookieSecret() : undefined;
    /** The chart but its runtime objects: rendered once for the same inputs (see render()). */
    const chart = this.render(key, cached, { ...base, runtimeObjects: 'omit' });
    /**
     * The runtime objects with a gather token, or none (a few Secrets: cheap to render, and the token changes); the
     * last ones are kept, so the stage that applies them and the prune after it share one render.
     */
    let lastRuntime: { readonly token: GatherToken | undefined; readonly objects: Promise<KubeObject[]> } | undefined;
    const renderRuntime = (gatherToken: GatherToken | undefined): Promise<KubeObject[]> => {
      if (!lastRuntime || lastRuntime.token !== gatherToken) {
        lastRuntime = {
          token: gatherToken,
          objects: (async () => {
            const tls = await issuing;
            return renderReport(cached, {
              ...base, runtimeObjects: 'only', ...(tls ? { servingCertificate: tls.servingCertificate } : { cookieSecret }), ...(gatherToken ? { gatherToken } : {}),
            }) as KubeObject[];
          })(),
        };
      }
      return lastRuntime.objects;
    };
    /** The token that stage 2 applies the Secret of: one still good, else stage 4 requests a new one. */
    const currentGatherToken = token;
    // Stage 2's runtime Secrets are rendered in the next turn, once the first requests are out: ready when the
    // namespace is, instead of a render after its answer on the way to the pod.
    nextTurn().then(() => renderRuntime(currentGatherToken)).catch(() => undefined); // the stage awaits the same render
    const stages = reportStages(chart, names);
    const inReportNamespace = (object: KubeObject) => object.metadata.namespace === names.namespace;
    const besideInside = stages.beside.filter(inReportNamespace);
    const besideOutside = stages.beside.filter((object) => !inReportNamespace(object));
    /**
     * Nothing outside the report's namespace before the finalizer is in place. What goes in the namespace does not
     * wait for it: the gather account is then served while the finalizer's write is in flight, instead of last in the
     * burst of a dozen writes beside it (an idle report's pod came ~10 ms later).
     */
    const afterFinalizer = async () => ((await finalized) ? undefined : 'the report, deleted meanwhile');
    const plan: Stage[] = [
      // The chain namespace -> gather account -> token -> its Secret -> pod; what the pod runs with beside it, what
      // only serves the archive after the pod (see reportStages).
      /* 0 */ { objects: stages.namespace },
      /* 1 */ { objects: stages.gatherAccount },
      /* 2 */ { objects: async () => [...besideInside, ...(await renderRuntime(currentGatherToken))], after: [0] },
      /* 3 */ { objects: besideOutside, waitsFor: afterFinalizer, after: [0] },
      /* 4 */ {
        // A new gather token (or a renewed one) for the account stage 1 made; then its Secret, before the pod mounts it.
        objects: async () => {
          if (!gathering || token) return [];
          const account = inNamespace('ServiceAccount', names.gatherServiceAccount);
          token = await requestGatherToken(this.client, account, gatherTokenSeconds(resolveSpec(cached.spec), images.length, this.startTimeoutMs), this.now);
          const tokenSecret = inNamespace('Secret', names.gatherTokenSecret);
          return (await renderRuntime(token)).filter((object) => refString(refOf(object)) === refString(tokenSecret));
        },
        after: [1],
      },
      /* 5 */ {
        objects: stages.pod,
        after: [2, 3, 4],
        // Gathering over without a pod: the report ended before its pod ran (StartTimedOut); a new one could not gather.
        waitsFor: async () => (pod || gathering ? undefined : 'nothing: the report ended before its pod ran'),
      },
      // After the pod, not beside it: the pod's write is then served alone (it took 17 ms in a burst with these, ~7 alone).
      /* 6 */ { objects: stages.serving, after: [5] },
    ];
    const changes: ChangeSetEntry[] = [];
    let applyError: Error | undefined;
    try {
      const staged = await applyStaged(this.client, plan, { fieldManager: FIELD_MANAGER, live: (ref) => cache.get(ref), onWrite });
      changes.push(...staged.changes);
      // Only against the whole chart: one without its token would have the token Secret deleted. A report that owned
      // nothing when this reconcile began (its cache not stale, checked above) owns only what the chart just made.
      if (ownedBefore && (!gathering || token)) changes.push(...(await prune(this.client, cache.ownedBy(cached.metadata.uid ?? ''), [...chart, ...(await renderRuntime(token))], { onWrite })));
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

    const tls = await issuing?.catch(() => undefined); // a failure to issue one failed the stage that needed it
    const route = openshift ? cache.get<RouteView & KubeObject>(inNamespace('Route', names.main)) : undefined;
    const claim = cache.get<ClaimView & KubeObject>(inNamespace('PersistentVolumeClaim', names.main));
    const result = this.status({
      ...known, report,
      ...(livePod ? { pod: livePod } : {}), ...(route ? { route } : {}), ...(claim ? { claim } : {}),
      ...(tls ? { url: this.directUrl(names), caBundle: tls.caBundle } : {}),
      ...(applyError ? { applyError: applyError.message } : {}),
    });
    await this.writeStatus(key, report, result);
    // Where the images came from, when more than spec.images decided it (the default image, streams, annotations).
    if (chosen.notes?.length) void this.options.events?.record(report, 'Normal', 'ImagesResolved', `Gathering with ${images.length} image${images.length === 1 ? '' : 's'}: ${images.join(', ')} (${chosen.notes.join('; ')}).`);
    this.recordTransitions(report, result, changes);
    if (applyError) throw new Error(`MustGatherReport/${key}: ${applyError.message}`, { cause: applyError });
    return this.followUp(key, report, result, gathering && token ? new Date(renewalDue(token)) : undefined);
  }

  /**
   * The images a report runs and what it saw of the cluster: resolved once, before anything runs (reads only a
   * starting report pays for), made into its pod and written to status.images with the status that follows; then read
   * back, so the report runs the same images all its life and the chart stays a pure function of its inputs. The
   * images from the pod while it exists (what runs, whatever a status written meanwhile says: it heals), else from
   * status.images; the facts from status.cluster, else from the pod (see podRecord). A report that ended before its
   * images were resolved resolves nothing.
   */
  private async chosenImages(report: MustGatherReport, pod: PodView | undefined, now: Date): Promise<
    { readonly images: readonly string[]; readonly cluster?: ClusterFacts; readonly notes?: string[] } | { readonly failure?: ResolutionFailure['failure'] }
  > {
    const running = pod && podRecord(pod);
    const images = running?.images.length ? running.images : report.status?.images;
    const cluster = report.status?.cluster ?? running?.cluster;
    if (images?.length) return { images, ...(cluster ? { cluster } : {}) };
    const ready = report.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready && isTerminalReason(ready.reason)) return {};
    const [resolution, facts] = await Promise.all([this.resolver.resolve(report.spec), this.clusterFacts.read(now)]);
    if ('failure' in resolution) return resolution;
    return { images: resolution.images, cluster: facts, notes: resolution.notes };
  }

  /**
   * A report without images to run: its status says why, and resolution is tried again, sooner for a young report,
   * until the start timeout ends it. A report's own trouble (a misspelt image stream) is not the operator failing, so
   * this is a requeue, not an error for the queue's backoff (which makes the operator Degraded).
   */
  private async unresolved(key: string, finalized: Promise<MustGatherReport | undefined>, failure: ResolutionFailure['failure'] | undefined): Promise<ReconcileResult> {
    const report = await finalized;
    if (!report) return {};
    // A report that ended before its images were resolved keeps its terminal reason (status keeps terminal ones).
    const result = this.status({ report, now: this.now(), imageResolution: failure ?? { reason: 'ImageResolutionFailed', message: '' } });
    await this.writeStatus(key, report, result);
    this.recordTransitions(report, result, []);
    if (result.finished) return this.followUp(key, report, result);
    const now = this.now().getTime();
    const created = Date.parse(report.metadata.creationTimestamp ?? '') || now;
    const retryIn = Math.min(Math.max((now - created) / 4, RESOLUTION_RETRY_MS.min), RESOLUTION_RETRY_MS.max);
    const deadline = this.startTimeoutMs > 0 ? created + this.startTimeoutMs - now : Infinity;
    return { requeueAfter: Math.max(1, Math.min(retryIn, deadline)) };
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
    return this.followUp(key, report, result);
  }

  /**
   * After the status is written: an expired report is deleted; otherwise when to look again (the next deadline, the
   * gather token's renewal among them).
   */
  private async followUp(key: string, report: MustGatherReport, result: StatusResult, tokenRenewal?: Date): Promise<ReconcileResult> {
    if (result.expiresAt && result.expiresAt.getTime() <= this.now().getTime()) {
      void this.options.events?.record(report, 'Normal', 'Expired', `The report expired at ${result.status.expiresAt}; deleting it and everything it created.`);
      const ref = reportRef(report);
      await this.client.delete(ref, { ...(report.metadata.uid ? { uid: report.metadata.uid } : {}) });
      this.writesFor(key)(ref, report as MustGatherReport & KubeObject, undefined);
      return {};
    }
    // The earliest moment something changes that no watch reports; at least 1 ms, as 0 means "do not requeue".
    const deadlines = [result.startDeadline, result.expiresAt, tokenRenewal].filter((d) => d !== undefined).map((d) => d.getTime() - this.now().getTime());
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

  /** Writes the status subresource, only when it changed; returns the report as written (undefined: it is gone). */
  private async writeStatus(key: string, report: MustGatherReport, result: StatusResult): Promise<MustGatherReport | undefined> {
    if (isDeepStrictEqual(normalize(report.status), normalize(result.status))) return report;
    const ref = reportRef(report);
    try {
      // A merge patch with the whole status: `null` clears what is no longer there (a report_url that went away).
      const cleared = Object.fromEntries(Object.keys(report.status ?? {}).map((k) => [k, null]));
      const written = await this.client.patch<MustGatherReport & KubeObject>(ref, { metadata: { resourceVersion: report.metadata.resourceVersion }, status: { ...cleared, ...result.status } }, { subresource: 'status' });
      this.writesFor(key)(ref, report as MustGatherReport & KubeObject, written);
      return written;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // Someone wrote the report meanwhile: the watch brings the new version and with it another reconcile.
      if (isConflict(err)) throw new Error(`MustGatherReport/${reportKey(report)}: status conflict, retrying`, { cause: err });
      throw err;
    }
  }

  /**
   * Events for what changed, written in the background (the reconcile does not wait for them). A state is an event
   * when it differs from the status the report had (the stored one, read before this reconcile wrote its own), not
   * whenever it holds: an operator that restarts and finds nothing new writes nothing, and the recorder's memory of
   * what it wrote (one process's) is only the second line.
   */
  private recordTransitions(report: MustGatherReport, result: StatusResult, changes: readonly ChangeSetEntry[]): void {
    const events = this.options.events;
    if (!events) return;
    if (changes.some((c) => c.ref.kind === 'Pod' && c.action === 'created')) {
      void events.record(report, 'Normal', 'Created', `Created namespace ${reportNamespaceName(report.metadata)} and the report pod.`);
    }
    const kept = changes.find((c) => c.ref.kind === 'Pod' && c.action === 'kept');
    if (kept) {
      void events.record(report, 'Normal', 'PodKept', `The report pod differs from what this operator version renders${kept.difference ? ` (first in ${kept.difference})` : ''}; it is kept as is so collection is not restarted.`);
    }
    const before = report.status;
    for (const gather of result.status.gathers ?? []) {
      if (before?.gathers?.find((g) => g.index === gather.index)?.state === gather.state) continue;
      if (gather.state === 'Running') void events.record(report, 'Normal', 'Gathering', `Gathering with image ${gather.image} (${gather.index} of ${result.status.gathers!.length}).`);
      if (gather.state === 'Failed' || gather.state === 'TimedOut' || gather.state === 'VolumeFull') {
        void events.record(report, 'Warning', gather.state === 'Failed' ? 'GatherFailed' : gather.state, `Image ${gather.image} (${gather.index} of ${result.status.gathers!.length}): ${gather.message ?? gather.state}`);
      }
    }
    if (changes.some((c) => c.action === 'deleted' && c.ref.kind === 'ClusterRoleBinding')) {
      void events.record(report, 'Normal', 'AccessRevoked', 'Gathering is over: deleted the gather service account\'s cluster-admin binding.');
    }
    const ready = result.status.conditions?.find((c) => c.type === 'Ready');
    const readyBefore = before?.conditions?.find((c) => c.type === 'Ready');
    if (!ready || (readyBefore?.status === ready.status && readyBefore.reason === ready.reason && readyBefore.message === ready.message)) return;
    if (ready.status === 'True') void events.record(report, 'Normal', 'Ready', ready.message);
    else if (result.finished || isWarningReason(ready.reason)) void events.record(report, 'Warning', ready.reason, ready.message);
  }
}

/** Conditions compared without key order. */
function normalize(status: unknown): unknown {
  return JSON.parse(JSON.stringify(status ?? {}));
}
