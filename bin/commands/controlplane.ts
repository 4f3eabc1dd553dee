/**
 * `mustgather controlplane up|down|env`: a local etcd + kube-apiserver + kube-controller-manager for development,
 * run in the background (a detached `mustgather controlplane serve`), state under <cache>/run/controlplane.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot, ensureBinaries } from '../../controlplane/binaries.js';
import { startControlPlane, stopControlPlaneInDir } from '../../controlplane/controlplane.js';
import { isAlive, readState, tail } from '../../controlplane/processes.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather controlplane <up|down|env> [options]

A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager; no kubelet, so pods stay
Pending) with the CRDs of deploy/crds installed. Binaries come from KUBEBUILDER_ASSETS or are built once from Go
modules (hack/controlplane/build.sh) into ${'$'}{MUSTGATHER_CACHE:-~/.cache/mustgather}/controlplane/.

  up     start it in the background, wait until ready, print "export KUBECONFIG=..."
           --no-controllers   do not run kube-controller-manager
           --no-crds          do not install CRDs
           --crd-dir DIR      install the CRDs of DIR instead of deploy/crds
           --timeout SECONDS  give up waiting after this long (default 600, building included)
  env    print "export KUBECONFIG=..." for the running one (exit 1 if none)
  down   stop it and remove its state

  eval "$(mustgather controlplane up)" && kubectl get ns`;

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

function running(): Running | undefined {
  const state = readState(runDir());
  if (!state || state.ready !== true || !isAlive(state.ownerPid)) return undefined;
  return { kubeconfigPath: String(state.kubeconfigPath), server: String(state.server), ownerPid: state.ownerPid };
}

function printEnv(r: Running): void {
  process.stdout.write(`export KUBECONFIG=${shellQuote(r.kubeconfigPath)}\n`);
}

async function up(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      'no-controllers': { type: 'boolean', default: false },
      'no-crds': { type: 'boolean', default: false },
      'crd-dir': { type: 'string' },
      timeout: { type: 'string', default: '600' },
    },
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
  // A crashed previous run: clean it up first.
  await stopControlPlaneInDir(runDir());

  // Build (or locate) the binaries in the foreground, so progress shows here.
  const bins = await ensureBinaries();
  mkdirSync(path.dirname(runDir()), { recursive: true });
  const serveArgs = ['serve'];
  if (values['no-controllers']) serveArgs.push('--no-controllers');
  if (values['no-crds']) serveArgs.push('--no-crds');
  if (values['crd-dir']) serveArgs.push('--crd-dir', path.resolve(values['crd-dir']));
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
    { 'no-controllers': { type: 'boolean', default: false }, 'no-crds': { type: 'boolean', default: false }, 'crd-dir': { type: 'string' } },
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
    handleSignals: false,
    log,
  });
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
      if (!state) {
        console.error('no control plane is running');
        return 0;
      }
      await stopControlPlaneInDir(runDir());
      console.error('control plane stopped and its state removed');
      return 0;
    }
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
