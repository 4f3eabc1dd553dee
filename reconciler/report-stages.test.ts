import { describe, expect, it } from 'vitest';
import { renderReport } from '../constructs/render.js';
import { reportObjectNames } from '../constructs/report-identity.js';
import type { KubeObject } from '../kube/client.js';
import { reportStages } from './report-stages.js';

const report = {
  apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport',
  metadata: { name: 'r', namespace: 'team', uid: '6f1c1e9a-0000-4000-8000-000000000001' },
  spec: { images: ['quay.io/a/must-gather:1'] },
};

describe('reportStages', () => {
  it.each([
    ['openshift', {}],
    ['kubernetes', { ingress: { hostSuffix: 'apps.example.com' } }],
  ] as const)('puts only the namespace and the gather account on the pod\'s path (%s)', (platform, extra) => {
    const chart = renderReport(report, { platform, runtimeObjects: 'omit', ...extra }) as unknown as KubeObject[];
    const names = reportObjectNames(report.metadata);
    const stages = reportStages(chart, names);
    expect(stages.namespace.map((o) => o.metadata.name)).toEqual([names.namespace]);
    expect(stages.gatherAccount.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([`ServiceAccount/${names.gatherServiceAccount}`]);
    expect(stages.pod.map((o) => o.kind)).toEqual(['Pod']);
    expect([...stages.namespace, ...stages.gatherAccount, ...stages.beside, ...stages.pod, ...stages.serving]).toHaveLength(chart.length);
    // What goes beside the chain needs nothing but the namespace: no Role a binding would wait for (bindings refer to
    // ClusterRoles), no legacy token Secret that needs its account first.
    for (const object of stages.beside) {
      expect(object.kind, `${object.kind}/${object.metadata.name}`).not.toBe('Role');
      if (object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') expect((object as { roleRef?: { kind?: string } }).roleRef?.kind).toBe('ClusterRole');
      if (object.kind === 'Secret') expect((object as { type?: string }).type).not.toBe('kubernetes.io/service-account-token');
    }
  });

  it.each([
    ['openshift', {}, 'Route'],
    ['kubernetes', { ingress: { hostSuffix: 'apps.example.com' } }, 'Ingress'],
  ] as const)('leaves what only serves the archive for after the pod, and nothing the pod runs with (%s)', (platform, extra, front) => {
    const chart = renderReport(report, { platform, runtimeObjects: 'omit', ...extra }) as unknown as KubeObject[];
    const names = reportObjectNames(report.metadata);
    const stages = reportStages(chart, names);
    expect(stages.serving.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      `ClusterRoleBinding/${names.authDelegatorBinding}`, `${front}/${names.main}`, `NetworkPolicy/${names.networkPolicy}`, `RoleBinding/${names.eventRecorderBinding}`,
    ].sort());
    // The pod's account and everything it mounts come before it; so do the gather's cluster-admin binding, and the
    // Service (on OpenShift the service CA makes the pod's certificate Secret from it).
    const pod = stages.pod[0] as KubeObject & { spec: { serviceAccountName: string; volumes: { secret?: { secretName: string }; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string } }[] } };
    const before = new Set([...stages.gatherAccount, ...stages.beside].map((o) => `${o.kind}/${o.metadata.name}`));
    const needed = [
      `ServiceAccount/${pod.spec.serviceAccountName}`, `Service/${names.main}`, `ClusterRoleBinding/${names.gatherBinding}`,
      ...pod.spec.volumes.flatMap((v) => [
        ...(v.configMap ? [`ConfigMap/${v.configMap.name}`] : []), ...(v.persistentVolumeClaim ? [`PersistentVolumeClaim/${v.persistentVolumeClaim.claimName}`] : []),
      ]),
    ];
    for (const ref of needed) expect(before, ref).toContain(ref);
    // Mounted Secrets are runtime objects (stage 2, beside the chain) or made from the Service: none is served later.
    const serving = new Set(stages.serving.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const v of pod.spec.volumes) if (v.secret) expect(serving).not.toContain(`Secret/${v.secret.secretName}`);
  });

  it('leaves a gathering-over chart without a gather account', () => {
    const chart = renderReport(report, { runtimeObjects: 'omit', gathering: false }) as unknown as KubeObject[];
    expect(reportStages(chart, reportObjectNames(report.metadata)).gatherAccount).toEqual([]);
  });
});
