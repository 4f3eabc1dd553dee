/**
 * The `MustGatherReport` API (mustgather.openshift.io/v1alpha1): its types, defaults and limits, and the same checks
 * the CRD's schema and CEL rules make, so `mustgather synth` rejects what the API server would reject, with the
 * field named. The CRD construct (`crd.ts`) is built from the same constants.
 */
import { parseDuration } from './duration.js';
import { IMAGE_REFERENCE_MAX_LENGTH, isImageReference } from './image-reference.js';
import { parseQuantity } from './quantity.js';

export const API_GROUP = 'mustgather.openshift.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'MustGatherReport';
export const PLURAL = 'mustgatherreports';

/** Bounds of every spec field; the CRD and the CLI read them from here. */
export const LIMITS = {
  maxImages: 16,
  imageMaxLength: IMAGE_REFERENCE_MAX_LENGTH,
  durationMaxLength: 32,
  deleteAfter: { min: '1m', max: '720h', default: '30m' },
  timeout: { min: '10s', max: '24h', default: '10m' },
  since: { min: '1s', max: '8760h' },
  storageSize: { min: '100Mi', default: '10Gi', maxLength: 32 },
  storageClassNameMaxLength: 253,
  volumePercentage: { min: 1, max: 100, default: 70 },
} as const;

/** The spec as a user writes it; every field but `images` is optional. */
export interface MustGatherReportSpec {
  /** Must-gather images, run in order. */
  readonly images: readonly string[];
  /** How long a finished report is kept (Go duration). */
  readonly deleteAfter?: string;
  /** How long one image may gather before it is stopped (Go duration). */
  readonly timeout?: string;
  /** Passed to the gather scripts as MUST_GATHER_SINCE: only collect logs newer than this (Go duration). */
  readonly since?: string;
  /** The volume the data is gathered into. */
  readonly storage?: { readonly size?: string; readonly storageClassName?: string };
  /** Stop gathering when the volume is this full (percent). */
  readonly volumePercentage?: number;
}

/** The spec with every default filled in (what the API server stores). */
export interface ResolvedSpec {
  readonly images: readonly string[];
  readonly deleteAfter: string;
  readonly timeout: string;
  readonly since?: string;
  readonly storage: { readonly size: string; readonly storageClassName?: string };
  readonly volumePercentage: number;
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
  gathers?: GatherStatus[];
  archive?: { sizeBytes: number; sha256: string; files?: number };
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
    images: spec.images,
    deleteAfter: spec.deleteAfter ?? LIMITS.deleteAfter.default,
    timeout: spec.timeout ?? LIMITS.timeout.default,
    ...(spec.since !== undefined ? { since: spec.since } : {}),
    storage: {
      size: spec.storage?.size ?? LIMITS.storageSize.default,
      ...(spec.storage?.storageClassName ? { storageClassName: spec.storage.storageClassName } : {}),
    },
    volumePercentage: spec.volumePercentage ?? LIMITS.volumePercentage.default,
  };
}

/** Human words for a duration bound check; shared with the CRD's CEL messages. */
export function durationRangeMessage(bounds: { min: string; max: string }): string {
  return `must be between ${bounds.min} and ${bounds.max}`;
}
export const DURATION_FORMAT_MESSAGE = 'must be a duration such as 30s, 10m or 1h30m (units ns, us, ms, s, m, h)';
export const IMAGE_FORMAT_MESSAGE = 'must be an image reference such as quay.io/org/must-gather:tag or quay.io/org/must-gather@sha256:<digest>';
export const IMAGES_UNIQUE_MESSAGE = 'must not list the same image twice';
export const QUANTITY_FORMAT_MESSAGE = `must be a quantity such as ${LIMITS.storageSize.default} or 500Mi`;
export const SPEC_IMMUTABLE_MESSAGE = 'spec is immutable: delete the report and create a new one';

type Json = unknown;

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

function checkImages(value: Json): string[] {
  const field = 'spec.images';
  if (value === undefined) throw new ReportValidationError(field, 'required: list at least one must-gather image');
  if (!Array.isArray(value)) throw new ReportValidationError(field, `must be a list of image references, not ${describe(value)}`);
  if (value.length < 1) throw new ReportValidationError(field, 'must list at least one must-gather image');
  if (value.length > LIMITS.maxImages) throw new ReportValidationError(field, `must list at most ${LIMITS.maxImages} images`);
  value.forEach((image, i) => {
    const itemField = `${field}[${i}]`;
    if (typeof image !== 'string') throw new ReportValidationError(itemField, `must be a string, not ${describe(image)}`);
    if (image.length > LIMITS.imageMaxLength) throw new ReportValidationError(itemField, `must be at most ${LIMITS.imageMaxLength} characters`);
    if (!isImageReference(image)) throw new ReportValidationError(itemField, IMAGE_FORMAT_MESSAGE);
  });
  if (new Set(value).size !== value.length) throw new ReportValidationError(field, IMAGES_UNIQUE_MESSAGE);
  return value as string[];
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

/** Checks a spec as the CRD would and returns it typed; throws `ReportValidationError` naming the first bad field. */
export function validateSpec(spec: Json): MustGatherReportSpec {
  if (!isObject(spec)) throw new ReportValidationError('spec', spec === undefined ? 'required' : `must be an object, not ${describe(spec)}`);
  rejectUnknown(spec, 'spec', ['images', 'deleteAfter', 'timeout', 'since', 'storage', 'volumePercentage']);
  checkImages(spec.images);
  if (spec.deleteAfter !== undefined) checkDuration(spec.deleteAfter, 'spec.deleteAfter', LIMITS.deleteAfter);
  if (spec.timeout !== undefined) checkDuration(spec.timeout, 'spec.timeout', LIMITS.timeout);
  if (spec.since !== undefined) checkDuration(spec.since, 'spec.since', LIMITS.since);
  if (spec.storage !== undefined) checkStorage(spec.storage);
  if (spec.volumePercentage !== undefined) checkVolumePercentage(spec.volumePercentage);
  return spec as unknown as MustGatherReportSpec;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

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
  if (name.length > 253 || !NAME_RE.test(name)) {
    throw new ReportValidationError('metadata.name', 'must be a DNS subdomain: lowercase letters, digits, "-" and ".", at most 253 characters');
  }
  if (typeof namespace !== 'string' || namespace.length > 63 || !NAMESPACE_RE.test(namespace)) {
    throw new ReportValidationError('metadata.namespace', 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters');
  }
  const spec = validateSpec(object.spec);
  return { ...(object as unknown as MustGatherReport), metadata: { ...(metadata as unknown as ReportMetadata), name, namespace }, spec };
}

