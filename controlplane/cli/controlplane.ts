/**
 * `mustgather controlplane up|down|env|image load` (checkout only): a local cluster for development, run in the
 * background (a detached `mustgather controlplane serve`), state under <cache>/run/controlplane; with `--node` also a
 * real node (controlplane/node.ts) with the project's images loaded.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot, ensureBinaries } from '../binaries.js';
import { DEFAULT_SERVICE_CIDR, startControlPlane, stopControlPlaneInDir } from '../controlplane.js';
import { nodeSupport } from '../host.js';
import { demoGatherImage, loadImage, projectImage } from '../images.js';
import { cleanUpNode, NODE_DEFAULTS, runningNode, type LocalNode } from '../node.js';
import { DEFAULT_IMAGES } from '../../constructs/operator-config.js';
import { isAlive, readState, tail } from '../processes.js';
import { parseCommandArgs, UsageError } from '../../bin/usage.js';

const HELP = `Usage: npm run mustgather -- controlplane <up|down|env|image load> [options]   (in a checkout)

A real local Kubernetes cluster: etcd, kube-apiserver, kube-controller-manager with the CRDs of deploy/crds installed,
and with --node a real node (kubelet, kube-scheduler, containerd, runc, CNI; Linux and root only). Binaries come from
KUBEBUILDER_ASSETS or are built once from Go modules (hack/controlplane, hack/node) into
${'$'}{MUSTGATHER_CACHE:-~/.cache/mustgather}/; nothing is downloaded but Go modules and Debian packages.

  up     start it in the background, wait until ready, print "export KUBECONFIG=..."
           --node             also run a node, and load the project's images into it (operator, demo must-gather)
           --pod-cidr CIDR    the node's pod range (default ${NODE_DEFAULTS.podCidr})
           --service-cidr CIDR  the Service range (default ${DEFAULT_SERVICE_CIDR})
           --no-controllers   do not run kube-controller-manager
           --no-crds          do not install CRDs
           --crd-dir DIR      install the CRDs of DIR instead of deploy/crds
           --timeout SECONDS  give up waiting after this long (default 1800, building included)
  env    print "export KUBECONFIG=..." for the running one (exit 1 if none)
  image load NAME SOURCE
         make SOURCE (a docker-archive or OCI archive tar, or a root filesystem directory) image NAME on the node;
         NAME needs a fixed tag (not latest), so pods with imagePullPolicy IfNotPresent use it
  down   stop it and remove everything it made (also what a killed run left behind)

  eval "$(npm run -s mustgather -- controlplane up --node)" && kubectl get nodes`;

/** The background control plane's data dir. */
function runDir(): string {
  return path.join(cacheRoot(), 'run', 'controlplane');
}

function serveLog(): string {
  return path.join(cacheRoot(), 'run', 'controlplane-serve.log');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

interface Running {
  kubeconfigPath: string;
  server: string;
  ownerPid: number;
}

/** Written by `serve` once a node's images are loaded: `up` returns only then. */
const IMAGES_LOADED = 'images-loaded';

function running(): Running | undefined {
  const state = readState(runDir());
  if (!state || state.ready !== true || !isAlive(state.ownerPid)) return undefined;
  if (state.node && !existsSync(path.join(runDir(), IMAGES_LOADED))) return undefined;
  return { kubeconfigPath: String(state.kubeconfigPath), server: String(state.server), ownerPid: state.ownerPid };
}

function printEnv(r: Running): void {
  process.stdout.write(`export KUBECONFIG=${shellQuote(r.kubeconfigPath)}\n`);
}

/** What `up` takes and hands on to the background `serve`. */
const CLUSTER_OPTIONS = {
  'no-controllers': { type: 'boolean', default: false },
  'no-crds': { type: 'boolean', default: false },
  'crd-dir': { type: 'string' },
  node: { type: 'boolean', default: false },
  'pod-cidr': { type: 'string' },
  'service-cidr': { type: 'string' },
} as const;

async function up(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    { ...CLUSTER_OPTIONS, timeout: { type: 'string', default: '1800' } },
    HELP,
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not ${values.timeout}`);
  const deadline = Date.now() + timeoutMs;

  const already = running();
  if (already) {
    console.error(`control plane already running at ${already.server} (pid ${already.ownerPid})`);
    printEnv(already);
    return 0;
  }
  if (values.node) {
    const why = nodeSupport();
    if (why) {
      console.error(`mustgather controlplane up --node: ${why}; run it as root on Linux, or leave out --node (pods then stay Pending)`);
      return 1;
    }
  }
  // A crashed previous run: clean it up first.
  await stopControlPlaneInDir(runDir());

  // Build (or locate) the binaries in the foreground, so progress shows here.
  const bins = await ensureBinaries();
  mkdirSync(path.dirname(runDir()), { recursive: true });
  const serveArgs = ['serve'];
  if (values['no-controllers']) serveArgs.push('--no-controllers');
  if (values['no-crds']) serveArgs.push('--no-crds');
  if (values['crd-dir']) serveArgs.push('--crd-dir', path.resolve(values['crd-dir']));
  if (values.node) serveArgs.push('--node');
  if (values['pod-cidr']) serveArgs.push('--pod-cidr', values['pod-cidr']);
  if (values['service-cidr']) serveArgs.push('--service-cidr', values['service-cidr']);
  const entry = process.argv[1];
  if (!entry) throw new Error('cannot tell how this program was started (process.argv[1] is empty)');
  const fd = openSync(serveLog(), 'w');
  const child = spawn(process.execPath, [...process.execArgv, entry, 'controlplane', ...serveArgs], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: bins.source === 'KUBEBUILDER_ASSETS' ? process.env : { ...process.env, KUBEBUILDER_ASSETS: bins.dir },
  });
  closeSync(fd);
  child.unref();
  const started = Date.now();
  for (;;) {
    const r = running();
    if (r) {
      console.error(`control plane ready at ${r.server} in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${r.ownerPid}; log ${serveLog()})`);
      if (bins.kubectl) console.error(`kubectl: ${bins.kubectl}`);
      printEnv(r);
      return 0;
    }
    if (child.exitCode !== null || child.signalCode !== null || (child.pid !== undefined && !isAlive(child.pid))) {
      console.error(`the control plane did not start; last lines of ${serveLog()}:\n${await tail(serveLog(), 40)}`);
      return 1;
    }
    if (Date.now() > deadline) {
      console.error(`the control plane was not ready after ${values.timeout} s; stopping it. Last lines of ${serveLog()}:\n${await tail(serveLog(), 40)}`);
      await stopControlPlaneInDir(runDir());
      return 1;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function serve(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    CLUSTER_OPTIONS,
    'Usage: mustgather controlplane serve (internal: runs the control plane in the foreground until SIGTERM)',
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const log = (l: string): void => void process.stderr.write(`${new Date().toISOString()} ${l}\n`);
  const cp = await startControlPlane({
    dataDir: runDir(),
    controllers: !values['no-controllers'],
    installCrds: !values['no-crds'],
    ...(values['crd-dir'] ? { crdDir: values['crd-dir'] } : {}),
    ...(values['service-cidr'] ? { serviceCidr: values['service-cidr'] } : {}),
    ...(values.node ? { node: values['pod-cidr'] ? { podCidr: values['pod-cidr'] } : true } : {}),
    handleSignals: false,
    log,
  });
  if (cp.node) {
    try {
      await loadProjectImages(cp.node, log);
    } catch (err) {
      // `up` waits for the images: stop, so that it sees this process end and shows the log.
      log(`loading the images failed: ${(err as Error).message}`);
      await cp.stop();
      return 1;
    }
    writeFileSync(path.join(runDir(), IMAGES_LOADED), '');
  }
  log(`ready: KUBECONFIG=${cp.kubeconfigPath}`);
  // The children are unref'ed: without a handle of its own this process would exit (and take them along).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
  });
  log(`${signal}: stopping`);
  clearInterval(keepAlive);
  await cp.stop();
  log('stopped');
  return 0;
}

/**
 * The project's own image under the operator's default name (so `mustgather run` and the install chart use it
 * without flags) and the demo must-gather image.
 */
async function loadProjectImages(node: Pick<LocalNode, 'binaries' | 'containerdAddress'>, log: (line: string) => void): Promise<void> {
  const target = { ctr: node.binaries.ctr, address: node.containerdAddress };
  const t0 = Date.now();
  const [project, demo] = [await projectImage(DEFAULT_IMAGES.operator), await demoGatherImage()];
  for (const img of [project, demo]) await loadImage(target, img.name, img.archive);
  log(`images loaded: ${project.name}, ${demo.name} (${Date.now() - t0} ms)`);
}

/** `image load NAME SOURCE`: into the running node's containerd. */
async function image(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'load') throw new UsageError(`unknown image subcommand "${verb ?? ''}" (expected: image load NAME SOURCE)`);
  const parsed = parseCommandArgs(rest, {}, HELP, true);
  if (!parsed) return 0;
  const [name, source, ...extra] = parsed.positionals;
  if (!name || !source || extra.length) throw new UsageError('expected: image load NAME SOURCE');
  const node = runningNode();
  if (!node) {
    console.error('no local node is running: start one with `npm run mustgather -- controlplane up --node`');
    return 1;
  }
  const loaded = await loadImage({ ctr: node.ctr, address: node.containerdAddress }, name, path.resolve(source));
  console.error(`loaded ${path.resolve(source)} as ${loaded}`);
  return 0;
}

/** Entry point of `mustgather controlplane ...`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'up':
      return up(rest);
    case 'serve':
      return serve(rest);
    case 'env': {
      if (parseCommandArgs(rest, {}, HELP) === undefined) return 0;
      const r = running();
      if (!r) {
        console.error('no control plane is running: start one with `mustgather controlplane up`');
        return 1;
      }
      printEnv(r);
      return 0;
    }
    case 'down': {
      if (parseCommandArgs(rest, {}, HELP) === undefined) return 0;
      const state = readState(runDir());
      if (state) {
        await stopControlPlaneInDir(runDir());
        console.error('control plane stopped and its state removed');
      } else {
        console.error('no control plane is running');
      }
      // A node outlives a killed owner (mounts, bridge, cgroups): remove what is left, whoever started it.
      if (nodeSupport() === undefined) {
        const left = await cleanUpNode();
        if (left.length) {
          console.error(`could not remove: ${left.join('; ')}`);
          return 1;
        }
      }
      return 0;
    }
    case 'image':
      return image(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(HELP);
      return sub === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown subcommand "${sub}" (expected up, down or env)`);
  }
}
