/**
 * Which platform profile the operator runs: OpenShift is recognised by its own ClusterVersion API
 * (`config.openshift.io/v1` `clusterversions`), which only OpenShift's cluster-version operator serves. Not the Route
 * API: plain clusters may have a Route CRD (this project's tests install one), but no ClusterVersion.
 */
import type { Platform } from '../constructs/pod-contract.js';
import { isNotFound, type KubeClient } from '../kube/client.js';

/** The discovery document the detection reads. */
export const CLUSTER_VERSION_API = { groupVersion: 'config.openshift.io/v1', resource: 'clusterversions' } as const;

/** `openshift` when the ClusterVersion API is served, else `kubernetes`. */
export async function detectPlatform(client: KubeClient): Promise<Platform> {
  try {
    const list = await client.request<{ resources?: { name: string }[] }>('GET', `/apis/${CLUSTER_VERSION_API.groupVersion}`, {
      subject: `discovery of ${CLUSTER_VERSION_API.groupVersion}`,
    });
    return list.resources?.some((r) => r.name === CLUSTER_VERSION_API.resource) ? 'openshift' : 'kubernetes';
  } catch (err) {
    if (isNotFound(err)) return 'kubernetes';
    throw new Error(`platform detection: ${(err as Error).message}`, { cause: err });
  }
}
