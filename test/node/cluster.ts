/**
 * The node suites' cluster: a local control plane with a real node (controlplane/node.ts) and the images the suites
 * run (the project's image under the operator's default name, the demo must-gather image, the test gather images).
 * It is a cluster of its own, apart from the integration tests' control plane, whose tests play the kubelet by writing
 * pod status (a real kubelet would overwrite it). The `node` vitest project runs its files one at a time, after the
 * other tests: one node at a time on a machine.
 *
 * Where a node cannot run (not root, not Linux) {@link NODE_UNAVAILABLE} says why in one line, and the suites say so
 * in their titles instead of running. With USE_EXISTING_CLUSTER=true they run against the current kube context: its
 * nodes must already have the images named by E2E_OPERATOR_IMAGE, E2E_DEMO_IMAGE and E2E_GATHER_IMAGE_{OK,FAIL,SLEEP,
 * FILL}, and the tests that need the local CA, signing key or audit log do not run there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_IMAGES } from '../../constructs/operator-config.js';
import { KubeClient } from '../../kube/client.js';
import { installCrds, startControlPlane } from '../../controlplane/controlplane.js';
import { repoRoot } from '../../controlplane/binaries.js';
import { nodeSupport } from '../../controlplane/host.js';
import { DEMO_GATHER_IMAGE, demoGatherImage, loadImage, projectImage, TEST_GATHER_IMAGES, testGatherImages } from '../../controlplane/images.js';

/** Images the end-to-end suites run. */
export interface NodeImages {
  operator: string;
  demo: string;
  ok: string;
  fail: string;
  sleep: string;
  fill: string;
}

/** A cluster with a node, for one suite. */
export interface NodeCluster {
  kubeconfig: string;
  /** The local control plane's data dir (CA, signing key), '' on an existing cluster. */
  dataDir: string;
  /** The local control plane's audit log, '' on an existing cluster. */
  auditLogPath: string;
  images: NodeImages;
  /** Whether this is the local cluster (its CA, signing key and audit log are at hand). */
  local: boolean;
  stop(): Promise<void>;
}

export const EXISTING = process.env.USE_EXISTING_CLUSTER === 'true';

/** Why the node suites cannot run here, or '' when they can. */
export const NODE_UNAVAILABLE = EXISTING ? '' : (nodeSupport() ?? '');

/** A suite title that says why it does not run, when it does not. */
export function nodeSuite(title: string): string {
  return NODE_UNAVAILABLE ? `${title} (does not run: ${NODE_UNAVAILABLE}; CI runs it as root)` : title;
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Starts the cluster with a node and loads the images (or binds to the existing cluster). */
export async function startNodeCluster(): Promise<NodeCluster> {
  const crdDir = path.join(repoRoot(), 'deploy', 'crds');
  if (EXISTING) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mustgather-kubeconfig-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
    const client = new KubeClient(kc);
    await installCrds(client, crdDir, { overwrite: false, log });
    client.close();
    const env = process.env;
    return {
      kubeconfig,
      dataDir: '',
      auditLogPath: '',
      local: false,
      images: {
        operator: env.E2E_OPERATOR_IMAGE || DEFAULT_IMAGES.operator,
        demo: env.E2E_DEMO_IMAGE || DEMO_GATHER_IMAGE,
        ok: env.E2E_GATHER_IMAGE_OK || TEST_GATHER_IMAGES.ok,
        fail: env.E2E_GATHER_IMAGE_FAIL || TEST_GATHER_IMAGES.fail,
        sleep: env.E2E_GATHER_IMAGE_SLEEP || TEST_GATHER_IMAGES.sleep,
        fill: env.E2E_GATHER_IMAGE_FILL || TEST_GATHER_IMAGES.fill,
      },
      stop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const t0 = Date.now();
  const cp = await startControlPlane({ crdDir, log, node: true });
  try {
    const target = { ctr: cp.node!.binaries.ctr, address: cp.node!.containerdAddress };
    const built = [await projectImage(DEFAULT_IMAGES.operator), await demoGatherImage(), ...Object.values(await testGatherImages())];
    for (const image of built) await loadImage(target, image.name, image.archive);
  } catch (err) {
    await cp.stop();
    throw err;
  }
  log(`[node] cluster with a node ready in ${Date.now() - t0} ms: KUBECONFIG=${cp.kubeconfigPath}`);
  return {
    kubeconfig: cp.kubeconfigPath,
    dataDir: cp.dataDir,
    auditLogPath: cp.auditLogPath,
    local: true,
    images: {
      operator: DEFAULT_IMAGES.operator,
      demo: DEMO_GATHER_IMAGE,
      ok: TEST_GATHER_IMAGES.ok,
      fail: TEST_GATHER_IMAGES.fail,
      sleep: TEST_GATHER_IMAGES.sleep,
      fill: TEST_GATHER_IMAGES.fill,
    },
    stop: () => cp.stop(),
  };
}
