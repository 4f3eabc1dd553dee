/** The ClusterOperator on a real API server, written with the operator's own (install chart) permissions. */
import { beforeAll, describe, expect, it } from 'vitest';
import { reportNamespaceName } from '../../constructs/report-identity.js';
import { ClusterOperatorReporter, type OperatorHealth } from '../../reconciler/cluster-operator.js';
import { Controller } from '../../reconciler/controller.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { adminClient, createReport, eventually, LOCAL_CLUSTER, localOnly, operatorClient, testNamespace } from './helpers.js';

let admin: KubeClient;
let operator: KubeClient;

beforeAll(async () => {
  admin = adminClient();
  if (LOCAL_CLUSTER) operator = await operatorClient(admin);
});

type ClusterOperator = KubeObject & { status?: { conditions: { type: string; status: string; reason: string; message: string }[]; versions?: unknown[]; relatedObjects: { name: string }[] } };
const read = () => admin.get<ClusterOperator>({ kind: 'ClusterOperator', name: 'must-gather-operator' });
const condition = (co: ClusterOperator | undefined, type: string) => co?.status?.conditions.find((c) => c.type === type);

describe.runIf(LOCAL_CLUSTER)(localOnly('ClusterOperator status', 'its CA, for the operator\'s least-privilege user'), () => {
  it('creates the ClusterOperator and reports Available, the version and the live reports\' namespaces', async () => {
    // Its own namespace only: other test files' reports on this API server (hundreds, in fleet.test.ts) are not its work.
    const namespace = await testNamespace(admin);
    const controller = new Controller({ client: operator, watchTimeoutSeconds: 30, namespaces: [namespace] });
    const reporter = new ClusterOperatorReporter(operator, { name: 'must-gather-operator', version: '4.21.0', operatorNamespace: 'openshift-must-gather-operator', health: () => controller.health() });
    await reporter.sync();
    expect(condition(await read(), 'Available')).toMatchObject({ status: 'False', reason: 'Starting' });
    await controller.start();
    try {
      const report = await createReport(admin, namespace, 'co', { images: ['quay.io/a/must-gather:v1'] });
      await eventually(async () => (await admin.get({ kind: 'MustGatherReport', namespace, name: 'co' }))?.metadata.finalizers, 'the report to be seen');
      expect(await reporter.sync()).toEqual({ written: true });
      const co = await read();
      expect(condition(co, 'Available')).toMatchObject({ status: 'True', reason: 'AsExpected' });
      expect(condition(co, 'Degraded')).toMatchObject({ status: 'False' });
      expect(co?.status?.versions).toEqual([{ name: 'operator', version: '4.21.0' }]);
      expect(co?.status?.relatedObjects.map((o) => o.name)).toContain(reportNamespaceName(report.metadata));
      expect(await reporter.sync()).toEqual({ written: false });
    } finally {
      await controller.stop();
    }
  });

  it('reports Degraded, with the failing report named, when reconciles keep failing', async () => {
    const health: OperatorHealth = { synced: true, failing: [{ key: 'ns/broken', failures: 5, message: 'Route/x/y: apply failed: 404' }], reportNamespaces: [] };
    await new ClusterOperatorReporter(operator, { name: 'must-gather-operator', version: '4.21.0', operatorNamespace: 'openshift-must-gather-operator', health: () => health }).sync();
    expect(condition(await read(), 'Degraded')).toMatchObject({ status: 'True', reason: 'ReconcileFailing', message: expect.stringContaining('ns/broken') });
  });
});
