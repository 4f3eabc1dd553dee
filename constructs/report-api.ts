/**
 * The `MustGatherReport` API (mustgather.openshift.io/v1alpha1): its types, defaults and limits, and the same checks
 * the CRD's schema and CEL rules make, so `mustgather synth` rejects what the API server would reject, with the
 * field named. The CRD construct (`crd.ts`) is built from the same constants.
 */
import { parseDuration } from './duration.js';
import { IMAGE_REFERENCE_MAX_LENGTH, isImageReference } from './image-reference.js';
import {
  DNS_SUBDOMAIN_MAX_LENGTH, IMAGE_STREAM_TAG_MAX_LENGTH, isDnsLabel, isDnsSubdomain, isImageStreamTag, isLabelKey, isLabelValue,
  LABEL_VALUE_MAX_LENGTH, RFC3339_PATTERN,
} from './kube-names.js';
import { type ClusterFacts, REDACT_KINDS, type RedactionResult, type RedactKind } from './pod-contract.js';
import { parseQuantity } from './quantity.js';

export const API_GROUP = 'mustgather.openshift.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'MustGatherReport';
export const PLURAL = 'mustgatherreports';

/** Bounds of every spec field; the CRD and the CLI read them from here. */
export const LIMITS = {
  maxImages: 16,
  imageMaxLength: IMAGE_REFERENCE_MAX_LENGTH,
  maxImageStreams: 16,
  imageStreamMaxLength: IMAGE_STREAM_TAG_MAX_LENGTH,
  // One program and its arguments; an inline script fits in an argument (oc adm must-gather -- /bin/bash -c '...').
  command: { maxItems: 32, itemMaxLength: 4096 },
  sinceTimeMaxLength: 64,
  nodeNameMaxLength: DNS_SUBDOMAIN_MAX_LENGTH,
  nodeSelector: { maxEntries: 16, valueMaxLength: LABEL_VALUE_MAX_LENGTH },
  durationMaxLength: 32,
  deleteAfter: { min: '1m', max: '720h', default: '30m' },
  timeout: { min: '10s', max: '24h', default: '10m' },
  since: { min: '1s', max: '8760h' },
  storageSize: { min: '100Mi', default: '10Gi', maxLength: 32 },
  storageClassNameMaxLength: 253,
  volumePercentage: { min: 1, max: 100, default: 70 },
} as const;

/** The spec as a user writes it; every field is optional. */
export interface MustGatherReportSpec {
  /**
   * Must-gather images, run in order; never an empty list.
   * @default - the operator's default must-gather image
   */
  readonly images?: readonly string[];
  /**
   * Also gather with every image named by an `operators.openshift.io/must-gather-image` annotation.
   * @default false
   */
  readonly allImages?: boolean;
  /**
   * Image stream tags (`namespace/name:tag`) whose images also gather.
   * @default - none
   */
  readonly imageStreams?: readonly string[];
  /**
   * The gather command and its arguments, instead of `/usr/bin/gather`.
   * @default ['/usr/bin/gather']
   */
  readonly command?: readonly string[];
  /** How long a finished report is kept (Go duration). */
  readonly deleteAfter?: string;
  /** How long one image may gather before it is stopped (Go duration). */
  readonly timeout?: string;
  /** Passed to the gather scripts as MUST_GATHER_SINCE: only collect logs newer than this (Go duration). */
  readonly since?: string;
  /** Passed to the gather scripts as MUST_GATHER_SINCE_TIME: only collect logs after this RFC 3339 time. Not with `since`. */
  readonly sinceTime?: string;
  /** The node the report pod runs on. */
  readonly nodeName?: string;
  /** Labels of the nodes the report pod may run on. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** The volume the data is gathered into. */
  readonly storage?: { readonly size?: string; readonly storageClassName?: string };
  /** Stop gathering when the volume is this full (percent). */
  readonly volumePercentage?: number;
  /**
   * What the archive step replaces in gathered text before it is archived.
   * @default - nothing
   */
  readonly redact?: Readonly<Partial<Record<RedactKind, boolean>>>;
}

/**
 * The spec with every default the CRD declares filled in (what the API server stores). `images` stays as written:
 * which images run when it is omitted (and what `allImages` and `imageStreams` add) the operator decides.
 */
export interface ResolvedSpec {
  readonly images?: readonly string[];
  readonly allImages: boolean;
  readonly imageStreams?: readonly string[];
  readonly command?: readonly string[];
  readonly deleteAfter: string;
  readonly timeout: string;
  readonly since?: string;
  readonly sinceTime?: string;
  readonly nodeName?: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly storage: { readonly size: string; readonly storageClassName?: string };
  readonly volumePercentage: number;
  /** As written, each kind not written false (the CRD's defaults); see {@link redactKinds}. */
  readonly redact?: Readonly<Record<RedactKind, boolean>>;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** What became of one image's gather. */
export interface GatherStatus {
  index: number;
  image: string;
  state: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'TimedOut' | 'VolumeFull' | 'Unknown';
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export interface MustGatherReportStatus {
  observedGeneration?: number;
  /** Namespace holding the report's pod, volume and route. */
  namespace?: string;
  report_url?: string;
  /** PEM CA certificate that issued the file server's certificate (plain Kubernetes: the operator's own CA). */
  caBundle?: string;
  conditions?: Condition[];
  /**
   * The must-gather images the report runs, in order, as the operator resolved them once before anything ran (the
   * default image, spec.images, image streams, allImages annotations); the report runs exactly these all its life.
   */
  images?: string[];
  /** What the operator saw of the cluster when the report started (the archive's summary holds the same). */
  cluster?: ClusterFacts;
  gathers?: GatherStatus[];
  archive?: { sizeBytes: number; sha256: string; files?: number };
  /** What spec.redact replaced, from the archive step. */
  redaction?: RedactionResult;
  /** When the report finished (Ready, or a terminal reason), RFC 3339; stored once, never moved. */
  finishedAt?: string;
  /** finishedAt plus the current spec.deleteAfter: when the report and everything it created are deleted. */
  expiresAt?: string;
}

/** The parts of ObjectMeta the operator reads. */
export interface ReportMetadata {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface MustGatherReport {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ReportMetadata;
  readonly spec: MustGatherReportSpec;
  readonly status?: MustGatherReportStatus;
}

/** One field that is wrong, in the API server's words: `spec.images[1]: must be an image reference ...`. */
export class ReportValidationError extends Error {
  override readonly name = 'ReportValidationError';
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

/** Fills in the defaults the CRD schema declares. */
export function resolveSpec(spec: MustGatherReportSpec): ResolvedSpec {
  return {
    ...(spec.images !== undefined ? { images: spec.images } : {}),
    allImages: spec.allImages ?? false,
    ...(spec.imageStreams !== undefined ? { imageStreams: spec.imageStreams } : {}),
    ...(spec.command !== undefined ? { command: spec.command } : {}),
    deleteAfter: spec.deleteAfter ?? LIMITS.deleteAfter.default,
    timeout: spec.timeout ?? LIMITS.timeout.default,
    ...(spec.since !== undefined ? { since: spec.since } : {}),
    ...(spec.sinceTime !== undefined ? { sinceTime: spec.sinceTime } : {}),
    ...(spec.nodeName !== undefined ? { nodeName: spec.nodeName } : {}),
    ...(spec.nodeSelector !== undefined ? { nodeSelector: spec.nodeSelector } : {}),
    storage: {
      size: spec.storage?.size ?? LIMITS.storageSize.default,
      ...(spec.storage?.storageClassName ? { storageClassName: spec.storage.storageClassName } : {}),
    },
    volumePercentage: spec.volumePercentage ?? LIMITS.volumePercentage.default,
    ...(spec.redact !== undefined ? { redact: Object.fromEntries(REDACT_KINDS.map((kind) => [kind, spec.redact![kind] === true])) as Record<RedactKind, boolean> } : {}),
  };
}

/** The kinds `spec.redact` turns on, in {@link REDACT_KINDS} order; empty when nothing is redacted. */
export function redactKinds(spec: Pick<MustGatherReportSpec, 'redact'>): RedactKind[] {
  return REDACT_KINDS.filter((kind) => spec.redact?.[kind] === true);
}

/** Human words for a duration bound check; shared with the CRD's CEL messages. */
export function durationRangeMessage(bounds: { min: string; max: string }): string {
  return `must be between ${bounds.min} and ${bounds.max}`;
}
export const DURATION_FORMAT_MESSAGE = 'must be a duration such as 30s, 10m or 1h30m (units ns, us, ms, s, m, h)';
export const IMAGE_FORMAT_MESSAGE = 'must be an image reference such as quay.io/org/must-gather:tag or quay.io/org/must-gather@sha256:<digest>';
export const IMAGES_UNIQUE_MESSAGE = 'must not list the same image twice';
export const IMAGES_EMPTY_MESSAGE = 'must not be an empty list: omit images to gather with the default must-gather image';
export const IMAGE_STREAM_FORMAT_MESSAGE =
  'must be an image stream tag namespace/name:tag such as openshift/must-gather:latest (namespace a DNS label, name a DNS subdomain of at most 253 characters, tag of letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")';
export const IMAGE_STREAMS_UNIQUE_MESSAGE = 'must not list the same image stream tag twice';
export const COMMAND_EMPTY_MESSAGE = 'must not be an empty list: omit command to run /usr/bin/gather';
export const COMMAND_PROGRAM_MESSAGE = 'the first element is the program to run and must not be empty';
export const SINCE_TIME_FORMAT_MESSAGE = 'must be an RFC 3339 timestamp with a time zone, such as 2025-01-31T08:00:00Z';
export const SINCE_EXCLUSIVE_MESSAGE = 'since and sinceTime are mutually exclusive: set one of them, not both';
export const NODE_NAME_FORMAT_MESSAGE = `must be a node name: a DNS subdomain of lowercase letters, digits, "-" and ".", at most ${LIMITS.nodeNameMaxLength} characters`;
export const LABEL_KEY_FORMAT_MESSAGE =
  'keys must be label keys such as kubernetes.io/hostname: an optional DNS subdomain prefix of at most 253 characters and "/", then at most 63 letters, digits, "-", "_" and ".", beginning and ending with a letter or digit';
export const LABEL_VALUE_FORMAT_MESSAGE = 'must be a label value: empty, or at most 63 letters, digits, "-", "_" and ".", beginning and ending with a letter or digit';
export const QUANTITY_FORMAT_MESSAGE = `must be a quantity such as ${LIMITS.storageSize.default} or 500Mi`;
export const SPEC_IMMUTABLE_MESSAGE = 'is immutable (only deleteAfter may change): delete the report and create a new one';

type Json = unknown;

/** Every spec field, in the order the CRD lists them. */
export const SPEC_FIELDS: readonly (keyof MustGatherReportSpec)[] = [
  'images', 'allImages', 'imageStreams', 'command', 'deleteAfter', 'timeout', 'since', 'sinceTime', 'nodeName', 'nodeSelector',
  'storage', 'volumePercentage', 'redact',
];

const RFC3339_RE = new RegExp(RFC3339_PATTERN);

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function rejectUnknown(object: Record<string, Json>, path: string, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new ReportValidationError(`${path}.${key}`, `unknown field (known fields: ${known.join(', ')})`);
  }
}

function checkDuration(value: Json, field: string, bounds: { min: string; max: string }): string {
  if (typeof value !== 'string') throw new ReportValidationError(field, `must be a string, not ${describe(value)}`);
  if (value.length > LIMITS.durationMaxLength) throw new ReportValidationError(field, `must be at most ${LIMITS.durationMaxLength} characters`);
  const ms = parseDuration(value);
  if (ms === undefined) throw new ReportValidationError(field, DURATION_FORMAT_MESSAGE);
  if (ms < parseDuration(bounds.min)! || ms > parseDuration(bounds.max)!) {
    throw new ReportValidationError(field, durationRangeMessage(bounds));
  }
  return value;
}

/** A list of at most `maxItems` strings of at most `itemMaxLength` characters each (`what` names the items). */
function checkStrings(value: Json, field: string, what: string, bounds: { maxItems: number; itemMaxLength: number }): string[] {
  if (!Array.isArray(value)) throw new ReportValidationError(field, `must be a list of ${what}, not ${describe(value)}`);
  if (value.length > bounds.maxItems) throw new ReportValidationError(field, `must list at most ${bounds.maxItems} ${what}`);
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw new ReportValidationError(`${field}[${i}]`, `must be a string, not ${describe(item)}`);
    if (item.length > bounds.itemMaxLength) throw new ReportValidationError(`${field}[${i}]`, `must be at most ${bounds.itemMaxLength} characters`);
  });
  return value as string[];
}

function checkImages(value: Json): void {
  const field = 'spec.images';
  const images = checkStrings(value, field, 'image references', { maxItems: LIMITS.maxImages, itemMaxLength: LIMITS.imageMaxLength });
  if (images.length === 0) throw new ReportValidationError(field, IMAGES_EMPTY_MESSAGE);
  images.forEach((image, i) => {
    if (!isImageReference(image)) throw new ReportValidationError(`${field}[${i}]`, IMAGE_FORMAT_MESSAGE);
  });
  if (new Set(images).size !== images.length) throw new ReportValidationError(field, IMAGES_UNIQUE_MESSAGE);
}

function checkImageStreams(value: Json): void {
  const field = 'spec.imageStreams';
  const tags = checkStrings(value, field, 'image stream tags', { maxItems: LIMITS.maxImageStreams, itemMaxLength: LIMITS.imageStreamMaxLength });
  tags.forEach((tag, i) => {
    if (!isImageStreamTag(tag)) throw new ReportValidationError(`${field}[${i}]`, IMAGE_STREAM_FORMAT_MESSAGE);
  });
  if (new Set(tags).size !== tags.length) throw new ReportValidationError(field, IMAGE_STREAMS_UNIQUE_MESSAGE);
}

function checkCommand(value: Json): void {
  const field = 'spec.command';
  const command = checkStrings(value, field, 'strings', LIMITS.command);
  if (command.length === 0) throw new ReportValidationError(field, COMMAND_EMPTY_MESSAGE);
  if (command[0] === '') throw new ReportValidationError(field, COMMAND_PROGRAM_MESSAGE);
}

function checkSinceTime(value: Json): void {
  const field = 'spec.sinceTime';
  if (typeof value !== 'string') throw new ReportValidationError(field, `must be a string, not ${describe(value)}`);
  if (value.length > LIMITS.sinceTimeMaxLength) throw new ReportValidationError(field, `must be at most ${LIMITS.sinceTimeMaxLength} characters`);
  if (!RFC3339_RE.test(value)) throw new ReportValidationError(field, SINCE_TIME_FORMAT_MESSAGE);
}

function checkNodeName(value: Json): void {
  const field = 'spec.nodeName';
  if (typeof value !== 'string') throw new ReportValidationError(field, `must be a string, not ${describe(value)}`);
  if (!isDnsSubdomain(value)) throw new ReportValidationError(field, NODE_NAME_FORMAT_MESSAGE);
}

function checkNodeSelector(value: Json): void {
  const field = 'spec.nodeSelector';
  if (!isObject(value)) throw new ReportValidationError(field, `must be a map of node label keys to values, not ${describe(value)}`);
  const entries = Object.entries(value);
  if (entries.length > LIMITS.nodeSelector.maxEntries) throw new ReportValidationError(field, `must have at most ${LIMITS.nodeSelector.maxEntries} labels`);
  for (const [key, label] of entries) {
    if (!isLabelKey(key)) throw new ReportValidationError(field, LABEL_KEY_FORMAT_MESSAGE);
    if (typeof label !== 'string') throw new ReportValidationError(`${field}[${key}]`, `must be a string, not ${describe(label)}`);
    if (!isLabelValue(label)) throw new ReportValidationError(`${field}[${key}]`, LABEL_VALUE_FORMAT_MESSAGE);
  }
}

function checkStorage(value: Json): MustGatherReportSpec['storage'] {
  const field = 'spec.storage';
  if (!isObject(value)) throw new ReportValidationError(field, `must be an object, not ${describe(value)}`);
  rejectUnknown(value, field, ['size', 'storageClassName']);
  const { size, storageClassName } = value;
  if (size !== undefined) {
    if (typeof size !== 'string') throw new ReportValidationError(`${field}.size`, `must be a string such as "10Gi", not ${describe(size)}`);
    const bytes = size.length <= LIMITS.storageSize.maxLength ? parseQuantity(size) : undefined;
    if (bytes === undefined) throw new ReportValidationError(`${field}.size`, QUANTITY_FORMAT_MESSAGE);
    if (bytes < parseQuantity(LIMITS.storageSize.min)!) throw new ReportValidationError(`${field}.size`, `must be at least ${LIMITS.storageSize.min}`);
  }
  if (storageClassName !== undefined) {
    if (typeof storageClassName !== 'string') throw new ReportValidationError(`${field}.storageClassName`, `must be a string, not ${describe(storageClassName)}`);
    if (storageClassName.length > LIMITS.storageClassNameMaxLength) {
      throw new ReportValidationError(`${field}.storageClassName`, `must be at most ${LIMITS.storageClassNameMaxLength} characters`);
    }
  }
  return value as MustGatherReportSpec['storage'];
}

function checkVolumePercentage(value: Json): number {
  const field = 'spec.volumePercentage';
  const { min, max } = LIMITS.volumePercentage;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ReportValidationError(field, `must be a whole number, not ${describe(value)}`);
  if (value < min || value > max) throw new ReportValidationError(field, `must be between ${min} and ${max}`);
  return value;
}

function checkRedact(value: Json): void {
  if (!isObject(value)) throw new ReportValidationError('spec.redact', `must be an object such as {secrets: true}, not ${describe(value)}`);
  rejectUnknown(value, 'spec.redact', REDACT_KINDS);
  for (const [kind, on] of Object.entries(value)) {
    if (typeof on !== 'boolean') throw new ReportValidationError(`spec.redact.${kind}`, `must be true or false, not ${describe(on)}`);
  }
}

/** Checks a spec as the CRD would and returns it typed; throws `ReportValidationError` naming the first bad field. */
export function validateSpec(spec: Json): MustGatherReportSpec {
  if (!isObject(spec)) throw new ReportValidationError('spec', spec === undefined ? 'required' : `must be an object, not ${describe(spec)}`);
  rejectUnknown(spec, 'spec', SPEC_FIELDS);
  if (spec.images !== undefined) checkImages(spec.images);
  if (spec.allImages !== undefined && typeof spec.allImages !== 'boolean') {
    throw new ReportValidationError('spec.allImages', `must be true or false, not ${describe(spec.allImages)}`);
  }
  if (spec.imageStreams !== undefined) checkImageStreams(spec.imageStreams);
  if (spec.command !== undefined) checkCommand(spec.command);
  if (spec.deleteAfter !== undefined) checkDuration(spec.deleteAfter, 'spec.deleteAfter', LIMITS.deleteAfter);
  if (spec.timeout !== undefined) checkDuration(spec.timeout, 'spec.timeout', LIMITS.timeout);
  if (spec.since !== undefined) checkDuration(spec.since, 'spec.since', LIMITS.since);
  if (spec.sinceTime !== undefined) checkSinceTime(spec.sinceTime);
  if (spec.since !== undefined && spec.sinceTime !== undefined) throw new ReportValidationError('spec', SINCE_EXCLUSIVE_MESSAGE);
  if (spec.nodeName !== undefined) checkNodeName(spec.nodeName);
  if (spec.nodeSelector !== undefined) checkNodeSelector(spec.nodeSelector);
  if (spec.storage !== undefined) checkStorage(spec.storage);
  if (spec.volumePercentage !== undefined) checkVolumePercentage(spec.volumePercentage);
  if (spec.redact !== undefined) checkRedact(spec.redact);
  return spec as unknown as MustGatherReportSpec;
}

/**
 * Checks a whole report object read from a file (apiVersion, kind, metadata.name/namespace, spec).
 * `defaultNamespace` fills a missing namespace, as kubectl does with the context's namespace.
 */
export function validateReport(object: Json, defaultNamespace = 'default'): MustGatherReport {
  if (!isObject(object)) throw new ReportValidationError('(report)', `must be a ${KIND} object, not ${describe(object)}`);
  const expectedApiVersion = `${API_GROUP}/${API_VERSION}`;
  if (object.apiVersion !== expectedApiVersion) throw new ReportValidationError('apiVersion', `must be ${expectedApiVersion}, not ${describe(object.apiVersion)}`);
  if (object.kind !== KIND) throw new ReportValidationError('kind', `must be ${KIND}, not ${describe(object.kind)}`);
  rejectUnknown(object, '(report)', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const metadata = object.metadata;
  if (!isObject(metadata)) throw new ReportValidationError('metadata', 'required: a name at least');
  const { name, namespace = defaultNamespace } = metadata;
  if (typeof name !== 'string' || name.length === 0) throw new ReportValidationError('metadata.name', 'required');
  if (!isDnsSubdomain(name)) {
    throw new ReportValidationError('metadata.name', 'must be a DNS subdomain: lowercase letters, digits, "-" and ".", at most 253 characters');
  }
  if (typeof namespace !== 'string' || !isDnsLabel(namespace)) {
    throw new ReportValidationError('metadata.namespace', 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters');
  }
  const spec = validateSpec(object.spec);
  return { ...(object as unknown as MustGatherReport), metadata: { ...(metadata as unknown as ReportMetadata), name, namespace }, spec };
}

