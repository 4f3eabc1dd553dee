/**
 * vitest 4 globalSetup: starts ONE local control plane per test run (CRDs from deploy/crds installed) and provides
 * its coordinates to tests through `inject(...)`. With USE_EXISTING_CLUSTER=true it uses the current kube context
 * instead, only creating CRDs that are missing (nothing is updated or deleted there).
 *
 * Provided keys: `kubeconfig`, `auditLogPath` ('' on an existing cluster), `controlPlaneDir` ('' on an existing
 * cluster; pass it to {@link mintUserFromDir}), `kubernetesVersion` (the local control plane's, or '' on an existing
 * cluster).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.js';
import { installCrds, mintUserFromDir, startControlPlane } from './controlplane.js';
import { repoRoot } from './binaries.js';

export { mintUserFromDir };

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig path (or a copy of the current context's config with USE_EXISTING_CLUSTER=true). */
    kubeconfig: string;
    /** kube-apiserver audit log of the local control plane ('' on an existing cluster). */
    auditLogPath: string;
    /** Data dir of the local control plane, for mintUserFromDir ('' on an existing cluster). */
    controlPlaneDir: string;
    /** Kubernetes version of the local control plane ('' on an existing cluster). */
    kubernetesVersion: string;
  }
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Starts the control plane (or binds to the existing cluster) and returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const crdDir = process.env.CRD_DIR || path.join(repoRoot(), 'deploy', 'crds');
  if (process.env.USE_EXISTING_CLUSTER === 'true') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mustgather-kubeconfig-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    // Merges KUBECONFIG's files like kubectl and resolves relative paths.
    const kc = new KubeConfig();
    kc.loadFromDefault();
    writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
    log(`[controlplane] USE_EXISTING_CLUSTER=true: context ${kc.getCurrentContext()} (${kc.getCurrentCluster()?.server})`);
    const client = new KubeClient(kc);
    if (process.env.INSTALL_CRDS !== 'false') await installCrds(client, crdDir, { overwrite: false, log });
    client.close();
    project.provide('kubeconfig', kubeconfig);
    project.provide('auditLogPath', '');
    project.provide('controlPlaneDir', '');
    project.provide('kubernetesVersion', '');
    return async () => rmSync(dir, { recursive: true, force: true });
  }

  const t0 = Date.now();
  const cp = await startControlPlane({ crdDir, log });
  log(`[controlplane] ready in ${Date.now() - t0} ms: KUBECONFIG=${cp.kubeconfigPath}`);
  project.provide('kubeconfig', cp.kubeconfigPath);
  project.provide('auditLogPath', cp.auditLogPath);
  project.provide('controlPlaneDir', cp.dataDir);
  project.provide('kubernetesVersion', cp.version);
  return () => cp.stop();
}
