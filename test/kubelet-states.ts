/**
 * Pod statuses as a kubelet would write them at each step of a report pod's life. Unit tests feed them to
 * `computeStatus`; integration tests write them through the pod's status subresource, playing the kubelet.
 */
import type { ContainerStatus, PodView } from '../reconciler/status.js';

export type GatherOutcome = 'Succeeded' | 'Failed' | 'TimedOut' | 'VolumeFull';

const T0 = '2026-11-25T10:00:00Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const EXIT_CODES: Record<GatherOutcome, number> = { Succeeded: 0, Failed: 3, TimedOut: 124, VolumeFull: 143 };

/** The termination message the gather wrapper writes. */
export function gatherMessage(index: number, image: string, outcome: GatherOutcome): string {
  return JSON.stringify({
    index, image, state: outcome, exitCode: EXIT_CODES[outcome], startedAt: at(index), finishedAt: at(index + 1),
    message: outcome === 'Succeeded' ? '' : `gather ${outcome}`,
  });
}

/** The termination message the archive step writes. */
export function archiveMessage(sizeBytes = 123456, sha256 = 'ab'.repeat(32)): string {
  return JSON.stringify({ sizeBytes, sha256, files: 42, warnings: 0, gathers: [] });
}

const waiting = (name: string, reason = 'PodInitializing', message?: string): ContainerStatus => ({ name, ready: false, state: { waiting: { reason, ...(message ? { message } : {}) } } });
const running = (name: string, ready = false): ContainerStatus => ({ name, ready, state: { running: { startedAt: at(0) } } });
const terminated = (name: string, exitCode: number, message?: string): ContainerStatus => ({
  name, ready: false, state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: at(0), finishedAt: at(1), ...(message ? { message } : {}) } },
});

export interface PodStage {
  /** Outcomes of the gathers that have ended, in order. */
  readonly ended?: readonly GatherOutcome[];
  /** A gather is running after the ended ones. */
  readonly running?: boolean;
  /** The archive step: not started, running, done (exit 0) or failed. */
  readonly archive?: 'running' | 'done' | 'failed';
  /** File server (and proxy) ready. */
  readonly serving?: boolean;
  /** A gather container (1-based) waiting for this reason instead. */
  readonly waitingGather?: { index: number; reason: string; message?: string };
  /** What the archive step reports when done. @default archiveMessage() */
  readonly archiveResult?: { readonly sizeBytes: number; readonly sha256: string };
  /** The scheduler's verdict. */
  readonly unschedulable?: string;
  /** Which containers the pod runs after its init containers: oauth-proxy too on OpenShift. @default 'openshift' */
  readonly platform?: 'openshift' | 'kubernetes';
}

/** `status` of a report pod for `images` at `stage`. */
export function podStatus(images: readonly string[], stage: PodStage): NonNullable<PodView['status']> {
  if (stage.unschedulable) {
    return { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: stage.unschedulable }] };
  }
  const ended = stage.ended ?? [];
  const init: ContainerStatus[] = images.map((image, i) => {
    const name = `gather-${i + 1}`;
    if (i < ended.length) return terminated(name, 0, gatherMessage(i + 1, image, ended[i]!));
    if (stage.waitingGather?.index === i + 1) return waiting(name, stage.waitingGather.reason, stage.waitingGather.message);
    if (i === ended.length && stage.running) return running(name);
    return waiting(name);
  });
  const allEnded = ended.length === images.length;
  const archive = !allEnded || !stage.archive ? waiting('archive')
    : stage.archive === 'running' ? running('archive')
      : terminated('archive', stage.archive === 'done' ? 0 : 1, stage.archive === 'done' ? archiveMessage(stage.archiveResult?.sizeBytes, stage.archiveResult?.sha256) : 'disk full');
  const initDone = stage.archive === 'done';
  const names = stage.platform === 'kubernetes' ? ['file-server'] : ['file-server', 'oauth-proxy'];
  const containers = names.map((name) => (initDone ? running(name, stage.serving ?? false) : waiting(name)));
  const phase = stage.archive === 'failed' ? 'Failed' : initDone ? 'Running' : 'Pending';
  return {
    phase,
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Initialized', status: initDone ? 'True' : 'False' },
      { type: 'Ready', status: stage.serving ? 'True' : 'False' },
    ],
    initContainerStatuses: [...init, archive],
    containerStatuses: containers,
  };
}
