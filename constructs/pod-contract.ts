/**
 * The contract between the operator and what runs in the report pod: container names, ports, paths, who may download,
 * and the result lines the gather wrapper (gather-script.ts) and the archive step write into their termination
 * messages, with their parsers. It depends on nothing, so the chart, the reconciler, the pod's own commands and
 * `mustgather download` all read the same values without loading each other.
 *
 * Wiring: the file server always terminates TLS itself on {@link PORTS.fileServer} and checks every caller
 * (TokenReview / client certificate, then SubjectAccessReview), in both platform profiles. On OpenShift, oauth-proxy
 * listens on {@link PORTS.proxy} for browser logins and forwards to the file server with the user's own token, so the
 * server's check applies behind it too. Without a router, `mustgather download` port-forwards to the file server.
 */
export const PORTS = {
  /** Service port (https). On OpenShift it targets oauth-proxy, on plain Kubernetes the file server. */
  service: 443,
  /** oauth-proxy's TLS port (OpenShift profile only). */
  proxy: 9443,
  proxyName: 'proxy-https',
  /** The file server's own TLS port: every request is authenticated and authorized here. */
  fileServer: 8443,
  fileServerName: 'https',
} as const;

/** Where the volume and the credentials are mounted in each container. */
export const PATHS = {
  /** Gather containers: must-gather scripts write to /must-gather, hard-coded; it is their sub-path of the volume. */
  gatherOutput: '/must-gather',
  /** Archive and file-server containers see the whole volume here. */
  data: '/data',
  /** Volume sub-directory holding one sub-directory per image. */
  gathersSubPath: 'gathers',
  archiveFile: 'must-gather.tar.gz',
  serviceAccount: '/var/run/secrets/kubernetes.io/serviceaccount',
  /** The file server's serving certificate (`tls.crt`, `tls.key`): service-ca's on OpenShift, the operator's CA's elsewhere. */
  serverTls: '/etc/mustgather/tls',
  /** The cluster's client CA (`ca.crt`), handed over by the operator from kube-system/extension-apiserver-authentication. */
  clientCa: '/etc/mustgather/client-ca',
  proxyCookie: '/etc/proxy/cookie',
} as const;

/** Platform profiles: what exposes the file server and who issues its certificate. */
export const PLATFORMS = ['openshift', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * The SubjectAccessReview a caller must pass to download (`spec.resourceAttributes`). An empty string means "all
 * namespaces" for `namespace`, as in a SubjectAccessReview.
 */
export interface DownloadAccess {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** Default: cluster-admin-equivalent (`*` verbs on `*` resources in `*` groups, cluster-wide). */
export const DEFAULT_DOWNLOAD_ACCESS: DownloadAccess = { verb: '*', group: '*', resource: '*' };

const ACCESS_KEYS = ['verb', 'group', 'resource', 'subresource', 'namespace', 'name'] as const;

/** `verb=get,group=mustgather.openshift.io,resource=mustgatherreports,subresource=download` form of {@link DownloadAccess}. */
export function formatDownloadAccess(access: DownloadAccess): string {
  return ACCESS_KEYS.filter((k) => access[k] !== undefined && (k === 'verb' || k === 'group' || k === 'resource' || access[k] !== ''))
    .map((k) => `${k}=${access[k]}`)
    .join(',');
}

/**
 * Parses {@link formatDownloadAccess}'s form. `verb`, `group` (`""` for the core group) and `resource` are required;
 * throws an Error naming what is wrong.
 */
export function parseDownloadAccess(text: string): DownloadAccess {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!(ACCESS_KEYS as readonly string[]).includes(key)) {
      throw new Error(`download access "${text}": unknown key "${key}" (expected ${ACCESS_KEYS.join(', ')})`);
    }
    if (eq < 0) throw new Error(`download access "${text}": "${key}" needs a value (${key}=...)`);
    if (key in out) throw new Error(`download access "${text}": "${key}" given twice`);
    out[key] = part.slice(eq + 1).trim();
  }
  for (const key of ['verb', 'group', 'resource'] as const) {
    if (out[key] === undefined) throw new Error(`download access "${text}": "${key}" is required`);
  }
  if (!out.verb || !out.resource) throw new Error(`download access "${text}": verb and resource must not be empty`);
  return out as unknown as DownloadAccess;
}

/** Container names: the reconciler reads the pod's status by them. */
export const CONTAINERS = {
  gather: (index: number) => `gather-${index}`,
  archive: 'archive',
  fileServer: 'file-server',
  proxy: 'oauth-proxy',
} as const;

// ---------- the gather result (one line, written by GATHER_SCRIPT) ----------

/** How a gather ended. */
export const GATHER_RESULT_STATES = ['Succeeded', 'Failed', 'TimedOut', 'VolumeFull'] as const;
export type GatherResultState = (typeof GATHER_RESULT_STATES)[number];

export function isGatherResultState(value: unknown): value is GatherResultState {
  return GATHER_RESULT_STATES.includes(value as GatherResultState);
}

/**
 * The outcome of one gather, as {@link GATHER_SCRIPT} records it. `exitCode` is the gather's, as timeout(1) passed it
 * on: 124 (or 137 when SIGTERM was ignored) for TimedOut, 128 + signal when the volume guard stopped it.
 */
export interface GatherResult {
  /** Position of the image in `spec.images`, from 1. */
  index: number;
  image: string;
  state: GatherResultState;
  exitCode: number;
  /** RFC 3339, UTC, seconds. */
  startedAt: string;
  finishedAt: string;
  /** One or a few sentences for people; for Failed, the gather's last output lines. */
  message: string;
}

/**
 * The gather result in a termination message or `gather-result.json`, or `undefined` when there is none. Tolerant: a
 * termination message may be the container's last log lines instead (FallbackToLogsOnError, when the script was
 * killed before writing its result), truncated, or anything else; the last line that is a well-formed result wins.
 */
export function parseGatherResult(text: string): GatherResult | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const result = asGatherResult(lines[i]!.trim());
    if (result) return result;
  }
  return undefined;
}

function asGatherResult(line: string): GatherResult | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { index, image, state, exitCode, startedAt, finishedAt, message } = value as Record<string, unknown>;
  if (!Number.isInteger(index) || !Number.isInteger(exitCode)) return undefined;
  if (!isGatherResultState(state)) return undefined;
  if (typeof startedAt !== 'string' || typeof finishedAt !== 'string') return undefined;
  return {
    index: index as number,
    image: typeof image === 'string' ? image : '',
    state,
    exitCode: exitCode as number,
    startedAt,
    finishedAt,
    message: typeof message === 'string' ? message : '',
  };
}

// ---------- redaction (`spec.redact`, done by the archive step) ----------

/** What the archive step can redact: `spec.redact`'s fields and `mustgather archive --redact`'s values. */
export const REDACT_KINDS = ['secrets', 'ipAddresses', 'macAddresses'] as const;
export type RedactKind = (typeof REDACT_KINDS)[number];

/** The kinds in `--redact`'s form (`secrets,ipAddresses`); throws naming an unknown one. */
export function parseRedactKinds(text: string): RedactKind[] {
  const kinds = text.split(',').map((k) => k.trim()).filter(Boolean);
  for (const kind of kinds) {
    if (!(REDACT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown redaction "${kind}" (known: ${REDACT_KINDS.join(', ')})`);
  }
  return kinds as RedactKind[];
}

/** Values replaced, by kind (never the values themselves). */
export type RedactionCounts = Record<RedactKind, number>;

/** What redaction did to one archive: `status.redaction`, and the counts part of {@link REDACTION_FILE}. */
export interface RedactionResult extends RedactionCounts {
  /** Files whose content was rewritten. */
  filesRedacted: number;
  /** Binary files archived as they are (not rewritten); {@link REDACTION_FILE} names them. */
  filesNotRedacted: number;
  /** Files left out because they could not be redacted safely; {@link REDACTION_FILE} names them. */
  filesOmitted: number;
}

/** The redaction record at the archive's root, under its top directory (counts and file names, never values). */
export const REDACTION_FILE = 'redaction.json';

// ---------- the archive result (one line, written by `mustgather archive`) ----------

/** One gather's outcome, as the archive step found it in `gather-result.json`. */
export interface ArchivedGather {
  index: number;
  state: GatherResultState;
  exitCode: number;
  /**
   * The gather's message, redacted, when the archive was redacted and the gather did not succeed: the operator
   * publishes it instead of the unredacted one in the gather container's termination message.
   */
  message?: string;
}

/** The archive step's termination message: what the reconciler puts in `status.archive` and checks gathers against. */
export interface ArchiveResult {
  sizeBytes: number;
  sha256: string;
  files: number;
  /** Files that vanished, changed or could not be read while archived. */
  warnings: number;
  gathers: ArchivedGather[];
  /** Gathers left out of `gathers` to keep the message under the kubelet's 4096 bytes. */
  gathersOmitted?: number;
  /** Present when the archive was redacted. */
  redaction?: RedactionResult;
}

/** The kubelet keeps at most 4096 bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/** One JSON line of at most `limit` bytes: gathers at the end of the list are dropped, and counted, to fit. */
export function formatArchiveResult(summary: Omit<ArchiveResult, 'gathersOmitted'>, limit = TERMINATION_MESSAGE_LIMIT): string {
  const base = {
    sizeBytes: summary.sizeBytes, sha256: summary.sha256, files: summary.files, warnings: summary.warnings,
    ...(summary.redaction ? { redaction: summary.redaction } : {}),
  };
  const render = (kept: number): string => {
    const omitted = summary.gathers.length - kept;
    return JSON.stringify({ ...base, gathers: summary.gathers.slice(0, kept), ...(omitted > 0 ? { gathersOmitted: omitted } : {}) } satisfies ArchiveResult);
  };
  const all = render(summary.gathers.length);
  if (Buffer.byteLength(all) <= limit) return all;
  // The marker with every gather omitted is the longest it gets: within what is left, keep gathers while they fit.
  let budget = limit - Buffer.byteLength(render(0));
  let kept = 0;
  for (const gather of summary.gathers) {
    budget -= Buffer.byteLength(JSON.stringify(gather)) + 1;
    if (budget < 0) break;
    kept++;
  }
  return render(kept);
}

/**
 * The archive result in a termination message, or `undefined`. Tolerant like {@link parseGatherResult}: the message
 * may be log lines (FallbackToLogsOnError) or truncated; the last well-formed JSON line wins, malformed gathers are
 * dropped.
 */
export function parseArchiveResult(text: string): ArchiveResult | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const result = asArchiveResult(lines[i]!.trim());
    if (result) return result;
  }
  return undefined;
}

function asArchiveResult(line: string): ArchiveResult | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { sizeBytes, sha256, files, warnings, gathers, gathersOmitted, redaction } = value;
  if (!isCount(sizeBytes) || !isCount(files) || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return {
    sizeBytes,
    sha256,
    files,
    warnings: isCount(warnings) ? warnings : 0,
    gathers: (Array.isArray(gathers) ? gathers : []).filter(isArchivedGather)
      .map(({ index, state, exitCode, message }) => ({ index, state, exitCode, ...(typeof message === 'string' ? { message } : {}) })),
    ...(isCount(gathersOmitted) && gathersOmitted > 0 ? { gathersOmitted } : {}),
    ...(asRedactionResult(redaction) ?? {}),
  };
}

const REDACTION_RESULT_KEYS = [...REDACT_KINDS, 'filesRedacted', 'filesNotRedacted', 'filesOmitted'] as const;

/** `{ redaction }` when `value` is a well-formed {@link RedactionResult}. */
function asRedactionResult(value: unknown): { redaction: RedactionResult } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (!REDACTION_RESULT_KEYS.every((key) => isCount(record[key]))) return undefined;
  return { redaction: Object.fromEntries(REDACTION_RESULT_KEYS.map((key) => [key, record[key]])) as unknown as RedactionResult };
}

function isArchivedGather(value: unknown): value is ArchivedGather {
  if (typeof value !== 'object' || value === null) return false;
  const { index, state, exitCode } = value as Record<string, unknown>;
  return Number.isInteger(index) && Number.isInteger(exitCode) && isGatherResultState(state);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

// ---------- the summary (what the operator saw, handed to the archive step in its environment) ----------

/**
 * What the operator saw of the cluster when a report started gathering: `status.cluster`, and the facts of the
 * archive's `summary` file (the archive step has no API access by design, so the operator reads them and the chart
 * hands them over). Lists are cut to {@link CLUSTER_FACTS_LIST_LIMIT} lines; the totals say how many there were.
 */
export interface ClusterFacts {
  /** OpenShift: ClusterVersion `spec.clusterID`; elsewhere the `kube-system` namespace's uid. */
  id: string;
  /** OpenShift: the ClusterVersion's desired version; elsewhere the API server's gitVersion. */
  version: string;
  /** OpenShift: the update state in `oc adm must-gather`'s words (`Stable at "4.20.1"`, `Updating to ... from ...`). */
  versionState?: string;
  /** `OpenShift` or `Kubernetes`, with the infrastructure provider when known: `OpenShift (AWS)`, `Kubernetes (kind)`. */
  platform: string;
  /** The API server's gitVersion. */
  kubernetesVersion: string;
  /** When the operator read these facts, RFC 3339. */
  observedAt: string;
  /** Nodes, and those not Ready (`name: reason`). */
  nodes?: { total: number; notReady: string[] };
  /** Cluster operators (where the API is served), and those not available, degraded, not upgradeable or progressing. */
  clusterOperators?: { total: number; notHealthy: string[] };
  /** Facts that could not be read, with why: the report gathers anyway. */
  unreadable?: string[];
}

/** At most this many lines in each list of {@link ClusterFacts}, each at most {@link CLUSTER_FACTS_LINE_LIMIT} characters. */
export const CLUSTER_FACTS_LIST_LIMIT = 20;
export const CLUSTER_FACTS_LINE_LIMIT = 300;

/** The archive step's input for the summary: the report, the images in the order they ran, and the cluster facts. */
export interface SummaryInput {
  /** `namespace/name` of the report. */
  report: string;
  images: string[];
  /** Absent when rendered offline (`mustgather synth`): the summary says the facts are unknown. */
  cluster?: ClusterFacts;
}

/** The archive container's environment variable holding {@link SummaryInput} as JSON. */
export const SUMMARY_ENV = 'MUST_GATHER_SUMMARY';
/** The summary's path in the archive, under its top directory: the first file a person reads. */
export const SUMMARY_FILE = 'summary';

/**
 * {@link SummaryInput} as JSON with every object's keys sorted: the facts come fresh from the operator's reads when a
 * report starts and back from `status.cluster` (the API server returns its keys sorted) when it renders the report
 * again, and the pod's environment must read the same both times (a pod that differs is kept, and said to differ).
 */
export function formatSummaryInput(input: SummaryInput): string {
  return JSON.stringify(sortedKeys(input));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]));
}

/** {@link SummaryInput} from its JSON, tolerant: what is malformed is left out (a summary with less beats none). */
export function parseSummaryInput(text: string | undefined): SummaryInput {
  let value: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text ?? '{}');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) value = parsed as Record<string, unknown>;
  } catch {
    // left empty
  }
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const cluster = value.cluster;
  const facts = typeof cluster === 'object' && cluster !== null && typeof (cluster as ClusterFacts).id === 'string' ? cluster as ClusterFacts : undefined;
  return {
    report: typeof value.report === 'string' ? value.report : '',
    images: strings(value.images),
    ...(facts ? {
      cluster: {
        ...facts,
        ...(facts.nodes ? { nodes: { total: Number(facts.nodes.total) || 0, notReady: strings(facts.nodes.notReady) } } : {}),
        ...(facts.clusterOperators ? { clusterOperators: { total: Number(facts.clusterOperators.total) || 0, notHealthy: strings(facts.clusterOperators.notHealthy) } } : {}),
        ...(facts.unreadable ? { unreadable: strings(facts.unreadable) } : {}),
      },
    } : {}),
  };
}
