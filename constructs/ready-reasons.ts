/**
 * The closed table of a report's `Ready` reasons (kstatus style): every reason the operator writes, and what it means
 * for whoever reads it. Status computes them, events warn by them, `mustgather download` stops waiting on them, and
 * the expiry runs from a terminal one. Depends on nothing.
 */

/** What a reason says about the report beyond its words. */
export interface ReasonTraits {
  /** Ready=True. */
  readonly ready?: true;
  /** No later state can make the report Ready: it is finished (its expiry runs) and keeps this reason. */
  readonly terminal?: true;
  /**
   * Waits for something outside the report and makes no progress by itself; after the operator's `--start-timeout`
   * without progress the report ends StartTimedOut.
   */
  readonly stuck?: true;
  /** Someone should look: recorded as a Warning event when the report enters it. */
  readonly warning?: true;
}

export const READY_REASONS = {
  /** The archive is compressed and served at the report's URL. */
  ArchiveReady: { ready: true },
  /**
   * The images to run cannot be resolved yet (an image stream or tag not found or not imported, an API read failing):
   * retried; after the operator's `--start-timeout` the report ends ImageResolutionFailed.
   */
  ResolvingImages: { warning: true },
  /**
   * Waits in line for the operator's fleet limits (`--max-gathering`, `--storage-budget`): nothing of the report
   * exists yet. Not stuck: the line moves by itself, and the start timeout runs from admission.
   */
  Queued: {},
  /** `spec.storage.size` is larger than the operator's whole `--storage-budget`: it could never start. */
  ExceedsStorageBudget: { terminal: true, warning: true },
  /** The report's objects are being created, or its pod has not started yet. */
  Pending: { stuck: true },
  /** An image is gathering. */
  Gathering: {},
  /** An image's gather failed; the next one runs (the archive still comes). */
  GatherFailed: {},
  /** An image's gather ran out of time; the next one runs. */
  TimedOut: {},
  /** The compress step runs. */
  Compressing: {},
  /** The archive is ready; the file server (or the router) is not yet. */
  ServerNotReady: {},
  /** The operator's writes are refused (retried with backoff): a full Service range, a quota, a webhook. */
  ApplyFailed: { warning: true },
  /** An image cannot be pulled. */
  ImagePullFailed: { stuck: true, warning: true },
  /** No node takes the report pod. */
  Unschedulable: { stuck: true, warning: true },
  /** The report's volume is not bound, or was lost. */
  StorageUnavailable: { stuck: true, warning: true },
  /** A container cannot start (CreateContainerConfigError, RunContainerError, CrashLoopBackOff, ...). */
  CannotStart: { stuck: true, warning: true },
  /** The spec is unusable (stored before a schema change). */
  InvalidSpec: { terminal: true, warning: true },
  /** A gather container failed outside its wrapper: the pod failed. */
  PodFailed: { terminal: true, warning: true },
  /** The compress step failed. */
  ArchiveFailed: { terminal: true, warning: true },
  /** The file server stopped; the archive is no longer served. */
  ServerFailed: { terminal: true, warning: true },
  /** The images to run could not be resolved (retried until the start timeout, or at once when it cannot work). */
  ImageResolutionFailed: { terminal: true, warning: true },
  /** A resolved image is outside the operator's `--allowed-registries`: nothing ran. */
  ImageNotAllowed: { terminal: true, warning: true },
  /** The report was stuck longer than the operator's start timeout. */
  StartTimedOut: { terminal: true, warning: true },
} as const satisfies Record<string, ReasonTraits>;

export type ReadyReason = keyof typeof READY_REASONS;

const traits = (reason: string): ReasonTraits | undefined => (READY_REASONS as Record<string, ReasonTraits>)[reason];

/** Whether `reason` (any string: it may come from a stored object) is a terminal one. */
export const isTerminalReason = (reason: string): boolean => traits(reason)?.terminal === true;
/** Whether `reason` waits for something outside the report (subject to the start timeout). */
export const isStuckReason = (reason: string): boolean => traits(reason)?.stuck === true;
/** Whether entering `reason` is worth a Warning event. */
export const isWarningReason = (reason: string): boolean => traits(reason)?.warning === true;
