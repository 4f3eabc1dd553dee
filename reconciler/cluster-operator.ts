/**
 * Keeps the operator's `ClusterOperator` (config.openshift.io/v1) current, as OpenShift components do:
 * `oc get clusteroperators` shows whether it is Available, Progressing or Degraded, its version, and the objects
 * `oc adm inspect` / must-gather should collect for it (relatedObjects).
 */
import { isDeepStrictEqual } from 'node:util';
import { formatBytes } from '../constructs/quantity.js';
import { API_GROUP, PLURAL } from '../constructs/report-api.js';
import type { FleetLimits, FleetUsage } from './admission.js';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';


export interface ClusterOperatorCondition {
  type: 'Available' | 'Progressing' | 'Degraded' | 'Upgradeable';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface RelatedObject {
  group: string;
  resource: string;
  name: string;
  namespace?: string;
}

export interface ClusterOperatorStatus {
  conditions: ClusterOperatorCondition[];
  versions?: { name: string; version: string }[];
  relatedObjects: RelatedObject[];
}

/** What the operator knows about itself. */
export interface OperatorHealth {
  /** Every watch has listed: the operator sees the cluster. */
  readonly synced: boolean;
  /** Reports whose reconcile keeps failing, with the last error. */
  readonly failing: readonly { readonly key: string; readonly failures: number; readonly message: string }[];
  /** Namespaces of live reports. */
  readonly reportNamespaces: readonly string[];
  /** What the fleet holds, and its limits. @default - not said */
  readonly fleet?: FleetUsage & FleetLimits;
}

/** The fleet in words: reports gathering and queued, storage in use, each against its limit. Waiting is not Degraded. */
function fleetWords(fleet: FleetUsage & FleetLimits): string {
  const gathering = `${fleet.gathering} gathering${fleet.maxGathering > 0 ? ` (at most ${fleet.maxGathering})` : ''}`;
  const storage = `volumes ${formatBytes(fleet.storageBytes)}${fleet.storageBudgetBytes > 0 ? ` of the ${formatBytes(fleet.storageBudgetBytes)} budget` : ''}`;
  return `; ${gathering}, ${fleet.queued} queued; ${storage}`;
}

export interface ClusterOperatorInput {
  readonly version: string;
  readonly operatorNamespace: string;
  readonly health: OperatorHealth;
  readonly previous?: ClusterOperatorStatus;
  readonly now: Date;
}

/** A reconcile failing this many times in a row makes the operator Degraded (a single blip does not). */
export const DEGRADED_AFTER_FAILURES = 3;

/** The ClusterOperator status for the operator's current health: a pure function, so every state is a unit test. */
export function clusterOperatorStatus(input: ClusterOperatorInput): ClusterOperatorStatus {
  const { health, version } = input;
  const failing = health.failing.filter((f) => f.failures >= DEGRADED_AFTER_FAILURES);
  const at = input.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = (type: ClusterOperatorCondition['type'], status: 'True' | 'False', reason: string, message: string): ClusterOperatorCondition => {
    const before = input.previous?.conditions?.find((c) => c.type === type);
    return { type, status, reason, message, lastTransitionTime: before && before.status === status ? before.lastTransitionTime : at };
  };
  const failures = failing.slice(0, 5).map((f) => `${f.key}: ${f.message}`).join('; ');
  const conditions = [
    health.synced
      ? condition('Available', 'True', 'AsExpected', `Reconciling MustGatherReports (${health.reportNamespaces.length} live${health.fleet ? fleetWords(health.fleet) : ''}).`)
      : condition('Available', 'False', 'Starting', 'Listing and watching the cluster; reports are not reconciled yet.'),
    health.synced
      ? condition('Progressing', 'False', 'AsExpected', `Version ${version} is running.`)
      : condition('Progressing', 'True', 'Starting', `Version ${version} is starting.`),
    failing.length > 0
      ? condition('Degraded', 'True', 'ReconcileFailing', `${failing.length} report${failing.length === 1 ? '' : 's'} failing to reconcile: ${failures}${failing.length > 5 ? '; ...' : ''}`)
      : condition('Degraded', 'False', 'AsExpected', 'Every report reconciles.'),
    condition('Upgradeable', 'True', 'AsExpected', 'Reports are independent of the operator version: pods are never restarted by an upgrade.'),
  ];
  return {
    conditions,
    // The cluster-version operator waits for the new version here before it calls an upgrade of this component done.
    ...(health.synced ? { versions: [{ name: 'operator', version }] } : {}),
    relatedObjects: [
      { group: '', resource: 'namespaces', name: input.operatorNamespace },
      { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: `${PLURAL}.${API_GROUP}` },
      { group: API_GROUP, resource: PLURAL, name: '' },
      ...[...new Set(health.reportNamespaces)].sort().map((name) => ({ group: '', resource: 'namespaces', name })),
    ],
  };
}

export interface ClusterOperatorReporterOptions {
  /** Name of the ClusterOperator. */
  readonly name: string;
  readonly version: string;
  readonly operatorNamespace: string;
  readonly health: () => OperatorHealth;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Writes the ClusterOperator's status when it changed; creates the object if the payload has not. */
export class ClusterOperatorReporter {
  constructor(private readonly client: KubeClient, private readonly options: ClusterOperatorReporterOptions) {}

  async sync(): Promise<{ written: boolean }> {
    const ref = { kind: RESOURCES.ClusterOperator.kind, name: this.options.name };
    type Live = KubeObject & { status?: ClusterOperatorStatus };
    let current = await this.client.get<Live>(ref);
    if (!current) {
      try {
        current = await this.client.create<Live>({ apiVersion: 'config.openshift.io/v1', kind: 'ClusterOperator', metadata: { name: this.options.name }, spec: {} });
      } catch (err) {
        if (!isConflict(err)) throw err;
        return this.sync();
      }
    }
    const status = clusterOperatorStatus({
      version: this.options.version, operatorNamespace: this.options.operatorNamespace, health: this.options.health(),
      ...(current.status ? { previous: current.status } : {}), now: (this.options.now ?? (() => new Date()))(),
    });
    if (isDeepStrictEqual(JSON.parse(JSON.stringify(current.status ?? {})), JSON.parse(JSON.stringify(status)))) return { written: false };
    try {
      await this.client.patch(ref, { metadata: { resourceVersion: current.metadata.resourceVersion }, status }, { subresource: 'status' });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return this.sync();
      throw new Error(`ClusterOperator/${this.options.name}: status update failed: ${(err as Error).message}`, { cause: err });
    }
    return { written: true };
  }
}
