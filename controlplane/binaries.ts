/**
 * Locates the control-plane binaries: from KUBEBUILDER_ASSETS when it holds them (nothing is built), otherwise
 * from the cache filled by hack/controlplane/build.sh (built from Go modules on first use, reused afterwards).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from './build-script.js';

/** Paths of the control-plane binaries. */
export interface ControlPlaneBinaries {
  /** Directory holding them. */
  dir: string;
  /** Where they came from. */
  source: 'KUBEBUILDER_ASSETS' | 'build';
  /** kube-apiserver (always present). */
  kubeApiserver: string;
  /** etcd (always present). */
  etcd: string;
  /** kube-controller-manager, if available (KUBEBUILDER_ASSETS from setup-envtest has none). */
  kubeControllerManager?: string;
  /** kubectl, if available. */
  kubectl?: string;
  /** kube-scheduler, if available (a local node needs it). */
  kubeScheduler?: string;
  /** kubelet, if available (a local node needs it). */
  kubelet?: string;
}

/** Whether `p` is a file this process may execute. */
export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The repository root: the nearest ancestor of this module holding hack/controlplane/build.sh. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'hack', 'controlplane', 'build.sh'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find hack/controlplane/build.sh above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The Kubernetes version pinned in hack/controlplane/go.mod (e.g. "v1.36.3"). */
export function pinnedKubernetesVersion(): string {
  const gomod = readFileSync(path.join(repoRoot(), 'hack', 'controlplane', 'go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(gomod);
  if (!m?.[1]) throw new Error('k8s.io/kubernetes not found in hack/controlplane/go.mod');
  return m[1];
}

/** The cache root: $MUSTGATHER_CACHE or ~/.cache/mustgather. */
export function cacheRoot(): string {
  return process.env.MUSTGATHER_CACHE || path.join(process.env.HOME || '/tmp', '.cache', 'mustgather');
}

function fromDir(dir: string, source: ControlPlaneBinaries['source']): ControlPlaneBinaries | undefined {
  const p = (n: string) => path.join(dir, n);
  if (!isExecutable(p('kube-apiserver')) || !isExecutable(p('etcd'))) return undefined;
  const bins: ControlPlaneBinaries = { dir, source, kubeApiserver: p('kube-apiserver'), etcd: p('etcd') };
  if (isExecutable(p('kube-controller-manager'))) bins.kubeControllerManager = p('kube-controller-manager');
  if (isExecutable(p('kubectl'))) bins.kubectl = p('kubectl');
  if (isExecutable(p('kube-scheduler'))) bins.kubeScheduler = p('kube-scheduler');
  if (isExecutable(p('kubelet'))) bins.kubelet = p('kubelet');
  return bins;
}

/** Options for {@link ensureBinaries}. */
export interface EnsureBinariesOptions {
  /** Where build progress goes (default: process.stderr). */
  log?: (line: string) => void;
  /** Ignore KUBEBUILDER_ASSETS. */
  ignoreKubebuilderAssets?: boolean;
}

let pending: Promise<ControlPlaneBinaries> | undefined;

/**
 * Returns the control-plane binaries: KUBEBUILDER_ASSETS if it holds kube-apiserver and etcd, otherwise the cached
 * build of hack/controlplane (building it first if go.mod/go.sum/the mains changed; a no-op run takes well under a
 * second). Rejects with the build script's one-sentence explanation when Go or the module proxy is missing.
 */
export function ensureBinaries(opts: EnsureBinariesOptions = {}): Promise<ControlPlaneBinaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && !opts.ignoreKubebuilderAssets) {
    const bins = fromDir(assets, 'KUBEBUILDER_ASSETS');
    if (bins) return Promise.resolve(bins);
  }
  pending ??= runBuild(opts).finally(() => {
    pending = undefined;
  });
  return pending;
}

async function runBuild(opts: EnsureBinariesOptions): Promise<ControlPlaneBinaries> {
  const script = path.join(repoRoot(), 'hack', 'controlplane', 'build.sh');
  const dir = await runBuildScript(script, 'the control plane', opts.log ?? ((line: string) => process.stderr.write(line + '\n')));
  const bins = fromDir(dir, 'build');
  if (!bins) throw new Error(`build.sh reported ${JSON.stringify(dir)} but kube-apiserver/etcd are not there`);
  return bins;
}
