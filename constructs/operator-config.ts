import type { MustGatherReportSpec } from './report-api.js';

/** Images the report pod runs besides the must-gather images; the operator reads them from flags or environment. */
export interface OperatorImages {
  /** This project's image: runs `mustgather archive` and `mustgather serve` in the report pod. */
  readonly operator: string;
  /** OpenShift's oauth-proxy, which admits only cluster admins to the archive. */
  readonly oauthProxy: string;
}

/**
 * Defaults for {@link OperatorImages}; the release payload substitutes them through `image-references`. The
 * operator's tag is this release's version, never `latest`: with `IfNotPresent` a node uses the image it has (the
 * local cluster loads its own build under exactly this name), and a report pod never runs another build than the
 * operator that created it.
 */
export const DEFAULT_IMAGES: OperatorImages = {
  operator: 'quay.io/openshift/origin-must-gather-report-operator:v0.1.0',
  oauthProxy: 'quay.io/openshift/origin-oauth-proxy:4.20',
};

/**
 * V8's heap settings for the operator process. Measured with `npm run bench:operator` at 1000 reports: the heap's
 * live data is about 60 MB, but with V8's defaults the heap grew to some 200 MB before a full collection (it lets the
 * old generation grow up to four times what the last one left) and the process to 307 MB, young generation included
 * (semi-spaces of up to 16 MB).
 */
export const OPERATOR_HEAP = {
  /** `--max-semi-space-size` (MB): read when the heap is made, so set in NODE_OPTIONS ({@link OPERATOR_NODE_OPTIONS}). */
  semiSpaceMb: 2,
  /**
   * `--heap-growing-percent`: the old generation may grow by this much over what the last full collection left. Not
   * allowed in NODE_OPTIONS, and read at every collection: `mustgather run` sets it when it starts.
   */
  growingPercent: 35,
} as const;

/** The operator's NODE_OPTIONS (its Deployment's environment, and bench:operator's operator process). */
export const OPERATOR_NODE_OPTIONS = `--max-semi-space-size=${OPERATOR_HEAP.semiSpaceMb}`;

/** Environment variables that override {@link DEFAULT_IMAGES}. */
export const IMAGE_ENV = { operator: 'OPERATOR_IMAGE', oauthProxy: 'OAUTH_PROXY_IMAGE' } as const;

/** The images from the environment, falling back to the defaults. */
export function imagesFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorImages {
  return {
    operator: env[IMAGE_ENV.operator] || DEFAULT_IMAGES.operator,
    oauthProxy: env[IMAGE_ENV.oauthProxy] || DEFAULT_IMAGES.oauthProxy,
  };
}

/**
 * The must-gather image a report without `spec.images` gathers with: OpenShift's own, as `oc adm must-gather` runs
 * it. A pinned tag, never `latest`: a report gathers with the image the release it was made with names.
 */
export const DEFAULT_GATHER_IMAGE = 'quay.io/openshift/origin-must-gather:4.20';

/** The image stream tag of the cluster's own must-gather image, on OpenShift: where it exists, the default image. */
export const DEFAULT_GATHER_IMAGE_STREAM = 'openshift/must-gather:latest';

/** The images a report gathers with when nothing resolves them further: its own list, or the default image. */
export function gatherImages(spec: Pick<MustGatherReportSpec, 'images'>): readonly string[] {
  return spec.images ?? [DEFAULT_GATHER_IMAGE];
}

/**
 * Reports gathering at once unless `--max-gathering` says otherwise: `oc adm must-gather` runs four pods at a time too.
 * Each gathering report runs a pod with cluster-admin and writes its volume; the rest wait in line.
 */
export const DEFAULT_MAX_GATHERING = 4;

/**
 * The storage budget of the report volumes unless `--storage-budget` says otherwise: ten reports of the default
 * `spec.storage.size` (10Gi), which is the four that may gather at once and six finished ones kept for download.
 * Ordinary use (a few reports, kept `deleteAfter`, 30m by default) never waits for it; a runaway automation creating
 * reports in a loop claims at most this much of the cluster's storage instead of a volume per report.
 */
export const DEFAULT_STORAGE_BUDGET = '100Gi';
