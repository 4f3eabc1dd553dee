/**
 * Which platform profile the operator runs: OpenShift is recognised by its own ClusterVersion API
 * (`config.openshift.io/v1` `clusterversions`), which only OpenShift's cluster-version operator serves. Not the Route
 * API: plain clusters may have a Route CRD (this project's tests install one), but no ClusterVersion.
 */
import type { Platform } from '../constructs/pod-contract.js';
import type { KubeClient } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';

/** `openshift` when the ClusterVersion API is served, else `kubernetes`. */
export async function detectPlatform(client: KubeClient): Promise<Platform> {
  try {
    return (await client.serves(RESOURCES.ClusterVersion)) ? 'openshift' : 'kubernetes';
  } catch (err) {
    throw new Error(`platform detection: ${(err as Error).message}`, { cause: err });
  }
}
