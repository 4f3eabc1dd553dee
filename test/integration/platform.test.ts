/**
 * Platform detection against the real kube-apiserver: plain Kubernetes here (a Route CRD is installed, which must not
 * count), OpenShift once the ClusterVersion API (`config.openshift.io/v1` `clusterversions`) is served, as OpenShift's
 * own API server serves it. A minimal CRD stands in for it, and is removed again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { detectPlatform } from '../../reconciler/platform.js';
import { adminClient, eventually } from './helpers.js';

const CRD_NAME = 'clusterversions.config.openshift.io';

let admin: KubeClient;

beforeAll(() => {
  admin = adminClient();
});

afterAll(async () => {
  await admin.delete({ kind: 'CustomResourceDefinition', name: CRD_NAME }).catch(() => undefined);
});

describe('detectPlatform', () => {
  it('finds plain Kubernetes, Route CRD or not', async () => {
    expect(await admin.get({ kind: 'CustomResourceDefinition', name: 'routes.route.openshift.io' })).toBeDefined();
    expect(await detectPlatform(admin)).toBe('kubernetes');
  });

  it('finds OpenShift by its ClusterVersion API', async () => {
    await admin.create({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME },
      spec: {
        group: 'config.openshift.io', scope: 'Cluster',
        names: { plural: 'clusterversions', singular: 'clusterversion', kind: 'ClusterVersion', listKind: 'ClusterVersionList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    } as unknown as KubeObject);
    expect(await eventually(async () => (await detectPlatform(admin)) === 'openshift' && 'openshift', 'the ClusterVersion API to be served')).toBe('openshift');
    await admin.delete({ kind: 'CustomResourceDefinition', name: CRD_NAME });
    expect(await eventually(async () => (await detectPlatform(admin)) === 'kubernetes' && 'kubernetes', 'the ClusterVersion API to go')).toBe('kubernetes');
  });
});
