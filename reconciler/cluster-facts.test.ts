import { describe, expect, it } from 'vitest';
import { CLUSTER_FACTS_LIST_LIMIT } from '../constructs/pod-contract.js';
import { clusterFacts, clusterOperatorProblem, clusterVersionState, LONG_EXISTING_OPERATORS, type ClusterOperatorView, nodeProblem } from './cluster-facts.js';

const now = new Date('2026-12-06T10:00:00.123Z');
const cond = (type: string, status: string, message?: string) => ({ type, status, ...(message ? { message } : {}) });
const healthy = (name: string): ClusterOperatorView => ({
  metadata: { name },
  status: { conditions: [cond('Available', 'True'), cond('Progressing', 'False'), cond('Degraded', 'False'), cond('Upgradeable', 'True')] },
});

describe('cluster operators in oc adm must-gather\'s words', () => {
  it.each([
    ['healthy', healthy('dns'), undefined],
    ['not available', { metadata: { name: 'etcd' }, status: { conditions: [cond('Available', 'False', 'no quorum'), cond('Degraded', 'True', 'member down')] } },
      'clusteroperator/etcd is not available (no quorum) because member down'],
    ['no conditions at all', { metadata: { name: 'x' } }, 'clusteroperator/x is not available (<missing>) because <missing>'],
    ['degraded', { metadata: { name: 'ingress' }, status: { conditions: [cond('Available', 'True'), cond('Degraded', 'True', 'router crashlooping'), cond('Progressing', 'False')] } },
      'clusteroperator/ingress is degraded because router crashlooping'],
    ['degraded missing counts as degraded', { metadata: { name: 'y' }, status: { conditions: [cond('Available', 'True'), cond('Progressing', 'False')] } },
      'clusteroperator/y is degraded because <missing>'],
    ['not upgradeable', { metadata: { name: 'z' }, status: { conditions: [cond('Available', 'True'), cond('Degraded', 'False'), cond('Progressing', 'False'), cond('Upgradeable', 'False', 'deprecated API in use')] } },
      'clusteroperator/z is not upgradeable because deprecated API in use'],
    ['progressing', { metadata: { name: 'network' }, status: { conditions: [cond('Available', 'True'), cond('Degraded', 'False'), cond('Progressing', 'True', 'rolling out')] } },
      'clusteroperator/network is progressing: rolling out'],
  ] as [string, ClusterOperatorView, string | undefined][])('%s', (_what, operator, expected) => expect(clusterOperatorProblem(operator)).toBe(expected));
});

describe('ClusterVersion state', () => {
  it.each([
    ['installing', { status: { desired: { version: '4.20.1' }, history: [{ state: 'Partial', version: '4.20.1' }], conditions: [cond('Progressing', 'True', 'Working towards 4.20.1')] } },
      'Installing "4.20.1": Working towards 4.20.1'],
    ['updating', { status: { desired: { version: '4.20.2' }, history: [{ state: 'Partial', version: '4.20.2' }, { state: 'Completed', version: '4.20.1' }], conditions: [cond('Progressing', 'True', '50% done')] } },
      'Updating to "4.20.2" from "4.20.1": 50% done'],
    ['stable', { status: { desired: { version: '4.20.1' }, history: [{ state: 'Completed', version: '4.20.1' }] } }, 'Stable at "4.20.1"'],
    ['no history', { status: {} }, 'Installing "<unknown>": <unknown>'],
  ])('%s', (_what, cv, expected) => expect(clusterVersionState(cv)).toBe(expected));
});

describe('cluster facts', () => {
  const nodes = [
    { metadata: { name: 'a' }, spec: { providerID: 'aws:///eu-west-1a/i-1' }, status: { conditions: [cond('Ready', 'True')] } },
    { metadata: { name: 'b' }, spec: { providerID: 'aws:///eu-west-1b/i-2' }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }] } },
    { metadata: { name: 'c' }, status: {} },
  ];

  it('on OpenShift: the ClusterVersion\'s ID and version, the infrastructure, unhealthy and missing operators, nodes not Ready', () => {
    const present = LONG_EXISTING_OPERATORS.filter((n) => n !== 'console').map(healthy);
    const facts = clusterFacts({
      clusterVersion: { spec: { clusterID: '5e4a-id' }, status: { desired: { version: '4.20.1' }, history: [{ state: 'Completed', version: '4.20.1' }] } },
      infrastructure: { status: { platformStatus: { type: 'AWS' } } },
      serverVersion: 'v1.33.4',
      nodes: nodes.slice(0, 2),
      clusterOperators: [...present, { metadata: { name: 'etcd-x' }, status: { conditions: [cond('Available', 'False', 'down')] } }],
      now,
    });
    expect(facts).toEqual({
      id: '5e4a-id', version: '4.20.1', versionState: 'Stable at "4.20.1"', platform: 'OpenShift (AWS)', kubernetesVersion: 'v1.33.4', observedAt: '2026-12-06T10:00:00Z',
      nodes: { total: 2, notReady: ['node/b is not Ready (Unknown, NodeStatusUnknown: Kubelet stopped posting node status.)'] },
      clusterOperators: { total: present.length + 1, notHealthy: ['clusteroperator/etcd-x is not available (down) because <missing>', 'clusteroperator/console is missing'] },
    });
  });

  it('on plain Kubernetes: the kube-system uid as ID, the server version, the provider the nodes agree on', () => {
    const facts = clusterFacts({ kubeSystemUid: 'uid-123', serverVersion: 'v1.36.3', nodes: nodes.slice(0, 2), clusterOperators: [healthy('mine')], now });
    expect(facts).toMatchObject({ id: 'uid-123', version: 'v1.36.3', platform: 'Kubernetes (aws)', kubernetesVersion: 'v1.36.3' });
    expect(facts.versionState).toBeUndefined();
    // No "missing" operators off OpenShift: only OpenShift has them all.
    expect(facts.clusterOperators).toEqual({ total: 1, notHealthy: [] });
    const mixed = clusterFacts({ kubeSystemUid: 'u', serverVersion: 'v1', nodes: [...nodes, { metadata: { name: 'd' }, spec: { providerID: 'gce://p/z/d' } }], now });
    expect(mixed.platform).toBe('Kubernetes');
    expect(mixed.nodes?.notReady).toContain('node/c has not reported a Ready condition');
    expect(mixed.clusterOperators).toBeUndefined();
  });

  it('says what could not be read, and bounds every list', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ metadata: { name: `n${i}` }, status: { conditions: [{ type: 'Ready', status: 'False', message: 'x'.repeat(1000) }] } }));
    const facts = clusterFacts({ nodes: many, unreadable: ['Namespace/kube-system: forbidden'], now });
    expect(facts.id).toBe('<unknown>');
    expect(facts.unreadable).toEqual(['Namespace/kube-system: forbidden']);
    expect(facts.nodes?.total).toBe(50);
    expect(facts.nodes?.notReady).toHaveLength(CLUSTER_FACTS_LIST_LIMIT);
    expect(facts.nodes?.notReady.at(-1)).toBe(`... and ${50 - CLUSTER_FACTS_LIST_LIMIT + 1} more`);
    expect(Math.max(...facts.nodes!.notReady.map((l) => l.length))).toBeLessThanOrEqual(300);
  });

  it('nodeProblem is undefined for a Ready node', () => expect(nodeProblem(nodes[0]!)).toBeUndefined());
});
