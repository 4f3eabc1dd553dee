import { describe, expect, it } from 'vitest';
import { type MustGatherReport } from '../constructs/report-api.js';
import { isTerminalReason, READY_REASONS } from '../constructs/ready-reasons.js';
import { computeStatus, formatDuration, type Observed, podRecord, type PodView, type RouteView } from './status.js';
import { renderReport } from '../constructs/render.js';
import { formatArchiveResult } from '../constructs/pod-contract.js';
import { podStatus, type PodStage } from '../test/kubelet-states.js';

const images = ['quay.io/a/must-gather:v1', 'quay.io/b/must-gather:v2'];
const report: MustGatherReport = {
  apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport',
  metadata: { name: 'r', namespace: 'ns', uid: 'u1', generation: 1 },
  spec: { images, deleteAfter: '30m' },
};
const now = new Date('2026-11-25T12:00:00Z');
const pod = (stage: PodStage): PodView => ({
  metadata: { name: 'must-gather', namespace: 'must-gather-ns-r-x' },
  spec: {
    initContainers: [...images.map((image, i) => ({ name: `gather-${i + 1}`, image })), { name: 'archive', image: 'op' }],
    containers: [{ name: 'file-server', image: 'op' }, { name: 'oauth-proxy', image: 'proxy:v1' }],
  },
  status: podStatus(images, stage),
});
const route: RouteView = { metadata: { name: 'must-gather' }, status: { ingress: [{ host: 'mg.apps.example.com', conditions: [{ type: 'Admitted', status: 'True' }] }] } };
const ready = (stage: PodStage, withRoute = true) => {
  const result = computeStatus({ report, pod: pod(stage), ...(withRoute ? { route } : {}), now });
  return { result, ready: result.status.conditions!.find((c) => c.type === 'Ready')!, initialized: result.status.conditions!.find((c) => c.type === 'Initialized')! };
};

describe('computeStatus: the Ready reason at every step', () => {
  it.each<[string, PodStage, string, RegExp]>([
    ['scheduled, not started', {}, 'Pending', /Waiting for the report pod to start/],
    ['first gather running', { running: true }, 'Gathering', /Gathering with image quay.io\/a\/must-gather:v1 \(1 of 2\)/],
    ['second gather running', { ended: ['Succeeded'], running: true }, 'Gathering', /\(2 of 2\)/],
    ['compressing', { ended: ['Succeeded', 'Succeeded'], archive: 'running' }, 'Compressing', /must-gather.tar.gz/],
    ['server starting', { ended: ['Succeeded', 'Succeeded'], archive: 'done' }, 'ServerNotReady', /file server and oauth-proxy/],
    ['gather failed, next running', { ended: ['Failed'], running: true }, 'GatherFailed', /quay.io\/a\/must-gather:v1 failed \(exit code 3\); now gathering with image quay.io\/b/],
    ['gather timed out, next running', { ended: ['TimedOut'], running: true }, 'TimedOut', /timed out/],
    ['image cannot be pulled', { ended: ['Succeeded'], waitingGather: { index: 2, reason: 'ImagePullBackOff', message: 'Back-off pulling image' } }, 'ImagePullFailed', /quay.io\/b\/must-gather:v2 for the gather with image .* \(2 of 2\)/],
    ['invalid image name', { waitingGather: { index: 1, reason: 'InvalidImageName' } }, 'ImagePullFailed', /InvalidImageName/],
    ['config error', { waitingGather: { index: 1, reason: 'CreateContainerConfigError', message: 'secret not found' } }, 'CannotStart', /gather with image .* \(1 of 2\) cannot start: CreateContainerConfigError: secret not found/],
    ['unschedulable', { unschedulable: '0/3 nodes are available: 3 Insufficient memory.' }, 'Unschedulable', /Insufficient memory/],
    ['volume not bound', { unschedulable: '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.' }, 'StorageUnavailable', /not bound/],
    ['archive failed', { ended: ['Succeeded', 'Succeeded'], archive: 'failed' }, 'ArchiveFailed', /compress step failed/],
  ])('%s -> %s', (_, stage, reason, message) => {
    const { ready: condition } = ready(stage);
    expect(condition.status).toBe('False');
    expect(condition.reason).toBe(reason);
    expect(condition.message).toMatch(message);
  });

  it('waits for the router before Ready', () => {
    expect(ready({ ended: ['Succeeded', 'Succeeded'], archive: 'done', serving: true }, false).ready.reason).toBe('ServerNotReady');
  });

  it('is Ready with the URL, archive facts and expiry once served', () => {
    const { result, ready: condition } = ready({ ended: ['Succeeded', 'Succeeded'], archive: 'done', serving: true });
    expect(condition).toMatchObject({ status: 'True', reason: 'ArchiveReady', observedGeneration: 1 });
    expect(result.status.report_url).toBe('https://mg.apps.example.com/must-gather.tar.gz');
    expect(result.status.archive).toEqual({ sizeBytes: 123456, sha256: 'ab'.repeat(32), files: 42 });
    expect(result.status.expiresAt).toBe('2026-11-25T12:30:00Z');
    expect(result.finished).toBe(true);
    expect(result.gatheringOver).toBe(true);
    expect(result.status.gathers!.map((g) => g.state)).toEqual(['Succeeded', 'Succeeded']);
  });

  it('is Ready but names the failed images when some gathers failed', () => {
    const { ready: condition } = ready({ ended: ['Failed', 'TimedOut'], archive: 'done', serving: true });
    expect(condition.status).toBe('True');
    expect(condition.message).toMatch(/2 of 2 gathers did not succeed/);
  });

  it('reports no pod yet as Pending, and an apply error as ApplyFailed', () => {
    const pending = computeStatus({ report, now });
    expect(pending.status.conditions!.map((c) => [c.type, c.status, c.reason])).toEqual([['Initialized', 'False', 'Pending'], ['Ready', 'False', 'Pending']]);
    const failed = computeStatus({ report, now, applyError: 'Route/x/y: apply failed: 404' });
    expect(failed.status.conditions![1]!.reason).toBe('ApplyFailed');
  });

  it('Initialized once the pod exists, Gathering once a gather started', () => {
    expect(ready({}).initialized).toMatchObject({ status: 'True', reason: 'Created' });
    expect(ready({ running: true }).initialized).toMatchObject({ status: 'True', reason: 'Gathering' });
  });

  it('keeps lastTransitionTime while the status stays the same', () => {
    const first = computeStatus({ report, pod: pod({ running: true }), now });
    const later = computeStatus({ report: { ...report, status: first.status }, pod: pod({ ended: ['Succeeded'], running: true }), now: new Date('2026-11-25T12:05:00Z') });
    expect(later.status.conditions![1]!.lastTransitionTime).toBe(first.status.conditions![1]!.lastTransitionTime);
    expect(later.status.conditions![1]!.reason).toBe('Gathering');
  });

  it('says gathering is over only when every gather ended', () => {
    expect(ready({ ended: ['Succeeded'], running: true }).result.gatheringOver).toBe(false);
    expect(ready({ ended: ['Succeeded', 'Failed'] }).result.gatheringOver).toBe(true);
  });

  it('with spec.redact, publishes a failed gather\'s message only as the archive step redacted it', () => {
    const redacting = { ...report, spec: { ...report.spec, redact: { ipAddresses: true } } };
    const withMessage = (stage: PodStage, archiveResult?: string) => {
      const p = pod(stage);
      const gather = p.status!.initContainerStatuses![0]!.state!.terminated!;
      gather.message = gather.message!.replace('"message":"gather Failed"', '"message":"cannot reach 10.0.0.7"');
      if (archiveResult) p.status!.initContainerStatuses![2]!.state!.terminated!.message = archiveResult;
      return p;
    };
    const before = computeStatus({ report: redacting, pod: withMessage({ ended: ['Failed'], running: true }), now }).status;
    expect(before.gathers![0]).toMatchObject({ state: 'Failed', exitCode: 3 });
    expect(before.gathers![0]!.message).toBeUndefined();
    expect(JSON.stringify(before)).not.toContain('10.0.0.7');
    // Without redaction the same message is published as the gather wrote it (the premise of the case above).
    expect(computeStatus({ report, pod: withMessage({ ended: ['Failed'], running: true }), now }).status.gathers![0]!.message).toBe('cannot reach 10.0.0.7');

    const redaction = { secrets: 0, ipAddresses: 4, macAddresses: 0, filesRedacted: 2, filesNotRedacted: 1, filesOmitted: 0 };
    const archived = formatArchiveResult({
      sizeBytes: 1000, sha256: 'ab'.repeat(32), files: 3, warnings: 0, redaction,
      gathers: [{ index: 1, state: 'Failed', exitCode: 3, message: 'cannot reach x-ipv4-0a1b2c3d-x' }, { index: 2, state: 'Succeeded', exitCode: 0 }],
    });
    const after = computeStatus({ report: redacting, pod: withMessage({ ended: ['Failed', 'Succeeded'], archive: 'done', serving: true }, archived), route, now }).status;
    expect(after.gathers![0]!.message).toBe('cannot reach x-ipv4-0a1b2c3d-x');
    expect(after.redaction).toEqual(redaction);
    expect(JSON.stringify(after)).not.toContain('10.0.0.7');
  });

  it('survives a garbage termination message', () => {
    const broken = pod({ ended: ['Succeeded'], running: true });
    broken.status!.initContainerStatuses![0]!.state!.terminated!.message = '\u0000not json{{';
    const gathers = computeStatus({ report, pod: broken, now }).status.gathers!;
    expect(gathers[0]).toMatchObject({ state: 'Failed', exitCode: 0 });
  });
});

describe('computeStatus: a report held back by the fleet\'s limits', () => {
  const readyOf = (result: ReturnType<typeof computeStatus>) => result.status.conditions!.find((c) => c.type === 'Ready')!;
  const queued = { reason: 'Queued', message: 'Queued: 2nd in line (1 report ahead); ...' } as const;

  it('is Queued, names no namespace (none exists), and never times out while in line', () => {
    const created = { ...report, metadata: { ...report.metadata, creationTimestamp: '2026-11-25T09:00:00Z' } };
    const result = computeStatus({ report: created, waiting: queued, now, startTimeoutMs: 60_000 });
    expect(readyOf(result)).toMatchObject({ status: 'False', ...queued });
    expect(result.status.conditions!.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False', reason: 'Queued', message: 'Nothing of the report is created while it waits in line.',
    });
    expect(result.status.namespace).toBeUndefined();
    expect(result).toMatchObject({ finished: false, gatheringOver: false });
    expect(result.startDeadline).toBeUndefined();
    expect(result.status.finishedAt).toBeUndefined();
  });

  it('ends a refused report for good: it expires deleteAfter later, and stays refused', () => {
    const refused = { reason: 'ExceedsStorageBudget', message: 'too large' } as const;
    const result = computeStatus({ report, waiting: refused, now });
    expect(readyOf(result)).toMatchObject({ status: 'False', ...refused });
    expect(result.status.conditions!.find((c) => c.type === 'Initialized')?.message).toBe('Nothing of the report was created.');
    expect(result.finished).toBe(true);
    expect(result.status).toMatchObject({ finishedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-11-25T12:30:00Z' });
    const later = computeStatus({ report: { ...report, status: result.status }, waiting: queued, now: new Date('2026-11-25T12:10:00Z') });
    expect(readyOf(later)).toEqual(readyOf(result));
  });
});

describe('computeStatus: a report that cannot start gives up after the start timeout', () => {
  const created = '2026-11-25T09:00:00Z';
  const young = { ...report, metadata: { ...report.metadata, creationTimestamp: created } };
  const startTimeoutMs = 10 * 60_000;
  const at = (minutes: number) => new Date(Date.parse(created) + minutes * 60_000);
  const status = (observed: Omit<Observed, 'report' | 'startTimeoutMs'> & { report?: MustGatherReport }) => computeStatus({ report: young, startTimeoutMs, ...observed });
  const readyOf = (result: ReturnType<typeof computeStatus>) => result.status.conditions!.find((c) => c.type === 'Ready')!;
  const cases: [string, Omit<Observed, 'report' | 'now'>, string, RegExp][] = [
    ['no pod yet', {}, 'Pending', /^Gave up after 10m: creating the report's namespace, volume and pod\.$/],
    ['pod not started', { pod: pod({}) }, 'Pending', /^Gave up after 10m: waiting for the report pod to start\.$/],
    ['image pull', { pod: pod({ waitingGather: { index: 1, reason: 'ErrImagePull', message: 'manifest unknown' } }) }, 'ImagePullFailed',
      /^Gave up after 10m: cannot pull image quay\.io\/a\/must-gather:v1 for the gather with image quay\.io\/a\/must-gather:v1 \(1 of 2\): ErrImagePull: manifest unknown\.$/],
    ['unschedulable', { pod: pod({ unschedulable: '0/3 nodes are available: 3 Insufficient memory.' }) }, 'Unschedulable', /^Gave up after 10m: the report pod cannot be scheduled: 0\/3 nodes/],
    ['volume not bound', { pod: pod({ unschedulable: 'pod has unbound immediate PersistentVolumeClaims.' }), claim: { metadata: { name: 'must-gather' }, status: { phase: 'Pending' } } },
      'StorageUnavailable', /^Gave up after 10m: the report's volume is not bound \(claim Pending\)/],
    ['config error', { pod: pod({ waitingGather: { index: 1, reason: 'CreateContainerConfigError', message: 'secret not found' } }) }, 'CannotStart',
      /^Gave up after 10m: the gather with image quay\.io\/a\/must-gather:v1 \(1 of 2\) cannot start: CreateContainerConfigError: secret not found\.$/],
  ];

  it('covers every stuck reason', () => {
    const stuck = Object.entries(READY_REASONS).filter(([, traits]) => 'stuck' in traits).map(([reason]) => reason);
    expect(new Set(cases.map(([, , reason]) => reason))).toEqual(new Set(stuck));
    expect(isTerminalReason('StartTimedOut')).toBe(true);
  });

  it.each(cases)('%s: %s until the deadline, then StartTimedOut', (_, observed, reason, message) => {
    const before = status({ ...observed, now: at(9) });
    expect(readyOf(before)).toMatchObject({ status: 'False', reason });
    expect(before.startDeadline).toEqual(at(10));
    expect(before).toMatchObject({ finished: false, gatheringOver: false });
    expect(before.status.finishedAt).toBeUndefined();

    const after = status({ ...observed, now: at(10) });
    expect(readyOf(after)).toMatchObject({ status: 'False', reason: 'StartTimedOut' });
    expect(readyOf(after).message).toMatch(message);
    expect(after).toMatchObject({ finished: true, gatheringOver: true });
    expect(after.startDeadline).toBeUndefined();
    expect(after.status.finishedAt).toBe('2026-11-25T09:10:00Z');
    expect(after.status.expiresAt).toBe('2026-11-25T09:40:00Z');
  });

  it('never gives up with a start timeout of 0', () => {
    const result = computeStatus({ report: young, pod: pod({ waitingGather: { index: 1, reason: 'ErrImagePull' } }), now: at(60 * 24), startTimeoutMs: 0 });
    expect(readyOf(result).reason).toBe('ImagePullFailed');
    expect(result.startDeadline).toBeUndefined();
  });

  it('does not time out a report that is making progress', () => {
    const result = status({ pod: pod({ running: true }), now: at(600) });
    expect(readyOf(result).reason).toBe('Gathering');
    expect(result.startDeadline).toBeUndefined();
  });

  it('restarts the clock at the latest progress: a gather that ended, then an image that cannot be pulled', () => {
    // The first gather ran 10:01-10:02 (test/kubelet-states.ts): the second image has until 10:12.
    const stuck = pod({ ended: ['Succeeded'], waitingGather: { index: 2, reason: 'ImagePullBackOff', message: 'Back-off pulling image' } });
    const before = status({ pod: stuck, now: new Date('2026-11-25T10:11:59Z') });
    expect(readyOf(before).reason).toBe('ImagePullFailed');
    expect(before.startDeadline).toEqual(new Date('2026-11-25T10:12:00Z'));
    const after = status({ pod: stuck, now: new Date('2026-11-25T10:12:00Z') });
    expect(readyOf(after)).toMatchObject({ reason: 'StartTimedOut', message: expect.stringMatching(/^Gave up after 10m: cannot pull image quay\.io\/b\/must-gather:v2 for the gather with image .* \(2 of 2\): ImagePullBackOff/) });
  });

  it('keeps StartTimedOut and finishedAt once stored, whatever the pod does later', () => {
    const stuck = pod({ waitingGather: { index: 1, reason: 'ErrImagePull' } });
    const ended = status({ pod: stuck, now: at(10) });
    const stored = { ...young, status: ended.status };
    for (const later of [status({ report: stored, pod: pod({ running: true }), now: at(30) }), status({ report: stored, now: at(35) })]) {
      expect(readyOf(later)).toEqual(readyOf(ended));
      expect(later.status).toMatchObject({ finishedAt: '2026-11-25T09:10:00Z', expiresAt: '2026-11-25T09:40:00Z' });
      expect(later).toMatchObject({ finished: true, gatheringOver: true });
    }
  });

  it('expiresAt follows the current deleteAfter from the stored finishedAt', () => {
    const ended = status({ pod: pod({ waitingGather: { index: 1, reason: 'ErrImagePull' } }), now: at(10) });
    const longer = { ...young, spec: { ...young.spec, deleteAfter: '2h' }, status: ended.status };
    expect(status({ report: longer, now: at(50) }).status).toMatchObject({ finishedAt: '2026-11-25T09:10:00Z', expiresAt: '2026-11-25T11:10:00Z' });
  });

  it('stores finishedAt once when Ready, and keeps the expiry while the server is briefly not ready', () => {
    const served = { ended: ['Succeeded', 'Succeeded'], archive: 'done', serving: true } as const;
    const first = computeStatus({ report, pod: pod(served), route, now });
    expect(first.status).toMatchObject({ finishedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-11-25T12:30:00Z' });
    const flicker = computeStatus({ report: { ...report, status: first.status }, pod: pod({ ...served, serving: false }), route, now: new Date('2026-11-25T12:10:00Z') });
    expect(readyOf(flicker).reason).toBe('ServerNotReady');
    expect(flicker.status).toMatchObject({ finishedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-11-25T12:30:00Z' });
    const again = computeStatus({ report: { ...report, status: flicker.status }, pod: pod(served), route, now: new Date('2026-11-25T12:20:00Z') });
    expect(again.status).toMatchObject({ finishedAt: '2026-11-25T12:00:00Z', expiresAt: '2026-11-25T12:30:00Z' });
  });

  it('dates a report that failed for good from when it failed, not from its creation', () => {
    const waiting = status({ pod: pod({ ended: ['Succeeded', 'Succeeded'], archive: 'running' }), now: at(1) });
    const failed = status({ report: { ...young, status: waiting.status }, pod: pod({ ended: ['Succeeded', 'Succeeded'], archive: 'failed' }), now: at(70) });
    expect(readyOf(failed)).toMatchObject({ reason: 'ArchiveFailed', lastTransitionTime: readyOf(waiting).lastTransitionTime });
    expect(failed.status).toMatchObject({ finishedAt: '2026-11-25T10:10:00Z', expiresAt: '2026-11-25T10:40:00Z' });
  });

  it('runs the clock from the report\'s admission (its namespace\'s creation) when it waited in line before', () => {
    const admittedAt = '2026-11-25T09:45:00Z';
    const result = status({ admittedAt, now: at(50) });
    expect(readyOf(result).reason).toBe('Pending');
    expect(result.startDeadline).toEqual(at(55));
  });

  it('formats durations the way they are written', () => {
    expect([600_000, 5_400_000, 2000, 2500, 0].map(formatDuration)).toEqual(['10m', '1h30m', '2s', '2.5s', '0s']);
  });
});

describe('podRecord: what a pod was made with, read back from it', () => {
  const renderedPod = (options: Parameters<typeof renderReport>[1]) => renderReport(report, { runtimeObjects: 'omit', ...options }).find((o) => o.kind === 'Pod') as unknown as PodView;

  it('reads the images in their order and the cluster facts from the chart\'s pod', () => {
    const facts = { id: 'c0ffee', version: 'v1.36.3', platform: 'Kubernetes', kubernetesVersion: 'v1.36.3', observedAt: '2026-01-02T03:04:05Z', nodes: { total: 1, notReady: [] } };
    const resolved = ['quay.io/z/last:v1', 'quay.io/a/first:v2', ...Array.from({ length: 9 }, (_, i) => `quay.io/n/${i}:v1`)];
    expect(podRecord(renderedPod({ gatherImages: resolved, clusterFacts: facts }))).toEqual({ images: resolved, cluster: facts });
  });

  it('has no cluster facts for a pod made without them, and nothing for a pod that is not a report\'s', () => {
    expect(podRecord(renderedPod({ gatherImages: images }))).toEqual({ images });
    expect(podRecord({ metadata: { name: 'other' }, spec: { initContainers: [{ name: 'init', image: 'x' }], containers: [{ name: 'c', image: 'y' }] } })).toEqual({ images: [] });
  });
});
