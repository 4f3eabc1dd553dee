/**
 * The summary's OpenShift facts against a real kube-apiserver of their own (not the shared one: a served ClusterVersion
 * API makes every operator there detect OpenShift), with stand-ins for ClusterVersion and Infrastructure, read as a
 * user holding exactly the install chart's ClusterRole: the ClusterVersion's ID and version, the update state, the
 * infrastructure platform, unhealthy and missing cluster operators.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterOperatorCrd } from '../../constructs/cluster-operator-crd.js';
import { renderInstall } from '../../constructs/render.js';
import { OPERATOR_NAME } from '../../constructs/install-chart.js';
import { StandInCrd } from '../../constructs/stand-in-crd.js';
import { type ControlPlane, startControlPlane } from '../../controlplane/controlplane.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { ClusterFactsReader, LONG_EXISTING_OPERATORS } from '../../reconciler/cluster-facts.js';
import { ClusterReads } from '../../reconciler/cluster-reads.js';
import { detectPlatform } from '../../reconciler/platform.js';
import { LOCAL_CLUSTER, localOnly } from './helpers.js';

/** CRDs of OpenShift's config API a plain kube-apiserver lacks, written where the control plane installs CRDs from. */
function configCrds(dir: string): void {
  const chart = new Chart(new App(), 'openshift-config');
  const anything = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  new StandInCrd(chart, 'ClusterVersion', { group: 'config.openshift.io', version: 'v1', kind: 'ClusterVersion', plural: 'clusterversions', scope: 'Cluster', schema: anything });
  new StandInCrd(chart, 'Infrastructure', { group: 'config.openshift.io', version: 'v1', kind: 'Infrastructure', plural: 'infrastructures', scope: 'Cluster', schema: anything });
  new ClusterOperatorCrd(chart, 'ClusterOperator');
  chart.toJson().forEach((crd, i) => writeFileSync(path.join(dir, `${i}.yaml`), JSON.stringify(crd)));
}

describe.runIf(LOCAL_CLUSTER)(localOnly('the summary\'s OpenShift facts', 'a control plane of its own'), () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let operator: KubeClient;
  const crdDir = mkdtempSync(path.join(os.tmpdir(), 'openshift-crds-'));

  beforeAll(async () => {
    configCrds(crdDir);
    cp = await startControlPlane({ crdDir, controllers: false, handleSignals: false });
    admin = new KubeClient(cp.kubeConfig());
    const role = renderInstall().find((m) => m.kind === 'ClusterRole' && m.metadata.name === OPERATOR_NAME)! as unknown as KubeObject;
    await admin.apply(role, { fieldManager: 'test' });
    await admin.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'operator' }],
    } as KubeObject, { fieldManager: 'test' });
    operator = new KubeClient((await cp.mintUser('operator')).kubeConfig);

    const create = async (object: Record<string, unknown> & { kind: string; metadata: { name: string } }, status: Record<string, unknown>) => {
      await admin.create(object as unknown as KubeObject);
      await admin.patch({ kind: object.kind, name: object.metadata.name }, { status }, { subresource: 'status' });
    };
    await create({ apiVersion: 'config.openshift.io/v1', kind: 'ClusterVersion', metadata: { name: 'version' }, spec: { clusterID: 'c0ffee-1234' } }, {
      desired: { version: '4.20.2' },
      history: [{ state: 'Partial', version: '4.20.2' }, { state: 'Completed', version: '4.20.1' }],
      conditions: [{ type: 'Progressing', status: 'True', message: 'Working towards 4.20.2: 512 of 890 done (57% complete)' }],
    });
    await create({ apiVersion: 'config.openshift.io/v1', kind: 'Infrastructure', metadata: { name: 'cluster' }, spec: {} }, { platform: 'AWS', platformStatus: { type: 'AWS' } });
    const conditions = (available: string, degraded: string, message = '') => [
      { type: 'Available', status: available, lastTransitionTime: new Date().toISOString(), message },
      { type: 'Degraded', status: degraded, lastTransitionTime: new Date().toISOString(), message },
      { type: 'Progressing', status: 'False', lastTransitionTime: new Date().toISOString() },
    ];
    for (const name of LONG_EXISTING_OPERATORS.filter((n) => n !== 'insights')) {
      await create({ apiVersion: 'config.openshift.io/v1', kind: 'ClusterOperator', metadata: { name }, spec: {} }, { conditions: name === 'ingress' ? conditions('True', 'True', 'router pods crashlooping') : conditions('True', 'False') });
    }
  });
  afterAll(async () => {
    admin?.close();
    operator?.close();
    await cp?.stop();
    rmSync(crdDir, { recursive: true, force: true });
  });

  it('reads the ClusterVersion, the Infrastructure and the cluster operators with the install chart\'s role, as oc adm must-gather prints them', async () => {
    expect(await detectPlatform(operator)).toBe('openshift');
    const facts = await new ClusterFactsReader(new ClusterReads(operator)).read(new Date('2026-12-06T10:00:00Z'));
    expect(facts).toMatchObject({
      id: 'c0ffee-1234',
      version: '4.20.2',
      versionState: 'Updating to "4.20.2" from "4.20.1": Working towards 4.20.2: 512 of 890 done (57% complete)',
      platform: 'OpenShift (AWS)',
      kubernetesVersion: cp.version.startsWith('v') ? cp.version : `v${cp.version}`,
      nodes: { total: 0, notReady: [] },
      clusterOperators: {
        total: LONG_EXISTING_OPERATORS.length - 1,
        notHealthy: ['clusteroperator/ingress is degraded because router pods crashlooping', 'clusteroperator/insights is missing'],
      },
    });
    expect(facts.unreadable).toBeUndefined();
  });
});
