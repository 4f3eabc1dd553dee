/**
 * Starts and stops a local control plane: etcd, kube-apiserver (client-cert auth, RBAC, audit log) and optionally
 * kube-controller-manager, all on free loopback ports, with every file under one data dir.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { ensureBinaries, pinnedKubernetesVersion, repoRoot, type ControlPlaneBinaries } from './binaries.js';
import { checkFreeRange, nthAddress, parseCidr } from './host.js';
import { loadImage, pauseImage } from './images.js';
import { ensureNodeBinaries, nodeDir, startNode, type LocalNode, type NodeOptions } from './node.js';
import { LocalVolumeProvisioner } from './node-storage.js';
import { createControlPlanePki, issueClientCert, loadCA, PKI_FILES, type CertificateAuthority } from './pki.js';
import {
  cleanupLeftovers,
  cleanupStaleTmpDirs,
  freePorts,
  readState,
  Reaper,
  signalGroup,
  spawnLogged,
  STATE_FILE,
  tail,
  terminate,
  TMP_PREFIX,
  type RecordedProcess,
} from './processes.js';
import { KubeClient, type KubeObject } from '../kube/client.js';
import { EVENT_RECORDER_CLUSTER_ROLE_OBJECT } from '../constructs/report-identity.js';

/** Controllers kube-controller-manager runs by default: what tests need, and what is cheap without a kubelet. */
export const DEFAULT_CONTROLLERS = [
  'namespace-controller',
  'garbage-collector-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'legacy-serviceaccount-token-cleaner-controller',
  'deployment-controller',
  'replicaset-controller',
  'job-controller',
  'cronjob-controller',
  'ttl-after-finished-controller',
  'resourcequota-controller',
  'endpointslice-controller',
  // PVCs carry the kubernetes.io/pvc-protection finalizer: without this controller a namespace with a claim never goes.
  'persistentvolumeclaim-protection-controller',
] as const;

/** What real pods need on top of {@link DEFAULT_CONTROLLERS}: volume binding, node health (the not-ready taint), pod GC. */
export const NODE_CONTROLLERS = [
  'persistentvolume-binder-controller',
  'persistentvolume-protection-controller',
  'node-lifecycle-controller',
  'pod-garbage-collector-controller',
] as const;

/** The Service range by default: a /16, so thousands of reports' Services fit. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

/** Options for {@link startControlPlane}. */
export interface StartControlPlaneOptions {
  /** Data dir (created; must be empty or a previous control plane's). Default: a new dir in os.tmpdir(). Removed by stop(). */
  dataDir?: string;
  /** Install every CRD found in crdDir and wait until each is Established (default true). */
  installCrds?: boolean;
  /** Where CRDs are read from (default <repo>/deploy/crds; every *.yaml / *.yml, multi-document allowed). */
  crdDir?: string;
  /** Run kube-controller-manager: true (default, {@link DEFAULT_CONTROLLERS}), false, or an explicit --controllers list. */
  controllers?: boolean | string[];
  /** Binaries to use (default: {@link ensureBinaries}). */
  binaries?: ControlPlaneBinaries;
  /** Extra kube-apiserver flags (`--name=value`), appended last. */
  apiServerFlags?: string[];
  /** Extra kube-controller-manager flags, appended last. */
  controllerManagerFlags?: string[];
  /** Give up starting after this long (default 180 s). */
  startTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on stop (default 5 s). */
  stopGraceMs?: number;
  /** Keep the data dir on stop() (default false). */
  keepDataDir?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Install SIGINT/SIGTERM/SIGHUP handlers that stop the control plane (default true); an exit handler is always installed. */
  handleSignals?: boolean;
  /** The Service range, checked against the host's routes when a node runs (default {@link DEFAULT_SERVICE_CIDR}). */
  serviceCidr?: string;
  /**
   * Also run a real node (kubelet, containerd, runc, CNI; kube-scheduler and the controllers pods need): true or its
   * options. Linux and root only. Default false.
   */
  node?: boolean | NodeOptions;
}

/** A running control plane. */
export interface ControlPlane {
  /** Admin kubeconfig (client certificate in system:masters). */
  kubeconfigPath: string;
  /** API server URL, https://127.0.0.1:<port>. */
  server: string;
  /** Directory holding everything (pki/, logs/, etcd/, kubeconfigs, audit log); removed by stop(). */
  dataDir: string;
  /** kube-apiserver audit log (JSON lines, one event per request at Metadata level, written synchronously). */
  auditLogPath: string;
  /** Kubernetes version of the binaries (what /version reports). */
  version: string;
  /** Binaries in use. */
  binaries: ControlPlaneBinaries;
  /** A fresh admin KubeConfig. */
  kubeConfig(): KubeConfig;
  /** Mints a client certificate for a non-admin user; writes `<dataDir>/users/<name>.kubeconfig`. */
  mintUser(name: string, groups?: string[]): Promise<MintedUser>;
  /** Its processes (etcd, kube-apiserver, ...) by name and pid: what a benchmark reads their CPU use by. */
  readonly processes: readonly RecordedProcess[];
  /** The local node, when one was asked for. */
  node?: LocalNode;
  /** Stops every process (SIGTERM, then SIGKILL after the grace period) and removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

/** A user minted by {@link ControlPlane.mintUser} / {@link mintUserFromDir}. */
export interface MintedUser {
  /** Kubeconfig file for the user (certificate data embedded). */
  kubeconfigPath: string;
  /** The same, loaded. */
  readonly kubeConfig: KubeConfig;
}

const ADMIN_USER = 'mustgather-admin';
const CONTEXT = 'mustgather-controlplane';
const MARKER = '.mustgather-controlplane';

const running = new Set<RunningControlPlane>();
let handlersInstalled = false;

function installHandlers(handleSignals: boolean): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort, synchronous: kill everything and remove data dirs (the reaper does the same if we are SIGKILLed).
  process.on('exit', () => {
    for (const cp of running) cp.killNowSync();
  });
  if (!handleSignals) return;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      const others = process.listenerCount(sig) > 1;
      const stopping = Promise.allSettled([...running].map((cp) => cp.stop()));
      if (others) return; // someone else (e.g. vitest) decides when to exit; the exit handler finishes the job
      void stopping.finally(() => {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      });
    };
    process.on(sig, handler);
  }
}

function kubeconfigYaml(server: string, caPem: string, user: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT, cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) } }],
    contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user } }],
    'current-context': CONTEXT,
  });
}

/** Loads a kubeconfig file. */
export function loadKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

async function mintUserWith(ca: CertificateAuthority, dataDir: string, server: string, name: string, groups: string[]): Promise<MintedUser> {
  const { cert, key } = await issueClientCert(ca, name, groups);
  const dir = path.join(dataDir, 'users');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const suffix = groups.length ? '.' + safeName(groups.join('+')) : '';
  const kubeconfigPath = path.join(dir, `${safeName(name)}${suffix}.kubeconfig`);
  await writeFile(kubeconfigPath, kubeconfigYaml(server, ca.cert, name, cert, key), { mode: 0o600 });
  return { kubeconfigPath, kubeConfig: loadKubeConfig(kubeconfigPath) };
}

/**
 * Mints a non-admin client-certificate user for the control plane whose data dir is `dataDir` (e.g. the vitest
 * provided `controlPlaneDir`, from another process). Returns its kubeconfig path and KubeConfig.
 */
export async function mintUserFromDir(dataDir: string, name: string, groups: string[] = []): Promise<MintedUser> {
  if (!dataDir) throw new Error('mintUserFromDir: no control-plane dir (USE_EXISTING_CLUSTER=true has no CA to mint users with)');
  const state = readState(dataDir);
  if (!state || typeof state.server !== 'string') throw new Error(`mintUserFromDir: ${dataDir} holds no running control plane`);
  const ca = await loadCA(path.join(dataDir, 'pki'));
  return mintUserWith(ca, dataDir, state.server, name, groups);
}

function httpGet(url: string, tls?: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...(tls ?? {}), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

class StartupError extends Error {}

class RunningControlPlane implements ControlPlane {
  kubeconfigPath = '';
  server = '';
  auditLogPath: string;
  version = '';
  node: LocalNode | undefined;
  private readonly procs: { rec: RecordedProcess; child: ChildProcess; log: string }[] = [];
  get processes(): readonly RecordedProcess[] {
    return this.procs.map((p) => p.rec);
  }
  private reaper: Reaper | undefined;
  private provisioner: LocalVolumeProvisioner | undefined;
  private stopping: Promise<void> | undefined;
  private ca!: CertificateAuthority;
  private state: Record<string, unknown> = {};

  constructor(
    readonly dataDir: string,
    readonly binaries: ControlPlaneBinaries,
    private readonly opts: StartControlPlaneOptions,
  ) {
    this.auditLogPath = path.join(dataDir, 'audit.log');
  }

  private log(line: string): void {
    this.opts.log?.(`[controlplane] ${line}`);
  }

  private p(...parts: string[]): string {
    return path.join(this.dataDir, ...parts);
  }

  private writeState(extra: Record<string, unknown> = {}): void {
    this.state = { ...this.state, ...extra, ownerPid: process.pid, processes: this.procs.map((p) => p.rec) };
    writeFileSync(this.p(STATE_FILE), JSON.stringify(this.state, null, 2) + '\n');
  }

  private start(name: string, binary: string, args: string[]): ChildProcess {
    const log = this.p('logs', `${name}.log`);
    writeFileSync(log, `# ${binary} ${args.join(' ')}\n`, { flag: 'a' });
    const child = spawnLogged(binary, args, log);
    if (!child.pid) throw new StartupError(`could not start ${binary}`);
    const rec = { name, pid: child.pid, binary };
    this.procs.push({ rec, child, log });
    this.reaper?.add(child.pid);
    this.writeState();
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.log(`${name} exited unexpectedly (code ${code}, signal ${signal}); see ${log}`);
    });
    return child;
  }

  /** Throws with the log tail if a process already died. */
  private async checkAlive(): Promise<void> {
    for (const { rec, child, log } of this.procs) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new StartupError(`${rec.name} exited during start-up (code ${child.exitCode}, signal ${child.signalCode}); last lines of ${log}:\n${await tail(log)}`);
      }
    }
  }

  private async waitFor(what: string, deadline: number, probe: () => Promise<boolean>, logName?: string): Promise<void> {
    let lastErr = '';
    for (;;) {
      await this.checkAlive();
      try {
        if (await probe()) return;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      if (Date.now() > deadline) {
        const log = logName ? this.p('logs', `${logName}.log`) : '';
        throw new StartupError(
          `timed out waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}` + (log ? `; last lines of ${log}:\n${await tail(log)}` : ''),
        );
      }
      await sleep(200);
    }
  }

  async run(): Promise<void> {
    const t0 = Date.now();
    const deadline = t0 + (this.opts.startTimeoutMs ?? 180_000);
    const b = this.binaries;
    await mkdir(this.p('logs'), { recursive: true });
    writeFileSync(this.p(MARKER), '');
    this.reaper = new Reaper(this.opts.keepDataDir ? undefined : this.dataDir);
    this.version = pinnedVersionOr(b);
    this.writeState({ version: this.version, reaperPid: this.reaper.pid, startedAt: new Date().toISOString() });

    // PKI and kubeconfigs.
    const serviceCidr = parseCidr(this.opts.serviceCidr ?? DEFAULT_SERVICE_CIDR);
    const apiServiceIp = nthAddress(serviceCidr, 1);
    const withNode = !!this.opts.node;
    if (withNode) await checkFreeRange('Service range', serviceCidr, '');
    const pki = this.p('pki');
    this.ca = await createControlPlanePki(pki, [apiServiceIp]);
    const [etcdClient, etcdPeer, apiPort] = (await freePorts(3)) as [number, number, number];
    this.server = `https://127.0.0.1:${apiPort}`;
    const admin = await issueClientCert(this.ca, ADMIN_USER, ['system:masters']);
    this.kubeconfigPath = this.p('admin.kubeconfig');
    await writeFile(this.kubeconfigPath, kubeconfigYaml(this.server, this.ca.cert, ADMIN_USER, admin.cert, admin.key), { mode: 0o600 });
    this.writeState({ server: this.server, kubeconfigPath: this.kubeconfigPath, auditLogPath: this.auditLogPath });

    // etcd.
    const etcdURL = `http://127.0.0.1:${etcdClient}`;
    const peerURL = `http://127.0.0.1:${etcdPeer}`;
    this.start('etcd', b.etcd, [
      '--name=default',
      `--data-dir=${this.p('etcd')}`,
      `--listen-client-urls=${etcdURL}`,
      `--advertise-client-urls=${etcdURL}`,
      `--listen-peer-urls=${peerURL}`,
      `--initial-advertise-peer-urls=${peerURL}`,
      `--initial-cluster=default=${peerURL}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync=true', // throw-away data: skip fsync (much faster on slow disks)
      '--log-level=warn',
    ]);
    await this.waitFor('etcd /health', deadline, async () => (await httpGet(`${etcdURL}/health`)).status === 200, 'etcd');
    this.log(`etcd ready on ${etcdURL} (${Date.now() - t0} ms)`);

    // kube-apiserver.
    const policy = this.p('audit-policy.yaml');
    await writeFile(
      policy,
      YAML.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules: [{ level: 'Metadata' }] }),
    );
    const controllersOn = this.opts.controllers !== false && !!b.kubeControllerManager;
    const apiArgs = [
      `--etcd-servers=${etcdURL}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${path.join(pki, PKI_FILES.servingCert)}`,
      `--tls-private-key-file=${path.join(pki, PKI_FILES.servingKey)}`,
      `--client-ca-file=${path.join(pki, PKI_FILES.caCert)}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-issuer=${this.server}`,
      `--service-account-key-file=${path.join(pki, PKI_FILES.saPub)}`,
      `--service-account-signing-key-file=${path.join(pki, PKI_FILES.saKey)}`,
      `--service-cluster-ip-range=${serviceCidr.text}`,
      '--allow-privileged=true',
      // The kubernetes Service's endpoints would point at 127.0.0.1, which endpoint validation refuses (log spam).
      '--endpoint-reconciler-type=none',
      `--audit-policy-file=${policy}`,
      `--audit-log-path=${this.auditLogPath}`,
      '--audit-log-mode=blocking',
      '--audit-log-format=json',
      '--audit-log-maxbackup=0',
      '--profiling=false',
      // Without kube-controller-manager nobody creates the "default" ServiceAccount, so pods could never be admitted
      // (what envtest does); with it, keep the real admission chain.
      ...(controllersOn ? [] : ['--disable-admission-plugins=ServiceAccount']),
      ...(withNode ? await this.kubeletClientFlags(pki) : []),
      ...(this.opts.apiServerFlags ?? []),
    ];
    this.start('kube-apiserver', b.kubeApiserver, apiArgs);
    const tls: https.RequestOptions = { ca: this.ca.cert, cert: admin.cert, key: admin.key };
    await this.waitFor('kube-apiserver /readyz', deadline, async () => (await httpGet(`${this.server}/readyz`, tls)).status === 200, 'kube-apiserver');
    this.log(`kube-apiserver ready on ${this.server} (${Date.now() - t0} ms)`);
    const client = new KubeClient(loadKubeConfig(this.kubeconfigPath));

    // kube-controller-manager.
    if (controllersOn && b.kubeControllerManager) {
      const kcm = await issueClientCert(this.ca, 'system:kube-controller-manager');
      const kcmKubeconfig = this.p('controller-manager.kubeconfig');
      await writeFile(kcmKubeconfig, kubeconfigYaml(this.server, this.ca.cert, 'system:kube-controller-manager', kcm.cert, kcm.key), { mode: 0o600 });
      const controllers = Array.isArray(this.opts.controllers)
        ? this.opts.controllers
        : [...DEFAULT_CONTROLLERS, ...(withNode ? NODE_CONTROLLERS : [])];
      this.start('kube-controller-manager', b.kubeControllerManager, [
        `--kubeconfig=${kcmKubeconfig}`,
        '--secure-port=0', // no serving endpoint: nothing to authenticate, no port to allocate
        '--leader-elect=false',
        `--controllers=${controllers.join(',')}`,
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${path.join(pki, PKI_FILES.saKey)}`,
        `--root-ca-file=${path.join(pki, PKI_FILES.caCert)}`,
        `--cluster-signing-cert-file=${path.join(pki, PKI_FILES.caCert)}`,
        `--cluster-signing-key-file=${path.join(pki, PKI_FILES.caKey)}`,
        `--service-cluster-ip-range=${serviceCidr.text}`,
        '--profiling=false',
        // Claims bound by the node's provisioner are picked up on the volume's event; retries come sooner too.
        ...(withNode ? ['--pvclaimbinder-sync-period=5s'] : []),
        ...(this.opts.controllerManagerFlags ?? []),
      ]);
    }

    // CRDs.
    if (this.opts.installCrds !== false) {
      const crdDir = this.opts.crdDir ?? path.join(repoRoot(), 'deploy', 'crds');
      const names = await installCrds(client, crdDir, { overwrite: true, deadline, log: (l) => this.log(l) });
      if (names.length) this.log(`CRDs established: ${names.join(', ')} (${Date.now() - t0} ms)`);
      // What else of the install chart an operator run outside the cluster relies on: the ClusterRole its report
      // file servers are bound to (recording downloads as Events).
      await client.apply(structuredClone(EVENT_RECORDER_CLUSTER_ROLE_OBJECT) as unknown as KubeObject, { fieldManager: 'controlplane', force: true });
    }

    // The controller manager is up once the serviceaccount controller created default/default.
    if (controllersOn && b.kubeControllerManager) {
      await this.waitFor(
        'kube-controller-manager (ServiceAccount default/default)',
        deadline,
        async () => (await client.get({ kind: 'ServiceAccount', namespace: 'default', name: 'default' })) !== undefined,
        'kube-controller-manager',
      );
      this.log(`kube-controller-manager running (${Date.now() - t0} ms)`);
    }
    if (withNode) await this.startNodeAndScheduler(client, apiPort, apiServiceIp, deadline, t0);
    client.close();
    this.writeState({ ready: true, readyAfterMs: Date.now() - t0, node: this.node?.name });
  }

  /** kube-apiserver's side of the kubelet API: reach it by InternalIP, verify its certificate, authenticate as an admin. */
  private async kubeletClientFlags(pki: string): Promise<string[]> {
    // In system:masters, so the kubelet's webhook authorizer admits logs, exec and port-forward.
    const client = await issueClientCert(this.ca, 'kube-apiserver-kubelet-client', ['system:masters']);
    await writeFile(path.join(pki, 'kubelet-client.crt'), client.cert);
    await writeFile(path.join(pki, 'kubelet-client.key'), client.key, { mode: 0o600 });
    return [
      // Otherwise logs, exec and port-forward look the node's name up in DNS (the machine's resolver fails).
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-certificate-authority=${path.join(pki, PKI_FILES.caCert)}`,
      `--kubelet-client-certificate=${path.join(pki, 'kubelet-client.crt')}`,
      `--kubelet-client-key=${path.join(pki, 'kubelet-client.key')}`,
    ];
  }

  /** kube-scheduler, the node (containerd + kubelet), the volume provisioner; resolves once the Node is Ready. */
  private async startNodeAndScheduler(client: KubeClient, apiPort: number, apiServiceIp: string, deadline: number, t0: number): Promise<void> {
    const b = this.binaries;
    if (!b.kubelet || !b.kubeScheduler) throw new StartupError(`a node needs kubelet and kube-scheduler, which ${b.dir} does not hold`);
    const nodeOptions = typeof this.opts.node === 'object' ? this.opts.node : {};
    const log = (line: string) => this.opts.log?.(line);
    const building = Date.now();
    const [nodeBinaries, pause] = await Promise.all([ensureNodeBinaries(log), pauseImage()]);
    // On a fresh machine these are built first (containerd alone takes minutes): building is not starting, so it does
    // not use up the start timeout (a first `controlplane up --node` timed out waiting for containerd that way).
    deadline += Date.now() - building;

    const scheduler = await issueClientCert(this.ca, 'system:kube-scheduler');
    const schedulerKubeconfig = this.p('scheduler.kubeconfig');
    await writeFile(schedulerKubeconfig, kubeconfigYaml(this.server, this.ca.cert, 'system:kube-scheduler', scheduler.cert, scheduler.key), { mode: 0o600 });
    this.start('kube-scheduler', b.kubeScheduler, [`--kubeconfig=${schedulerKubeconfig}`, '--secure-port=0', '--leader-elect=false', '--profiling=false']);

    this.node = await startNode(
      {
        caCertFile: path.join(this.p('pki'), PKI_FILES.caCert),
        ca: this.ca,
        server: this.server,
        apiPort,
        apiServiceIp,
        kubeletBinary: b.kubelet,
        guard: (pid) => this.reaper?.add(pid),
        log,
      },
      nodeBinaries,
      { name: pause.name, load: (ctr, address) => loadImage({ ctr, address }, pause.name, pause.archive).then(() => undefined) },
      nodeOptions,
      deadline,
    );
    const name = this.node.name;
    await this.waitFor(`Node ${name} to be Ready`, deadline, async () => {
      const node = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/api/v1/nodes/${name}`);
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    });
    this.provisioner = new LocalVolumeProvisioner(new KubeClient(loadKubeConfig(this.kubeconfigPath)), {
      nodeName: name,
      dir: path.join(nodeDir(), 'volumes'),
      log,
    });
    await this.provisioner.start();
    this.log(`node ${name} Ready at ${this.node.address} (pods in ${this.node.podCidr}) (${Date.now() - t0} ms)`);
  }

  kubeConfig(): KubeConfig {
    return loadKubeConfig(this.kubeconfigPath);
  }

  mintUser(name: string, groups: string[] = []): Promise<MintedUser> {
    return mintUserWith(this.ca, this.dataDir, this.server, name, groups);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.provisioner?.stop();
      await this.node?.stop();
      await terminate(
        this.procs.map((p) => p.rec).reverse(),
        this.opts.stopGraceMs ?? 5_000,
      );
      if (!this.opts.keepDataDir) rmSync(this.dataDir, { recursive: true, force: true, maxRetries: 5 });
      this.reaper?.dismiss();
      running.delete(this);
    })();
    return this.stopping;
  }

  /** Synchronous last-resort cleanup for the process 'exit' event. */
  killNowSync(): void {
    for (const p of this.procs) signalGroup(p.rec.pid, 'SIGKILL');
    if (!this.opts.keepDataDir) {
      try {
        rmSync(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        /* the reaper retries */
      }
    }
  }
}

function pinnedVersionOr(b: ControlPlaneBinaries): string {
  if (b.source === 'build') return path.basename(b.dir);
  try {
    return pinnedKubernetesVersion();
  } catch {
    return 'unknown';
  }
}

/** Options for {@link installCrds}. */
export interface InstallCrdsOptions {
  /** Replace CRDs that already exist (server-side apply, forced). When false, existing CRDs are left untouched. */
  overwrite?: boolean;
  /** Epoch ms after which waiting for Established fails (default: 60 s from now). */
  deadline?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Creates every CustomResourceDefinition found in `*.yaml`/`*.yml` files of `dir` (multi-document files allowed) and
 * waits until each is Established. Returns the CRD names. A missing dir installs nothing.
 */
export async function installCrds(client: KubeClient, dir: string, opts: InstallCrdsOptions = {}): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const deadline = opts.deadline ?? Date.now() + 60_000;
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const crds: { name: string; file: string; obj: KubeObject }[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    const docs = YAML.parseAllDocuments(await readFile(file, 'utf8'));
    for (const doc of docs) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS();
      if (!obj || obj.kind !== 'CustomResourceDefinition') continue;
      crds.push({ name: obj.metadata?.name, file, obj });
    }
  }
  const ref = (name: string) => ({ kind: 'CustomResourceDefinition', name });
  for (const { name, file, obj } of crds) {
    if (!opts.overwrite && (await client.get(ref(name)))) continue;
    try {
      await client.apply(obj, { fieldManager: 'mustgather-controlplane', force: true });
    } catch (err) {
      throw new Error(`applying CRD ${name} from ${file} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  for (const { name } of crds) {
    for (;;) {
      const crd = await client.get<{ status?: { conditions?: { type: string; status: string; message?: string }[] } }>(ref(name));
      const conds = crd?.status?.conditions ?? [];
      if (conds.some((c) => c.type === 'Established' && c.status === 'True')) break;
      const bad = conds.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
      if (bad) throw new Error(`CRD ${name} not accepted: ${bad.message}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for CRD ${name} to be Established (${JSON.stringify(conds)})`);
      await sleep(100);
    }
    opts.log?.(`CRD ${name} established`);
  }
  return crds.map((c) => c.name);
}

/** Starts a control plane (see {@link StartControlPlaneOptions}); on failure everything started is stopped again. */
export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  installHandlers(opts.handleSignals !== false);
  await cleanupStaleTmpDirs();
  // Binaries first: a build can take many minutes, and nothing should exist on disk while it runs.
  const binaries = opts.binaries ?? (await ensureBinaries({ log: opts.log ?? ((l) => process.stderr.write(l + '\n')) }));
  let dataDir: string;
  if (opts.dataDir) {
    dataDir = path.resolve(opts.dataDir);
    if (existsSync(dataDir)) {
      const state = readState(dataDir);
      if (state && !(await cleanupLeftovers(dataDir))) {
        throw new Error(`a control plane owned by pid ${state.ownerPid} is already running in ${dataDir}`);
      }
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0 && !existsSync(path.join(dataDir, MARKER))) {
        throw new Error(`refusing to use non-empty ${dataDir} as control-plane data dir (stop() deletes it)`);
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } else {
    dataDir = await mkdtemp(path.join(os.tmpdir(), TMP_PREFIX));
  }
  const cp = new RunningControlPlane(dataDir, binaries, opts);
  running.add(cp);
  try {
    await cp.run();
  } catch (e) {
    const keep = opts.keepDataDir;
    await cp.stop().catch(() => undefined);
    const msg = (e as Error).message;
    throw new Error(`starting the control plane failed: ${msg}${keep ? ` (logs in ${dataDir}/logs)` : ''}`, { cause: e });
  }
  return cp;
}

/** Stops the control plane recorded in `dataDir` by another process (SIGTERM to its owner, then its processes). */
export async function stopControlPlaneInDir(dataDir: string, graceMs = 10_000): Promise<boolean> {
  const state = readState(dataDir);
  if (!state) return false;
  const { isAlive, waitGone } = await import('./processes.js');
  if (state.ownerPid !== process.pid && isAlive(state.ownerPid)) {
    try {
      process.kill(state.ownerPid, 'SIGTERM');
    } catch {
      /* gone */
    }
    if (!(await waitGone(state.ownerPid, graceMs))) {
      try {
        process.kill(state.ownerPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  await cleanupLeftovers(dataDir);
  return true;
}

/** Kubernetes version a fresh build would produce (from hack/controlplane/go.mod). */
export { pinnedKubernetesVersion };
