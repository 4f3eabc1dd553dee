/**
 * A real node beside the local control plane: containerd 2.x (built from its Go module by hack/node/build.sh) with
 * Debian's runc and CNI plugins, and a kubelet built from the same Kubernetes module as the control plane.
 *
 * Everything the node makes is the project's own and is removed again, also after a killed run: a data dir
 * ({@link nodeDir}) with containerd's root, state and socket, the kubelet's root and pod logs, and the volumes; a
 * bridge and a private /24 (node-network.ts); a cgroup subtree (`/mustgather-node` in every hierarchy); network
 * namespaces under containerd's state dir. One node at a time: the state file is created exclusively and names its
 * owner, so a second start refuses while the owner lives, and cleaning up after a dead owner never touches a live run.
 *
 * The registry is sealed: containerd's default host for every registry is a closed loopback port, so a pull never
 * leaves the machine and an image that was not loaded fails to pull for real (ErrImagePull). Images come in through
 * `loadImage` (controlplane/images.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import YAML from 'yaml';
import { repoRoot } from './binaries.js';
import { runBuildScript } from './build-script.js';
import { cgroupHierarchies, checkFreeRange, mountsBelow, nodeSupport, parseCidr, pidsInCgroup, removeCgroup, sh, unmountBelow, type Cidr } from './host.js';
import { bridgeAddress, networkLeftovers, removeKubeletChains, setUpNetwork, tearDownNetwork, writeCniConfig } from './node-network.js';
import { issueClientCert, issueServingCertFor, type CertificateAuthority } from './pki.js';
import { freePorts, isAlive, runsBinary, signalGroup, spawnLogged, tail, terminate, type RecordedProcess } from './processes.js';

/** Defaults of {@link NodeOptions}. */
export const NODE_DEFAULTS = {
  name: 'mustgather-node',
  bridge: 'mustgather0',
  podCidr: '10.244.250.0/24',
  cgroupRoot: '/mustgather-node',
} as const;

const DEFAULT_NODE_DIR = '/var/lib/mustgather/node';

/** The one local node's data dir: `$MUSTGATHER_NODE_DIR`, default /var/lib/mustgather/node. */
export function nodeDir(): string {
  return process.env.MUSTGATHER_NODE_DIR || DEFAULT_NODE_DIR;
}

/** Options of a local node. */
export interface NodeOptions {
  /** The Node's name. @default NODE_DEFAULTS.name */
  readonly name?: string;
  /** The bridge's name. @default NODE_DEFAULTS.bridge */
  readonly bridge?: string;
  /** The pods' range, checked against the host's routes. @default NODE_DEFAULTS.podCidr */
  readonly podCidr?: string;
}

/** What the node needs from its control plane. */
export interface NodeControlPlane {
  readonly caCertFile: string;
  readonly ca: CertificateAuthority;
  readonly server: string;
  readonly apiPort: number;
  /** First address of the Service range: where pods reach the API server. */
  readonly apiServiceIp: string;
  readonly kubeletBinary: string;
  /** Registers a process with the control plane's reaper (killed if the owner dies). */
  readonly guard: (pid: number) => void;
  readonly log: (line: string) => void;
}

/** containerd binaries (hack/node/build.sh) and the host's runc and CNI plugins. */
export interface NodeBinaries {
  readonly containerd: string;
  readonly shim: string;
  readonly ctr: string;
  readonly runc: string;
  readonly cniDir: string;
}

const STATE = 'node.json';

interface NodeState {
  ownerPid: number;
  bridge: string;
  cgroupRoot: string;
  containerdAddress: string;
  /** The ctr binary that talks to it (for `controlplane image load` from another process). */
  ctr: string;
  processes: RecordedProcess[];
  ready?: boolean;
}

/** Debian packages the node uses from the host, installed on first use (root). */
const PACKAGES = { runc: '/usr/sbin/runc', 'containernetworking-plugins': '/usr/lib/cni/bridge', iptables: '/usr/sbin/iptables' } as const;

/** Builds or reuses containerd, and installs runc, the CNI plugins and iptables from Debian's packages if missing. */
export async function ensureNodeBinaries(log: (line: string) => void): Promise<NodeBinaries> {
  const missing = Object.entries(PACKAGES).filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
  if (missing.length > 0) {
    log(`[node] installing ${missing.join(', ')} from Debian's packages`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await sh('apt-get', ['update', '-q'], { env });
    await sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
  }
  const dir = await runBuildScript(path.join(repoRoot(), 'hack', 'node', 'build.sh'), 'containerd', log);
  return {
    containerd: path.join(dir, 'containerd'),
    shim: path.join(dir, 'containerd-shim-runc-v2'),
    ctr: path.join(dir, 'ctr'),
    runc: PACKAGES.runc,
    cniDir: path.dirname(PACKAGES['containernetworking-plugins']),
  };
}

/** A running local node. */
export interface LocalNode {
  readonly name: string;
  /** containerd's socket (for `ctr --address`). */
  readonly containerdAddress: string;
  readonly binaries: NodeBinaries;
  /** The bridge's address: the Node's InternalIP. */
  readonly address: string;
  readonly podCidr: string;
  /** Stops the kubelet and containerd and removes everything the node made. */
  stop(): Promise<void>;
}

function readNodeState(dir: string): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, STATE), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

/** The running local node's containerd (from another process), or undefined when none runs. */
export function runningNode(dir = nodeDir()): { ctr: string; containerdAddress: string } | undefined {
  const state = readNodeState(dir);
  if (!state?.ready || !isAlive(state.ownerPid)) return undefined;
  return { ctr: state.ctr, containerdAddress: state.containerdAddress };
}

/**
 * Takes the node's lock: creates the state file exclusively. A state file whose owner is dead is a killed run's:
 * its leftovers are removed first. Throws when a live process owns the node.
 */
async function acquire(dir: string, state: NodeState, log: (l: string) => void): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      const fd = openSync(path.join(dir, STATE), 'wx', 0o600);
      writeFileSync(fd, JSON.stringify(state, null, 2) + '\n');
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const other = readNodeState(dir);
    if (other && other.ownerPid !== process.pid && isAlive(other.ownerPid)) {
      throw new Error(`a local node is already running (owned by pid ${other.ownerPid}, data in ${dir}); stop it first: npm run mustgather -- controlplane down`);
    }
    log(`[node] cleaning up what a stopped run left in ${dir}`);
    await cleanUpNode(dir);
  }
  throw new Error(`cannot take the local node's lock in ${dir}`);
}

/**
 * Removes everything a node made, whether it stopped cleanly or was killed: processes (kubelet, containerd, the
 * shims and every pod process in the node's cgroups), mounts, cgroups, the network, containerd's netns mounts and the
 * data dir. Refuses while a live process owns the node. Returns what could not be removed (empty when clean).
 */
export async function cleanUpNode(dir = nodeDir(), opts: { force?: boolean } = {}): Promise<string[]> {
  const state = readNodeState(dir);
  if (state && !opts.force && state.ownerPid !== process.pid && isAlive(state.ownerPid)) {
    throw new Error(`the local node in ${dir} is owned by live pid ${state.ownerPid}: stop that run instead`);
  }
  const bridge = state?.bridge ?? NODE_DEFAULTS.bridge;
  const cgroupRoot = state?.cgroupRoot ?? NODE_DEFAULTS.cgroupRoot;
  if (state) await terminate(state.processes.filter((p) => runsBinary(p.pid, p.binary)), 5_000);
  // Pods and shims: shims leave containerd's process group by design, pods live in the node's cgroups.
  const address = state?.containerdAddress ?? path.join(dir, 'containerd', 'containerd.sock');
  for (let round = 0; round < 20; round++) {
    const live = shims(address);
    const pids = [...pidsInCgroup(cgroupRoot), ...live.map((s) => s.pid)];
    if (pids.length === 0) break;
    for (const pid of pids) signalGroup(pid, 'SIGKILL');
    // A killed shim leaves its socket in containerd's fixed socket dir; its name is a hash of what it served.
    for (const shim of live) rmSync(shim.socket, { force: true });
    await sleep(100);
  }
  removeEmptyDirs(['/run/containerd/s', '/run/containerd/fifo', '/run/containerd']);
  await unmountBelow(dir);
  removeCgroup(cgroupRoot);
  await tearDownNetwork(bridge);
  if (!kubeletRunning()) await removeKubeletChains();
  removeContainerLogLinks(dir);
  removeCniResults(dir);
  removeEmptyDirs(['/var/lib/cni/results', '/var/lib/cni']);
  if (dir === DEFAULT_NODE_DIR) removeEmptyDirs([path.dirname(dir)]);
  const left = await nodeLeftovers(dir, { bridge, cgroupRoot, address });
  if (mountsBelow(dir).length === 0) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  return left;
}

/** What of a node is still on the machine: processes, mounts, cgroups, network. Empty when nothing is. */
export async function nodeLeftovers(
  dir = nodeDir(),
  where: { bridge: string; cgroupRoot: string; address: string } = {
    bridge: NODE_DEFAULTS.bridge,
    cgroupRoot: NODE_DEFAULTS.cgroupRoot,
    address: path.join(nodeDir(), 'containerd', 'containerd.sock'),
  },
): Promise<string[]> {
  const left: string[] = [];
  for (const m of mountsBelow(dir)) left.push(`mount ${m}`);
  const pids = pidsInCgroup(where.cgroupRoot);
  if (pids.length) left.push(`processes in cgroup ${where.cgroupRoot}: ${pids.join(', ')}`);
  const leftShims = shims(where.address);
  if (leftShims.length) left.push(`containerd shims: ${leftShims.map((s) => s.pid).join(', ')}`);
  if (!removeCgroup(where.cgroupRoot)) left.push(`cgroup ${where.cgroupRoot}`);
  left.push(...(await networkLeftovers(where.bridge)));
  return left;
}

/**
 * libcni caches each attachment's result under /var/lib/cni/results (a fixed path), named after the network
 * (`mustgather-...`, or containerd's `cni-loopback-<sandbox id>-lo`): remove ours, found by our sandboxes' ids.
 */
function removeCniResults(nodeData: string): void {
  const results = '/var/lib/cni/results';
  let sandboxes: string[] = [];
  try {
    sandboxes = readdirSync(path.join(nodeData, 'containerd', 'runc', 'k8s.io'));
  } catch {
    /* none ran */
  }
  try {
    for (const e of readdirSync(results)) {
      if (e.startsWith('mustgather-') || sandboxes.some((id) => e.includes(id))) rmSync(path.join(results, e), { force: true });
    }
  } catch {
    /* none */
  }
}

/** Command lines of the machine's processes, by pid. */
function processes(): { pid: number; argv: string[] }[] {
  const out: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      out.push({ pid: Number(entry), argv: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0') });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Whether any kubelet runs on the machine (ours are stopped before this is asked). */
function kubeletRunning(): boolean {
  return processes().some((p) => path.basename(p.argv[0] ?? '') === 'kubelet');
}

/**
 * Shim processes serving the containerd at `address` (they name it in their arguments), and their sockets: containerd
 * puts them in /run/containerd/s whatever its state dir, named sha256(address/namespace/id).
 */
function shims(address: string): { pid: number; socket: string }[] {
  const arg = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1] ?? '';
  return processes()
    .filter((p) => p.argv[0]?.endsWith('containerd-shim-runc-v2') && p.argv.includes(address))
    .map((p) => ({
      pid: p.pid,
      socket: path.join('/run/containerd/s', createHash('sha256').update(path.join(address, arg(p.argv, '-namespace'), arg(p.argv, '-id'))).digest('hex')),
    }));
}

/** Removes each directory that is empty (the fixed paths containerd makes, once nothing of ours is in them). */
function removeEmptyDirs(dirs: string[]): void {
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      /* not empty, or gone */
    }
  }
}

/** The kubelet links every container log into /var/log/containers (a fixed path): remove the links into `dir`. */
function removeContainerLogLinks(dir: string): void {
  const links = '/var/log/containers';
  let entries: string[] = [];
  try {
    entries = readdirSync(links);
  } catch {
    return;
  }
  for (const e of entries) {
    try {
      if (readlinkSync(path.join(links, e)).startsWith(dir + '/')) unlinkSync(path.join(links, e));
    } catch {
      /* not a link */
    }
  }
}

function containerdConfig(dir: string, b: NodeBinaries, pauseImage: string): string {
  const c = (p: string) => JSON.stringify(path.join(dir, 'containerd', p));
  return `# The local node's containerd: every path its own, registry sealed (see certs.d/_default/hosts.toml).
version = 3
root = ${c('root')}
state = ${c('state')}

[grpc]
  address = ${c('containerd.sock')}
[ttrpc]
  address = ${c('containerd.sock.ttrpc')}
[debug]
  level = "warn"

[plugins.'io.containerd.internal.v1.opt']
  path = ${c('opt')}
[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.runtime']
  # The VM withholds CAP_SYS_RESOURCE: without this the sandbox asks for oom_score_adj -998 and runc fails.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  # Network namespaces under our state dir, so a clean-up finds exactly ours.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${JSON.stringify(b.runc)}
        # runc's state under ours, not in the fixed /run/containerd/runc.
        Root = ${c('runc')}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${JSON.stringify(b.cniDir)}]
    conf_dir = ${JSON.stringify(path.join(dir, 'cni', 'net.d'))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${JSON.stringify(pauseImage)}
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = ${c('certs.d')}

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/** Every registry's only host is a closed loopback port: pulls fail at once and never leave the machine. */
const SEALED_REGISTRY = `# Sealed: nothing listens on 127.0.0.1:1, so every pull fails with "connection refused".
server = "https://127.0.0.1:1"
[host."https://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
`;

/** A running node's processes and settings; created by {@link startNode}. */
class RunningNode implements LocalNode {
  readonly containerdAddress: string;
  readonly address: string;
  private readonly procs: { rec: RecordedProcess; child: ChildProcess; log: string }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly binaries: NodeBinaries,
    private readonly cp: NodeControlPlane,
    private readonly state: NodeState,
    readonly podCidr: string,
    cidr: Cidr,
  ) {
    this.containerdAddress = state.containerdAddress;
    this.address = bridgeAddress({ podCidr: cidr });
  }

  private p(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  saveState(extra: Partial<NodeState> = {}): void {
    Object.assign(this.state, extra, { processes: this.procs.map((p) => p.rec) });
    writeFileSync(this.p(STATE), JSON.stringify(this.state, null, 2) + '\n');
  }

  start(name: string, binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const log = this.p('logs', `${name}.log`);
    writeFileSync(log, `# ${binary} ${args.join(' ')}\n`, { flag: 'a' });
    const child = spawnLogged(binary, args, log, env);
    if (!child.pid) throw new Error(`could not start ${binary}`);
    this.procs.push({ rec: { name, pid: child.pid, binary }, child, log });
    this.cp.guard(child.pid);
    this.saveState();
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.cp.log(`[node] ${name} exited unexpectedly (code ${code}, signal ${signal}); see ${log}`);
    });
    return child;
  }

  async waitFor(what: string, deadline: number, probe: () => Promise<boolean> | boolean): Promise<void> {
    for (;;) {
      for (const { rec, child, log } of this.procs) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${rec.name} exited while the node started (code ${child.exitCode}); last lines of ${log}:\n${await tail(log)}`);
        }
      }
      try {
        if (await probe()) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // The kubelet first (it would restart what we kill), then containerd, then everything they left.
      await terminate(this.procs.filter((p) => p.rec.name === 'kubelet').map((p) => p.rec), 10_000);
      await terminate(this.procs.map((p) => p.rec), 5_000);
      const left = await cleanUpNode(this.dir, { force: true });
      if (left.length) this.cp.log(`[node] left behind: ${left.join('; ')}`);
    })();
    return this.stopping;
  }
}

/** Starts containerd and the kubelet, and resolves once the Node is Ready. */
export async function startNode(
  cp: NodeControlPlane,
  binaries: NodeBinaries,
  pauseImage: { name: string; load: (ctr: string, address: string) => Promise<void> },
  opts: NodeOptions = {},
  deadline = Date.now() + 120_000,
): Promise<LocalNode> {
  const why = nodeSupport();
  if (why) throw new Error(why);
  const name = opts.name ?? NODE_DEFAULTS.name;
  const bridge = opts.bridge ?? NODE_DEFAULTS.bridge;
  const cidr = parseCidr(opts.podCidr ?? NODE_DEFAULTS.podCidr);
  if (cidr.prefix < 16 || cidr.prefix > 28) throw new Error(`pod range ${cidr.text}: use a prefix between /16 and /28`);
  const dir = nodeDir();
  const state: NodeState = {
    ownerPid: process.pid,
    bridge,
    cgroupRoot: NODE_DEFAULTS.cgroupRoot,
    containerdAddress: path.join(dir, 'containerd', 'containerd.sock'),
    ctr: binaries.ctr,
    processes: [],
  };
  await acquire(dir, state, cp.log);
  const node = new RunningNode(name, dir, binaries, cp, state, cidr.text, cidr);
  try {
    await checkFreeRange('pod range', cidr, bridge);
    for (const sub of ['logs', 'containerd/certs.d/_default', 'cni/net.d', 'cni/ipam', 'kubelet', 'pod-logs', 'volumes', 'pki']) {
      await mkdir(path.join(dir, sub), { recursive: true });
    }
    const network = { bridge, podCidr: cidr, apiServiceIp: cp.apiServiceIp, apiPort: cp.apiPort };
    await setUpNetwork(network);
    await writeCniConfig(path.join(dir, 'cni', 'net.d', '10-mustgather.conflist'), network, path.join(dir, 'cni', 'ipam'));

    // containerd.
    await writeFile(path.join(dir, 'containerd', 'config.toml'), containerdConfig(dir, binaries, pauseImage.name));
    await writeFile(path.join(dir, 'containerd', 'certs.d', '_default', 'hosts.toml'), SEALED_REGISTRY);
    const env = { ...process.env, PATH: `${path.dirname(binaries.shim)}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    node.start('containerd', binaries.containerd, ['--config', path.join(dir, 'containerd', 'config.toml')], env);
    await node.waitFor('containerd', deadline, () => existsSync(state.containerdAddress));
    await pauseImage.load(binaries.ctr, state.containerdAddress);

    // The kubelet: its own cgroup subtree, certificates from the control plane's CA, webhook authn/authz.
    for (const h of cgroupHierarchies()) mkdirSync(path.join(h, state.cgroupRoot), { recursive: true });
    const address = node.address;
    const serving = await issueServingCertFor(cp.ca, name, [address]);
    const client = await issueClientCert(cp.ca, `system:node:${name}`, ['system:nodes']);
    const pki = (f: string) => path.join(dir, 'pki', f);
    await writeFile(pki('kubelet.crt'), serving.cert);
    await writeFile(pki('kubelet.key'), serving.key, { mode: 0o600 });
    await writeFile(pki('kubelet-client.crt'), client.cert);
    await writeFile(pki('kubelet-client.key'), client.key, { mode: 0o600 });
    await writeFile(pki('ca.crt'), readFileSync(cp.caCertFile));
    const kubeconfig = path.join(dir, 'kubelet.kubeconfig');
    await writeFile(kubeconfig, YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: cp.server, 'certificate-authority': pki('ca.crt') } }],
      users: [{ name: 'kubelet', user: { 'client-certificate': pki('kubelet-client.crt'), 'client-key': pki('kubelet-client.key') } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'kubelet' } }],
      'current-context': 'local',
    }), { mode: 0o600 });
    // Pods get no DNS server of the host's: they only talk to the API server, by its address.
    await writeFile(path.join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions ndots:1\n');
    const [kubeletPort, healthzPort] = (await freePorts(2)) as [number, number];
    const config = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address,
      port: kubeletPort,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki('ca.crt') } },
      authorization: { mode: 'Webhook' },
      tlsCertFile: pki('kubelet.crt'),
      tlsPrivateKeyFile: pki('kubelet.key'),
      containerRuntimeEndpoint: `unix://${state.containerdAddress}`,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: state.cgroupRoot,
      // This VM has cgroup v1 (its own cgroups hold the v1 hierarchies); 1.36 refuses v1 unless told otherwise.
      failCgroupV1: false,
      failSwapOn: false,
      resolvConf: path.join(dir, 'resolv.conf'),
      podLogsDir: path.join(dir, 'pod-logs'),
      volumePluginDir: path.join(dir, 'kubelet', 'volume-plugins'),
      // The disk is shared with the machine: evict only when it is really full, never collect our loaded images.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      clusterDomain: 'cluster.local',
      rotateCertificates: false,
      serverTLSBootstrap: false,
      shutdownGracePeriod: '0s',
      nodeStatusUpdateFrequency: '5s',
      syncFrequency: '10s',
    };
    await writeFile(path.join(dir, 'kubelet.yaml'), YAML.stringify(config));
    node.start('kubelet', cp.kubeletBinary, [
      `--config=${path.join(dir, 'kubelet.yaml')}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${path.join(dir, 'kubelet')}`,
      `--hostname-override=${name}`,
      `--node-ip=${address}`,
      '--v=1',
    ], env);
    node.saveState({ ready: true });
    return node;
  } catch (err) {
    await node.stop().catch(() => undefined);
    throw err;
  }
}
