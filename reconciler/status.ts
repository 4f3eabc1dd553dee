/**
 * A report's status as a pure function of what the operator observed: the report, its pod, route (OpenShift) or
 * fixed URL (Kubernetes), volume claim, and the time. No I/O here: every state a pod can be in is an easy test.
 */
import { gatherImages } from '../constructs/operator-config.js';
import { reportNamespaceName } from '../constructs/report-identity.js';
import { parseDuration } from '../constructs/duration.js';
import { type Condition, type GatherStatus, type MustGatherReport, type MustGatherReportStatus, redactKinds, resolveSpec } from '../constructs/report-api.js';
import { isStuckReason, isTerminalReason, type ReadyReason } from '../constructs/ready-reasons.js';
import { type ArchiveResult, type ClusterFacts, CONTAINERS, parseArchiveResult, parseGatherResult, parseSummaryInput, SUMMARY_ENV } from '../constructs/pod-contract.js';
import { formatBytes } from '../constructs/quantity.js';

/** The parts of a container status the operator reads. */
export interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string };
  };
}

/** The parts of a pod's container the operator reads. */
export interface PodContainerView {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
}

/** The parts of a Pod the operator reads. */
export interface PodView {
  metadata: { name: string; namespace?: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { initContainers?: PodContainerView[]; containers?: PodContainerView[] };
  status?: {
    phase?: string;
    message?: string;
    reason?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** The parts of a Route the operator reads. */
export interface RouteView {
  metadata: { name: string; namespace?: string };
  spec?: { host?: string };
  status?: { ingress?: { host?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] }[] };
}

/** The parts of a PersistentVolumeClaim the operator reads. */
export interface ClaimView {
  metadata: { name: string };
  status?: { phase?: string };
}

export interface Observed {
  readonly report: MustGatherReport;
  /**
   * The images the report runs, as resolved once (status.images).
   * @default gatherImages(report.spec): spec.images or the default image
   */
  readonly images?: readonly string[];
  /** What the operator saw of the cluster when the report started (status.cluster). */
  readonly cluster?: ClusterFacts;
  /** Why the images cannot be resolved: ResolvingImages is retried until the start timeout, the others end the report. */
  readonly imageResolution?: { readonly reason: 'ResolvingImages' | 'ImageResolutionFailed' | 'ImageNotAllowed'; readonly message: string };
  readonly pod?: PodView;
  /** OpenShift profile: the Route, whose admitted host is the URL. */
  readonly route?: RouteView;
  /**
   * Kubernetes profile: where the archive is served (the Ingress host, or the Service's in-cluster name). Known from
   * the start, so Ready waits for no router. An Ingress controller need not ever write `status.loadBalancer`, so that is
   * not waited for either.
   */
  readonly url?: string;
  /** Kubernetes profile: the PEM CA that issued the file server's certificate, published as `status.caBundle`. */
  readonly caBundle?: string;
  readonly claim?: ClaimView;
  /** Why applying the report's objects failed this time, if it did: `Kind/namespace/name: what the server said`. */
  readonly applyError?: string;
  /** Why the report cannot be rendered at all (a spec the CRD should have refused). */
  readonly invalidSpec?: string;
  /** Why the report waits outside the fleet's limits (reconciler/admission.ts): nothing of it exists yet. */
  readonly waiting?: Waiting;
  /**
   * When the report's objects began to exist (its namespace's creation): a report that waited in line gets its start
   * timeout from then, not from its creation.
   */
  readonly admittedAt?: string;
  /**
   * How long a report with a stuck reason (stuck in `READY_REASONS`) may go without progress before it ends StartTimedOut.
   * @default 0: never
   */
  readonly startTimeoutMs?: number;
  readonly now: Date;
}

/** Why a report is held outside the fleet's limits: in line (Queued), or refused for good (ExceedsStorageBudget). */
export interface Waiting {
  readonly reason: ReadyReason;
  readonly message: string;
}

export interface StatusResult {
  readonly status: MustGatherReportStatus;
  /** Every gather has ended: the cluster-admin binding must go. */
  readonly gatheringOver: boolean;
  /** Ready, or failed for good: the expiry clock runs from `finishedAt`. */
  readonly finished: boolean;
  /** When the report expires (finishedAt + deleteAfter). */
  readonly expiresAt?: Date;
  /** When a stuck report gives up unless it makes progress first (no watch event marks that moment). */
  readonly startDeadline?: Date;
}

export const CONDITION = { initialized: 'Initialized', ready: 'Ready' } as const;

/** Waiting reasons that mean the image cannot be had: `oc adm must-gather` fails fast on these, and so do we. */
const IMAGE_PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable', 'SignatureValidationFailed']);
/** Waiting reasons that are just progress. */
const BENIGN_WAITING = new Set(['ContainerCreating', 'PodInitializing']);

/** A condition's value; the Initialized condition has reasons of its own (Created). */
interface ConditionValue {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

interface Readiness extends ConditionValue {
  reason: ReadyReason;
  /** Failed for good: no later pod state will make it Ready. */
  terminal?: boolean;
}

const byName = (statuses: ContainerStatus[] | undefined, name: string) => statuses?.find((s) => s.name === name);

function describeImage(images: readonly string[], index: number): string {
  return `image ${images[index - 1]} (${index} of ${images.length})`;
}

/** The images the report runs. */
const imagesOf = (observed: Pick<Observed, 'report' | 'images' | 'imageResolution'>): readonly string[] =>
  observed.images ?? (observed.imageResolution ? [] : gatherImages(observed.report.spec));

/**
 * What a pod was made with, read back from it: the images its gather containers run, in order, and the cluster facts
 * its archive step was given. The record of a report whose status does not show them yet (the pod is made before
 * the status that names them is written; a crash can come between) or never did (a pod of an earlier version).
 */
export function podRecord(pod: PodView): { images: string[]; cluster?: ClusterFacts } {
  const containers = pod.spec?.initContainers ?? [];
  const gathers = containers.map((c) => ({ index: Number(/^gather-(\d+)$/.exec(c.name)?.[1]), image: c.image }));
  const summary = containers.find((c) => c.name === CONTAINERS.archive)?.env?.find((e) => e.name === SUMMARY_ENV)?.value;
  const { cluster } = parseSummaryInput(summary);
  return { images: gathers.filter((g) => g.index > 0).sort((a, b) => a.index - b.index).map((g) => g.image), ...(cluster ? { cluster } : {}) };
}

/**
 * Per-image state from the gather containers' statuses and termination messages. `redacting` (spec.redact): a failed
 * gather's message (its last output lines) is published only as the archive step redacted it (`archive`), never as the
 * gather container wrote it.
 */
export function gatherStatuses(images: readonly string[], pod: PodView | undefined, redacting = false, archive?: ArchiveResult): GatherStatus[] {
  return images.map((image, i) => {
    const index = i + 1;
    const status = byName(pod?.status?.initContainerStatuses, CONTAINERS.gather(index));
    const state = status?.state;
    if (state?.terminated) {
      const terminated = state.terminated;
      const result = parseGatherResult(terminated.message ?? '');
      if (result) {
        const message = redacting ? archive?.gathers.find((g) => g.index === index)?.message : result.message;
        return {
          index, image, state: result.state, exitCode: result.exitCode, startedAt: result.startedAt, finishedAt: result.finishedAt,
          ...(message ? { message } : {}),
        };
      }
      // The wrapper died before recording a result (killed, OOM, no bash in the image): say what the kubelet saw.
      return {
        index, image, state: 'Failed', exitCode: terminated.exitCode,
        ...(terminated.startedAt ? { startedAt: terminated.startedAt } : {}),
        ...(terminated.finishedAt ? { finishedAt: terminated.finishedAt } : {}),
        message: `the gather container ended (${terminated.reason ?? 'exit code'} ${terminated.exitCode}) without recording a result${terminated.message && !redacting ? `: ${terminated.message.slice(-500)}` : ''}`,
      };
    }
    if (state?.running) return { index, image, state: 'Running', ...(state.running.startedAt ? { startedAt: state.running.startedAt } : {}) };
    const waiting = state?.waiting;
    const message = waiting && !BENIGN_WAITING.has(waiting.reason ?? '') ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : undefined;
    return { index, image, state: 'Pending', ...(message ? { message } : {}) };
  });
}

/** Whether the report asks for any redaction (spec.redact). */
export function isRedacting(report: { readonly spec: MustGatherReport['spec'] }): boolean {
  return redactKinds(report.spec).length > 0;
}

/** Every gather container has ended (or the pod is past gathering for good). */
export function isGatheringOver(pod: PodView | undefined, imageCount: number): boolean {
  if (!pod) return false;
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return true;
  const statuses = pod.status?.initContainerStatuses;
  if (byName(statuses, CONTAINERS.archive)?.state?.running || byName(statuses, CONTAINERS.archive)?.state?.terminated) return true;
  return Array.from({ length: imageCount }, (_, i) => byName(statuses, CONTAINERS.gather(i + 1))).every((s) => s?.state?.terminated);
}

function failureSummary(gathers: GatherStatus[], total: number): string | undefined {
  const failed = gathers.filter((g) => g.state === 'Failed' || g.state === 'TimedOut' || g.state === 'VolumeFull');
  if (failed.length === 0) return undefined;
  const what = failed.map((g) => `${g.image} ${g.state === 'Failed' ? `failed (exit code ${g.exitCode})` : g.state === 'TimedOut' ? 'timed out' : 'stopped: volume full'}`);
  return `${failed.length} of ${total} gathers did not succeed: ${what.join('; ')}`;
}

/** The route's admitted host, if a router admitted it. */
export function admittedHost(route: RouteView | undefined): string | undefined {
  for (const ingress of route?.status?.ingress ?? []) {
    const admitted = ingress.conditions?.find((c) => c.type === 'Admitted');
    if (ingress.host && admitted?.status === 'True') return ingress.host;
  }
  return undefined;
}

/** A container waiting for a reason that is not progress, with the image it runs. */
function troubledContainer(pod: PodView): { name: string; image: string; reason: string; message: string; init: boolean } | undefined {
  const lists: [ContainerStatus[] | undefined, { name: string; image: string }[] | undefined, boolean][] = [
    [pod.status?.initContainerStatuses, pod.spec?.initContainers, true],
    [pod.status?.containerStatuses, pod.spec?.containers, false],
  ];
  for (const [statuses, specs, init] of lists) {
    for (const status of statuses ?? []) {
      const waiting = status.state?.waiting;
      if (!waiting?.reason || BENIGN_WAITING.has(waiting.reason)) continue;
      const image = specs?.find((c) => c.name === status.name)?.image ?? status.image ?? '';
      return { name: status.name, image, reason: waiting.reason, message: waiting.message ?? '', init };
    }
  }
  return undefined;
}

/** Which step a container belongs to, in words, and the terminal reason a failed pod gets when that step failed. */
function stepOf(name: string, images: readonly string[]): { words: string; failure: ReadyReason } {
  const gather = /^gather-(\d+)$/.exec(name);
  if (gather) return { words: `gather with ${describeImage(images, Number(gather[1]))}`, failure: 'PodFailed' };
  if (name === CONTAINERS.archive) return { words: 'compress step', failure: 'ArchiveFailed' };
  return { words: `container ${name}`, failure: 'ServerFailed' };
}

/**
 * An apply the server refuses: retried with backoff, but a refusal that does not go away by itself (a full Service IP
 * range, a quota) needs someone, so it is said where people look, naming the object and the server's words.
 */
function applyFailed(applyError: string): Readiness {
  return { status: 'False', reason: 'ApplyFailed', message: `Cannot apply the report's objects (retrying): ${applyError}` };
}

/** Images not resolved yet: retried until the start timeout (from the report's creation), then ImageResolutionFailed. */
function unresolved(observed: Observed, failure: NonNullable<Observed['imageResolution']>): Readiness {
  if (failure.reason !== 'ResolvingImages') return { status: 'False', reason: failure.reason, message: failure.message, terminal: true };
  const timeoutMs = observed.startTimeoutMs ?? 0;
  const created = Date.parse(observed.report.metadata.creationTimestamp ?? '');
  if (timeoutMs > 0 && observed.now.getTime() >= created + timeoutMs) {
    return { status: 'False', reason: 'ImageResolutionFailed', message: `Gave up after ${formatDuration(timeoutMs)}: ${failure.message}`, terminal: true };
  }
  return { status: 'False', reason: 'ResolvingImages', message: `${failure.message} Retrying.` };
}

function readiness(observed: Observed, gathers: GatherStatus[], url: string | undefined): Readiness {
  const { report, pod, claim } = observed;
  const images = imagesOf(observed);
  if (observed.invalidSpec) return { status: 'False', reason: 'InvalidSpec', message: observed.invalidSpec, terminal: true };
  // Terminal is final: StartTimedOut came from the clock, and a pod that starts after it has no binding left to gather with.
  const before = report.status?.conditions?.find((c) => c.type === CONDITION.ready);
  if (before?.status === 'False' && isTerminalReason(before.reason)) return { status: 'False', reason: before.reason as ReadyReason, message: before.message, terminal: true };
  if (observed.waiting) return { status: 'False', ...observed.waiting, terminal: isTerminalReason(observed.waiting.reason) };
  if (observed.imageResolution) return unresolved(observed, observed.imageResolution);
  if (!pod) {
    if (observed.applyError) return applyFailed(observed.applyError);
    return { status: 'False', reason: 'Pending', message: 'Creating the report\'s namespace, volume and pod.' };
  }
  const phase = pod.status?.phase;
  const initStatuses = pod.status?.initContainerStatuses;

  if (phase === 'Failed' || phase === 'Succeeded') {
    const failed = [...(initStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((s) => s.state?.terminated && s.state.terminated.exitCode !== 0);
    if (failed) {
      const { words, failure } = stepOf(failed.name, images);
      const t = failed.state!.terminated!;
      // A gather container's message is its output (FallbackToLogsOnError): not published unredacted.
      const output = t.message && !(isRedacting(observed.report) && failed.name.startsWith('gather-')) ? `: ${t.message.slice(-300)}` : '';
      return { status: 'False', reason: failure, message: `The ${words} failed (${t.reason ?? 'exit code'} ${t.exitCode})${output}.`, terminal: true };
    }
    return { status: 'False', reason: 'ServerFailed', message: `The report pod stopped (${phase}${pod.status?.message ? `: ${pod.status.message}` : ''}); the archive is no longer served.`, terminal: true };
  }

  const trouble = troubledContainer(pod);
  if (trouble && IMAGE_PULL_FAILURES.has(trouble.reason)) {
    const { words } = stepOf(trouble.name, images);
    return { status: 'False', reason: 'ImagePullFailed', message: `Cannot pull image ${trouble.image} for the ${words}: ${trouble.reason}${trouble.message ? `: ${trouble.message}` : ''}.` };
  }

  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const claimPhase = claim?.status?.phase;
  if (claimPhase === 'Lost') return { status: 'False', reason: 'StorageUnavailable', message: `The report's volume claim lost its volume.` };
  if (scheduled?.status === 'False') {
    const schedulerSays = scheduled.message ?? scheduled.reason ?? 'no reason given';
    if (claimPhase !== 'Bound' && /persistentvolumeclaim|volume/i.test(schedulerSays)) {
      return { status: 'False', reason: 'StorageUnavailable', message: `The report's volume is not bound (claim ${claimPhase ?? 'missing'}): ${schedulerSays}` };
    }
    return { status: 'False', reason: 'Unschedulable', message: `The report pod cannot be scheduled: ${schedulerSays}` };
  }
  if (trouble) {
    const { words } = stepOf(trouble.name, images);
    return { status: 'False', reason: 'CannotStart', message: `The ${words} cannot start: ${trouble.reason}${trouble.message ? `: ${trouble.message}` : ''}.` };
  }

  const running = gathers.find((g) => g.state === 'Running');
  const pending = gathers.find((g) => g.state === 'Pending');
  const problems = gathers.filter((g) => g.state !== 'Running' && g.state !== 'Pending' && g.state !== 'Succeeded');
  const lastProblem = problems.at(-1);
  const current = running ?? pending;
  if (current) {
    if (!running && gathers.every((g) => g.state === 'Pending')) {
      return { status: 'False', reason: 'Pending', message: `Waiting for the report pod to start${claimPhase && claimPhase !== 'Bound' ? ` (volume claim ${claimPhase})` : ''}.` };
    }
    const doing = `${running ? 'gathering' : 'about to gather'} with ${describeImage(images, current.index)}`;
    if (lastProblem) {
      const reason = lastProblem.state === 'TimedOut' ? 'TimedOut' : 'GatherFailed';
      return { status: 'False', reason, message: `${failureSummary(gathers, images.length)}; now ${doing}.` };
    }
    return { status: 'False', reason: 'Gathering', message: `${doing[0]!.toUpperCase()}${doing.slice(1)}.` };
  }

  const archive = byName(initStatuses, CONTAINERS.archive);
  const archiveResult = archive?.state?.terminated ? parseArchiveResult(archive.state.terminated.message ?? '') : undefined;
  if (!archive?.state?.terminated) {
    return { status: 'False', reason: 'Compressing', message: `Compressing the output of ${images.length} gather${images.length === 1 ? '' : 's'} into must-gather.tar.gz.` };
  }
  const size = archiveResult ? ` (${formatBytes(archiveResult.sizeBytes)})` : '';
  const serving = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  if (!serving) return { status: 'False', reason: 'ServerNotReady', message: `The archive${size} is ready; waiting for the file server${observed.url ? '' : ' and oauth-proxy'}.` };
  if (!url) return { status: 'False', reason: 'ServerNotReady', message: `The archive${size} is served; waiting for a router to admit Route ${pod.metadata.namespace}/${observed.route?.metadata.name ?? 'must-gather'}.` };
  const summary = failureSummary(gathers, images.length);
  return { status: 'True', reason: 'ArchiveReady', message: `must-gather.tar.gz${size} is ready at ${url}${summary ? `; ${summary}` : ''}.` };
}

/** The latest sign of progress: the report's creation, or a gather or the compress step starting or ending. */
function lastProgress(observed: Observed, gathers: GatherStatus[]): number | undefined {
  const archive = byName(observed.pod?.status?.initContainerStatuses, CONTAINERS.archive)?.state;
  const times = [
    observed.report.metadata.creationTimestamp, observed.admittedAt,
    ...gathers.flatMap((g) => [g.startedAt, g.finishedAt]),
    archive?.running?.startedAt, archive?.terminated?.startedAt, archive?.terminated?.finishedAt,
  ].map((t) => (t ? Date.parse(t) : Number.NaN)).filter((t) => !Number.isNaN(t));
  return times.length > 0 ? Math.max(...times) : undefined;
}

/** A duration in Go's units without zero parts: 600000 -> "10m", 5400000 -> "1h30m", 2500 -> "2.5s". */
export function formatDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}` || '0s';
}

/** A stuck report past its start deadline ends StartTimedOut; before that, the deadline is when to look again. */
function withStartTimeout(observed: Observed, gathers: GatherStatus[], ready: Readiness): { ready: Readiness; startDeadline?: Date } {
  const timeoutMs = observed.startTimeoutMs ?? 0;
  if (timeoutMs <= 0 || ready.status !== 'False' || !isStuckReason(ready.reason)) return { ready };
  const since = lastProgress(observed, gathers);
  if (since === undefined) return { ready };
  const startDeadline = new Date(since + timeoutMs);
  if (observed.now.getTime() < startDeadline.getTime()) return { ready, startDeadline };
  const cause = `${ready.message[0]!.toLowerCase()}${ready.message.slice(1)}`;
  return { ready: { status: 'False', reason: 'StartTimedOut', message: `Gave up after ${formatDuration(timeoutMs)}: ${cause}`, terminal: true } };
}

const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

function initialized(observed: Observed, gathers: GatherStatus[], ready: Readiness): ConditionValue {
  if (observed.invalidSpec) return { status: 'False', reason: 'InvalidSpec', message: observed.invalidSpec };
  if (observed.waiting) {
    const { reason } = observed.waiting;
    return { status: 'False', reason, message: isTerminalReason(reason) ? 'Nothing of the report was created.' : 'Nothing of the report is created while it waits in line.' };
  }
  if (observed.imageResolution) return { status: 'False', reason: ready.reason, message: ready.message };
  if (!observed.pod) {
    return observed.applyError
      ? applyFailed(observed.applyError)
      : { status: 'False', reason: 'Pending', message: 'Creating the report\'s objects.' };
  }
  const started = gathers.some((g) => g.state !== 'Pending');
  return started
    ? { status: 'True', reason: 'Gathering', message: 'The report\'s objects are in place and collection has started.' }
    : { status: 'True', reason: 'Created', message: 'The report\'s objects are in place; collection starts when the pod runs.' };
}

/** A condition that keeps its lastTransitionTime while its status stays the same (metav1.Condition semantics). */
function condition(type: string, value: ConditionValue, previous: Condition[] | undefined, observed: Observed): Condition {
  const before = previous?.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === value.status ? before.lastTransitionTime : rfc3339(observed.now);
  return {
    type, status: value.status, reason: value.reason, message: value.message, lastTransitionTime,
    ...(observed.report.metadata.generation !== undefined ? { observedGeneration: observed.report.metadata.generation } : {}),
  };
}

/** The report's status, and what follows from it. */
export function computeStatus(observed: Observed): StatusResult {
  const { report, pod } = observed;
  const previous = report.status?.conditions;
  const images = imagesOf(observed);
  const archiveMessage = byName(pod?.status?.initContainerStatuses, CONTAINERS.archive)?.state?.terminated?.message;
  const archive = archiveMessage ? parseArchiveResult(archiveMessage) : undefined;
  const gathers = gatherStatuses(images, pod, isRedacting(report), archive);
  const host = admittedHost(observed.route);
  const url = observed.url ?? (host ? `https://${host}/must-gather.tar.gz` : undefined);
  const fromPod = readiness(observed, gathers, url);
  // A refused apply also matters with a pod running (a Service that cannot be re-created serves no one); only an end
  // for good says more.
  const current = observed.applyError && !fromPod.terminal ? applyFailed(observed.applyError) : fromPod;
  const { ready, startDeadline } = withStartTimeout(observed, gathers, current);
  const conditions = [condition(CONDITION.initialized, initialized(observed, gathers, ready), previous, observed), condition(CONDITION.ready, ready, previous, observed)];
  const readyCondition = conditions[1]!;
  const finished = ready.status === 'True' || ready.terminal === true;
  // Stored once, so expiry never moves. Ready's transition is when it finished; a terminal reason's False condition
  // dates from the report's creation, so a report that ends that way finished now.
  const finishedAt = report.status?.finishedAt
    ?? (ready.status === 'True' ? readyCondition.lastTransitionTime : finished ? rfc3339(observed.now) : undefined);
  const deleteAfterMs = parseDuration(resolveSpec(report.spec).deleteAfter);
  const expiresAt = finishedAt && deleteAfterMs !== undefined ? new Date(Date.parse(finishedAt) + deleteAfterMs) : undefined;
  // Named only once it exists: a report held back by the fleet's limits has none.
  const namespace = observed.waiting ? undefined : reportNamespaceName(report.metadata);
  const status: MustGatherReportStatus = {
    ...(report.metadata.generation !== undefined ? { observedGeneration: report.metadata.generation } : {}),
    ...(namespace ? { namespace } : {}),
    ...(url && ready.status === 'True' ? { report_url: url } : {}),
    ...(observed.caBundle ? { caBundle: observed.caBundle } : {}),
    conditions,
    ...(observed.images ? { images: [...observed.images] } : {}),
    ...(observed.cluster ? { cluster: observed.cluster } : {}),
    gathers,
    ...(archive ? { archive: { sizeBytes: archive.sizeBytes, sha256: archive.sha256, files: archive.files } } : {}),
    ...(archive?.redaction ? { redaction: archive.redaction } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    ...(expiresAt ? { expiresAt: rfc3339(expiresAt) } : {}),
  };
  return {
    status, finished,
    // A report that ended for good gathers no more, even with a gather container still waiting for its image.
    gatheringOver: finished || isGatheringOver(pod, images.length),
    ...(expiresAt ? { expiresAt } : {}), ...(startDeadline ? { startDeadline } : {}),
  };
}
