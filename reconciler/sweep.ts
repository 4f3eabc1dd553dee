/**
 * At start-up, deletes what reports that no longer exist left behind (a report deleted while the operator was down,
 * its finalizer removed by hand): namespaces, cluster role bindings, and the roles and role bindings beside the
 * report, labelled as the operator's, whose report is gone or is a different object now (another uid under the same
 * name).
 */
import { LABELS, MANAGED_BY, REPORT_ANNOTATION } from '../constructs/report-identity.js';
import type { KubeClient } from '../kube/client.js';
import { BESIDE_REPORT_TYPES, type PruneEntry } from './prune.js';
import { refOf, refString, RESOURCES } from '../kube/resources.js';

export async function sweepOrphans(client: KubeClient): Promise<PruneEntry[]> {
  const selector = `${LABELS.managedBy}=${MANAGED_BY}`;
  const lists = await Promise.all([RESOURCES.ClusterRoleBinding, ...BESIDE_REPORT_TYPES, RESOURCES.Namespace].map((type) => client.list(type, { labelSelector: selector })));
  const owners = new Map<string, string | undefined>();
  const ownerUid = async (key: string) => {
    if (!owners.has(key)) {
      const [namespace, ...rest] = key.split('/');
      const report = await client.get({ kind: RESOURCES.MustGatherReport.kind, namespace: namespace!, name: rest.join('/') });
      owners.set(key, report?.metadata.uid);
    }
    return owners.get(key);
  };
  const swept: PruneEntry[] = [];
  for (const object of lists.flatMap((list) => list.items)) {
    const key = object.metadata.annotations?.[REPORT_ANNOTATION];
    const uid = object.metadata.labels?.[LABELS.reportUid];
    if (!key || !key.includes('/') || object.metadata.deletionTimestamp) continue;
    if ((await ownerUid(key)) === uid) continue;
    const ref = refOf(object);
    if (await client.delete(ref)) swept.push({ ref, subject: refString(ref), action: 'deleted' });
  }
  return swept;
}
