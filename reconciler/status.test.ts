import { describe, expect, it } from 'vitest';
import type { MustGatherReport } from '../constructs/report-api.js';
import { computeStatus, type PodView, type RouteView } from './status.js';
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
    ['config error', { waitingGather: { index: 1, reason: 'CreateContainerConfigError', message: 'secret not found' } }, 'GatherFailed', /secret not found/],
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

  it('survives a garbage termination message', () => {
    const broken = pod({ ended: ['Succeeded'], running: true });
    broken.status!.initContainerStatuses![0]!.state!.terminated!.message = '\u0000not json{{';
    const gathers = computeStatus({ report, pod: broken, now }).status.gathers!;
    expect(gathers[0]).toMatchObject({ state: 'Failed', exitCode: 0 });
  });
});
