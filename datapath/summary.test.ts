import { describe, expect, it } from 'vitest';
import type { GatherResult } from '../constructs/pod-contract.js';
import { formatSummary } from './summary.js';

const result = (index: number, state: GatherResult['state'], exitCode: number, message = ''): GatherResult => ({
  index, image: '', state, exitCode, startedAt: '2026-12-06T10:00:00Z', finishedAt: '2026-12-06T10:03:00Z', message,
});

describe('the archive\'s summary', () => {
  it('leads with the cluster, then unhealthy operators and nodes, then each image with its result', () => {
    const text = formatSummary({
      report: 'support/cnv-issue',
      images: ['quay.io/openshift/must-gather@sha256:abc', 'quay.io/kubevirt/must-gather:v4.20', 'quay.io/x/never:v1'],
      cluster: {
        id: '5e4a-id', version: '4.20.1', versionState: 'Stable at "4.20.1"', platform: 'OpenShift (AWS)', kubernetesVersion: 'v1.33.4', observedAt: '2026-12-06T09:59:58Z',
        nodes: { total: 6, notReady: ['node/worker-2 is not Ready (Unknown, NodeStatusUnknown)'] },
        clusterOperators: { total: 33, notHealthy: ['clusteroperator/ingress is degraded because router crashlooping'] },
      },
    }, new Map([[1, result(1, 'Succeeded', 0)], [2, result(2, 'Failed', 3, 'the gather exited with code 3;\nlast output: boom')]]));
    expect(text).toBe([
      'must-gather summary',
      '',
      'Report: support/cnv-issue',
      '',
      'Cluster',
      '  ClusterID: 5e4a-id',
      '  ClusterVersion: Stable at "4.20.1"',
      '  Platform: OpenShift (AWS)',
      '  Kubernetes: v1.33.4',
      '  Observed at: 2026-12-06T09:59:58Z',
      '',
      'ClusterOperators (33):',
      '  clusteroperator/ingress is degraded because router crashlooping',
      '',
      'Nodes (6):',
      '  node/worker-2 is not Ready (Unknown, NodeStatusUnknown)',
      '',
      'Images (3, in the order they ran):',
      '  1. quay.io/openshift/must-gather@sha256:abc',
      '     Succeeded, 2026-12-06T10:00:00Z to 2026-12-06T10:03:00Z',
      '  2. quay.io/kubevirt/must-gather:v4.20',
      '     Failed (exit code 3), 2026-12-06T10:00:00Z to 2026-12-06T10:03:00Z',
      '     the gather exited with code 3; last output: boom',
      '  3. quay.io/x/never:v1',
      '     no result recorded: the gather did not run, or was killed before it wrote one',
      '',
    ].join('\n'));
  });

  it('on plain Kubernetes with all well, and offline without facts', () => {
    const kube = formatSummary({
      report: 'a/b', images: ['img'],
      cluster: { id: 'uid', version: 'v1.36.3', platform: 'Kubernetes', kubernetesVersion: 'v1.36.3', observedAt: 't', nodes: { total: 1, notReady: [] }, unreadable: ['nodes: forbidden'] },
    }, new Map());
    expect(kube).toContain('  ClusterVersion: v1.36.3\n');
    expect(kube).toContain('Nodes (1):\n  All Ready\n');
    expect(kube).not.toContain('ClusterOperators');
    expect(kube).toContain('Could not be read:\n  nodes: forbidden\n');
    expect(formatSummary({ report: 'a/b', images: ['img'] }, new Map())).toContain('Cluster: not known (rendered without a cluster)\n');
  });
});
