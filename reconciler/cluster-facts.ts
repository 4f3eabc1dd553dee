/**
 * What the operator tells about the cluster when a report starts gathering: `status.cluster` and the facts of the
 * archive's `summary` (the archive step has no API access by design). As `oc adm must-gather` prints before it
 * gathers: the cluster's ID and version, the cluster operators that are not available, degraded, not upgradeable or
 * progressing; and beyond it the platform and the nodes that are not Ready. On plain Kubernetes: the API server's
 * version, the nodes, and the `kube-system` namespace's uid as the cluster ID.
 *
 * {@link clusterFacts} is pure (table-tested); {@link ClusterFactsReader} does the reads, once per report (shared
 * between reports for a few seconds), and never fails: what cannot be read is said in `unreadable`.
 */
import { CLUSTER_FACTS_LINE_LIMIT, CLUSTER_FACTS_LIST_LIMIT, type ClusterFacts } from '../constructs/pod-contract.js';
import type { KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { ClusterReads } from './cluster-reads.js';

interface StatusCondition {
  type: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** The parts of a ClusterVersion the facts read. */
export interface ClusterVersionView {
  spec?: { clusterID?: string };
  status?: {
    desired?: { version?: string };
    history?: { state?: string; version?: string }[];
    conditions?: StatusCondition[];
  };
}

/** The parts of an Infrastructure (`cluster`) the facts read. */
export interface InfrastructureView {
  status?: { platform?: string; platformStatus?: { type?: string } };
}

/** The parts of a Node the facts read. */
export interface NodeView {
  metadata: { name: string };
  spec?: { providerID?: string };
  status?: { conditions?: StatusCondition[] };
}

/** The parts of a ClusterOperator the facts read. */
export interface ClusterOperatorView {
  metadata: { name: string };
  status?: { conditions?: StatusCondition[] };
}

/** What was read; a part that could not be read is absent and named in `unreadable`. */
export interface ObservedCluster {
  /** OpenShift's ClusterVersion `version` (absent on plain Kubernetes). */
  readonly clusterVersion?: ClusterVersionView;
  readonly infrastructure?: InfrastructureView;
  readonly kubeSystemUid?: string;
  /** The API server's gitVersion. */
  readonly serverVersion?: string;
  readonly nodes?: readonly NodeView[];
  /** Absent where the ClusterOperator API is not served. */
  readonly clusterOperators?: readonly ClusterOperatorView[];
  readonly unreadable?: readonly string[];
  readonly now: Date;
}

/**
 * Cluster operators present on every OpenShift variant of every supported version (oc adm must-gather's list): one
 * missing is worth saying.
 */
export const LONG_EXISTING_OPERATORS = [
  'authentication', 'cloud-credential', 'cluster-autoscaler', 'config-operator', 'console', 'dns', 'etcd', 'image-registry', 'ingress',
  'insights', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-storage-version-migrator', 'machine-api', 'machine-approver',
  'machine-config', 'marketplace', 'monitoring', 'network', 'openshift-apiserver', 'openshift-controller-manager', 'operator-lifecycle-manager',
  'service-ca', 'storage',
] as const;

const find = (conditions: StatusCondition[] | undefined, type: string) => conditions?.find((c) => c.type === type);
const line = (text: string) => (text.length > CLUSTER_FACTS_LINE_LIMIT ? `${text.slice(0, CLUSTER_FACTS_LINE_LIMIT - 3)}...` : text);

/** At most {@link CLUSTER_FACTS_LIST_LIMIT} lines, the last saying how many more there were. */
function bounded(lines: string[]): string[] {
  if (lines.length <= CLUSTER_FACTS_LIST_LIMIT) return lines.map(line);
  return [...lines.slice(0, CLUSTER_FACTS_LIST_LIMIT - 1).map(line), `... and ${lines.length - CLUSTER_FACTS_LIST_LIMIT + 1} more`];
}

/** One cluster operator's trouble in `oc adm must-gather`'s words, or undefined when it is available, stable and fine. */
export function clusterOperatorProblem(operator: ClusterOperatorView): string | undefined {
  const conditions = operator.status?.conditions;
  const message = (type: string) => find(conditions, type)?.message ?? '<missing>';
  const available = find(conditions, 'Available')?.status === 'True';
  // oc: anything but an explicit False counts as progressing, degraded or upgradeable.
  const progressing = find(conditions, 'Progressing')?.status !== 'False';
  const degraded = find(conditions, 'Degraded')?.status !== 'False';
  const upgradeable = find(conditions, 'Upgradeable')?.status !== 'False';
  const name = `clusteroperator/${operator.metadata.name}`;
  if (!available) return `${name} is not available (${message('Available')}) because ${message('Degraded')}`;
  if (degraded) return `${name} is degraded because ${message('Degraded')}`;
  if (!upgradeable) return `${name} is not upgradeable because ${message('Upgradeable')}`;
  if (progressing) return `${name} is progressing: ${message('Progressing')}`;
  return undefined;
}

/** The ClusterVersion's state in `oc adm must-gather`'s words. */
export function clusterVersionState(cv: ClusterVersionView): string {
  const history = cv.status?.history ?? [];
  const desired = cv.status?.desired?.version ?? '<unknown>';
  const progressing = find(cv.status?.conditions, 'Progressing')?.message ?? '<unknown>';
  if (history.length === 0 || (history.length === 1 && history[0]!.state !== 'Completed')) return `Installing "${desired}": ${progressing}`;
  if (history[0]!.state !== 'Completed') return `Updating to "${desired}" from "${history[1]?.version ?? '<unknown>'}": ${progressing}`;
  return `Stable at "${history[0]!.version ?? desired}"`;
}

/** A node that is not Ready, in one line; undefined when it is Ready. */
export function nodeProblem(node: NodeView): string | undefined {
  const ready = find(node.status?.conditions, 'Ready');
  if (ready?.status === 'True') return undefined;
  if (!ready) return `node/${node.metadata.name} has not reported a Ready condition`;
  const why = [ready.reason, ready.message].filter(Boolean).join(': ');
  return `node/${node.metadata.name} is not Ready (${ready.status ?? 'Unknown'}${why ? `, ${why}` : ''})`;
}

/** The cloud or provider the nodes run on, from their providerID scheme (`aws:///...` -> `aws`), when they agree. */
function nodeProvider(nodes: readonly NodeView[] | undefined): string | undefined {
  const schemes = new Set((nodes ?? []).map((n) => /^([a-z][a-z0-9+.-]*):\/\//i.exec(n.spec?.providerID ?? '')?.[1]).filter((s) => s !== undefined));
  return schemes.size === 1 ? [...schemes][0] : undefined;
}

const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The facts from what was read. */
export function clusterFacts(observed: ObservedCluster): ClusterFacts {
  const cv = observed.clusterVersion;
  const openshift = cv !== undefined;
  const kubernetesVersion = observed.serverVersion ?? '<unknown>';
  const provider = openshift
    ? observed.infrastructure?.status?.platformStatus?.type ?? observed.infrastructure?.status?.platform
    : nodeProvider(observed.nodes);
  const operators = observed.clusterOperators;
  const operatorProblems = operators ? operators.map(clusterOperatorProblem).filter((p) => p !== undefined) : [];
  if (operators && openshift) {
    const present = new Set(operators.map((o) => o.metadata.name));
    operatorProblems.push(...LONG_EXISTING_OPERATORS.filter((name) => !present.has(name)).map((name) => `clusteroperator/${name} is missing`));
  }
  const nodes = observed.nodes;
  return {
    id: (openshift ? cv.spec?.clusterID : observed.kubeSystemUid) ?? '<unknown>',
    version: (openshift ? cv.status?.desired?.version ?? cv.status?.history?.[0]?.version : observed.serverVersion) ?? '<unknown>',
    ...(openshift ? { versionState: line(clusterVersionState(cv)) } : {}),
    platform: `${openshift ? 'OpenShift' : 'Kubernetes'}${provider ? ` (${provider})` : ''}`,
    kubernetesVersion,
    observedAt: rfc3339(observed.now),
    ...(nodes ? { nodes: { total: nodes.length, notReady: bounded(nodes.map(nodeProblem).filter((p) => p !== undefined)) } } : {}),
    ...(operators ? { clusterOperators: { total: operators.length, notHealthy: bounded(operatorProblems) } } : {}),
    ...(observed.unreadable?.length ? { unreadable: bounded([...observed.unreadable]) } : {}),
  };
}

/** Keeps of a list item only its name, provider and conditions: a node's status is kilobytes, the facts need a line. */
function slim(item: KubeObject): NodeView & ClusterOperatorView {
  const { spec, status } = item as { spec?: { providerID?: string }; status?: { conditions?: StatusCondition[] } };
  return {
    metadata: { name: item.metadata.name },
    ...(spec?.providerID ? { spec: { providerID: spec.providerID } } : {}),
    status: { conditions: (status?.conditions ?? []).map(({ type, status: s, reason, message }) => ({ type, ...(s ? { status: s } : {}), ...(reason ? { reason } : {}), ...(message ? { message } : {}) })) },
  };
}

/** The reads behind {@link clusterFacts}. */
export class ClusterFactsReader {
  constructor(private readonly reads: ClusterReads) {}

  /** The facts now (shared between reports for a few seconds). Never throws. */
  read(now: Date): Promise<ClusterFacts> {
    return this.reads.shared('cluster facts', async () => clusterFacts({ ...(await this.observe()), now }));
  }

  private async observe(): Promise<Omit<ObservedCluster, 'now'>> {
    const { client } = this.reads;
    const unreadable: string[] = [];
    /** A read whose failure is said, not thrown. */
    const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read();
      } catch (err) {
        unreadable.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    };
    const openshift = await attempt('discovery of config.openshift.io/v1', () => this.reads.served(RESOURCES.ClusterVersion));
    const [clusterVersion, infrastructure, kubeSystem, version, nodes, clusterOperators] = await Promise.all([
      openshift ? attempt('ClusterVersion/version', () => client.get<ClusterVersionView>({ kind: RESOURCES.ClusterVersion.kind, name: 'version' })) : undefined,
      openshift ? attempt('Infrastructure/cluster', () => client.get<InfrastructureView>({ kind: RESOURCES.Infrastructure.kind, name: 'cluster' })) : undefined,
      openshift ? undefined : attempt('Namespace/kube-system', () => client.get({ kind: RESOURCES.Namespace.kind, name: 'kube-system' })),
      attempt('the API server version', () => client.request<{ gitVersion?: string }>('GET', '/version', { subject: 'GET /version' })),
      attempt('nodes', async () => (await client.list<NodeView>(RESOURCES.Node, { each: slim })).items),
      attempt('cluster operators', async () => ((await this.reads.served(RESOURCES.ClusterOperator))
        ? (await client.list<ClusterOperatorView>(RESOURCES.ClusterOperator, { each: slim })).items
        : undefined)),
    ]);
    return {
      ...(clusterVersion ? { clusterVersion } : {}),
      ...(infrastructure ? { infrastructure } : {}),
      ...(kubeSystem?.metadata.uid ? { kubeSystemUid: kubeSystem.metadata.uid } : {}),
      ...(version?.gitVersion ? { serverVersion: version.gitVersion } : {}),
      ...(nodes ? { nodes } : {}),
      ...(clusterOperators ? { clusterOperators } : {}),
      ...(unreadable.length ? { unreadable } : {}),
    };
  }
}
