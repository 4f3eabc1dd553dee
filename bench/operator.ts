/**
 * `npm run bench:operator`: the operator at scale, on the embedded control plane (kube-apiserver, etcd,
 * kube-controller-manager; no node, so report pods stay Pending, which is what is measured), running the COMPILED
 * operator (`npm run build`, then `node dist/bin/mustgather.js run`) as its own process with its own least-privilege
 * user (minted from the control plane's CA, bound to exactly the install chart's ClusterRole). Measured in one run:
 *
 *  1. fleet: N reports (BENCH_REPORTS, default 1000) created at once (CREATE_CONCURRENCY in flight) until every
 *     report's pod exists, against a bare loop that renders N other reports' charts with the project's renderer
 *     exactly as the operator does for a fresh report (serving certificate from a CA, the cluster's client CA, the
 *     chart once and its runtime Secrets alone) and writes each object as the operator writes a new one (server-side
 *     applied, the pod created) in the operator's order (reportStages), with the operator's --concurrency reports at
 *     a time;
 *  2. creation -> pod latency on an idle operator: reports created one at a time after the fleet settled;
 *  3. API requests per report until its pod exists, by verb, from the API server's audit log (the operator's user):
 *     for the fleet, every request the operator made from the first creation until the last pod existed, over N
 *     (so it includes the status writes of reports whose pod already existed: at scale, everything counts); on the
 *     idle operator, exactly one report's requests from its creation until its pod existed (median);
 *  4. writes after every report was re-reconciled with nothing changed: the operator restarted, resyncing everything;
 *  5. the operator's peak RSS (VmHWM of its process).
 *
 * The bare loop runs in two halves of N/2 reports against the same API server, one before the operator starts and
 * one after it stopped, and its time is their sum: a machine that gets faster or slower during the run (this one's
 * speed drifts by 20% within minutes), and the cluster's growth (some of the API server's costs grow with it), then
 * weigh on both sides alike. It runs as a user with the operator's rights (BARE_USER), so the API server authorizes
 * its requests as it does the operator's. The operator never sees its reports (it watches the fleet's namespaces
 * only) nor their objects (labelled as the loop's own, BARE_MANAGED_BY). The bare loop does not wait for the gather
 * token to be issued before the pod (the operator does, so the kubelet does not stall on a missing key): that wait is
 * the operator's cost and counts.
 * Every figure prints with its target and PASS or MISS; the exit code is 0 either way (a benchmark, not a test).
 * --start-timeout 0: no report ends StartTimedOut while the bench runs (pods never start here); no fleet limits.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane } from '../controlplane/index.js';
import { renderInstall, renderReport, type RenderReportOptions } from '../constructs/render.js';
import { OPERATOR_NAME } from '../constructs/install-chart.js';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport, resolveSpec } from '../constructs/report-api.js';
import { LABELS, MANAGED_BY, reportObjectNames, serviceHostnames } from '../constructs/report-identity.js';
import { DEFAULT_IMAGES, OPERATOR_NODE_OPTIONS } from '../constructs/operator-config.js';
import { DEFAULT_DOWNLOAD_ACCESS } from '../constructs/pod-contract.js';
import { gatherTokenSeconds, requestGatherToken } from '../reconciler/gather-token.js';
import { KubeClient, type KubeObject } from '../kube/client.js';
import { CLIENT_CA_SOURCE } from '../reconciler/reconcile.js';
import { RESOURCES } from '../kube/resources.js';
import { reportStages } from '../reconciler/report-stages.js';
import { applyObject } from '../reconciler/apply.js';
import { createServingCa, issueServingCertificate } from '../reconciler/serving-ca.js';

const REPORTS = Number(process.env.BENCH_REPORTS ?? 1000);
/** The operator's --concurrency, and the bare loop's reports in flight. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
/** Report creations in flight (the clients creating the fleet). */
const CREATE_CONCURRENCY = 8;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 50);
const OPERATOR_USER = 'mustgather-operator-bench';
/**
 * The bare loop's user, with the operator's rights: the API server authorizes its requests as it does the operator's
 * (for a user without system:masters it walks the ClusterRoleBindings, two per report), so that the loop measures
 * the API server's speed for such a client, not a superuser's.
 */
const BARE_USER = 'mustgather-bareloop-bench';
const IMAGES = ['quay.io/a/must-gather:v1'];
/** The managed-by label of the bare loop's objects: as long as the operator's, so its requests are the same size. */
const BARE_MANAGED_BY = 'mustgather-bareloop';
/** The namespaces of the operator's reports (it is told to watch only these) and of the bare loop's. */
const NAMESPACES = { fleet: 'bench-fleet', idle: 'bench-idle', bare: 'bench-bare' } as const;
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** The operator counts as settled once its audit log shows no request for this long (and its queue is empty). */
const QUIET_MS = 3_000;

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`);

// ---------- the audit log, read incrementally ----------

interface Request {
  at: number;
  /** When the server finished it (stageTimestamp of ResponseComplete; for a watch, when its response started). */
  done: number;
  verb: string;
  /** `verb resource[/subresource]`. */
  what: string;
}

/**
 * The operator user's requests from the audit log, read from where the last read stopped (the log can be GBs). The
 * API server rotates it at 100 MB (lumberjack's default size; the old file is renamed): the open descriptor is read
 * to its end, then the new file from its start.
 */
class AuditTail {
  private file: FileHandle | undefined;
  private inode = 0;
  private offset = 0;
  private partial = '';
  /** Every request of the user so far: watches once (ResponseStarted), the rest once (ResponseComplete). */
  readonly requests: Request[] = [];
  private readonly needle: string;
  private readonly buffer = Buffer.alloc(8 * 1024 * 1024);

  constructor(private readonly path: string, username: string) {
    this.needle = `"username":"${username}"`;
  }

  async read(): Promise<void> {
    for (;;) {
      if (!this.file) {
        this.file = await open(this.path, 'r').catch(() => undefined);
        if (!this.file) return;
        this.inode = (await this.file.stat()).ino;
        this.offset = 0;
        this.partial = '';
      }
      await this.drain(this.file);
      const current = await stat(this.path).catch(() => undefined);
      if (!current || current.ino === this.inode) return;
      // Rotated: what was written to the old file before the rename is read now; then the new file.
      await this.drain(this.file);
      await this.file.close();
      this.file = undefined;
    }
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }

  private async drain(file: FileHandle): Promise<void> {
    for (;;) {
      const { bytesRead } = await file.read(this.buffer, 0, this.buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const lines = (this.partial + this.buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) {
        if (!line.includes(this.needle)) continue;
        const event = JSON.parse(line) as { verb: string; stage: string; requestReceivedTimestamp: string; stageTimestamp: string; objectRef?: { resource?: string; subresource?: string } };
        const once = event.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete';
        if (event.stage !== once) continue;
        const resource = `${event.objectRef?.resource ?? '?'}${event.objectRef?.subresource ? `/${event.objectRef.subresource}` : ''}`;
        this.requests.push({ at: Date.parse(event.requestReceivedTimestamp), done: Date.parse(event.stageTimestamp), verb: event.verb, what: `${event.verb} ${resource}` });
      }
    }
  }

  /**
   * What happened in [from, to) as a timeline: each request's offset from `from` and how long the server took with
   * it (`+12..+20 patch mustgatherreports`), to see which round trips a latency is made of.
   */
  timeline(from: number, to: number): string {
    return this.requests.filter((r) => r.at >= from && r.at < to)
      .map((r) => `+${r.at - from}..+${r.done - from} ${r.what}`).join(', ');
  }

  /** Requests received in [from, to), by verb (or by `verb resource`). */
  between(from: number, to: number, by: 'verb' | 'what' = 'verb'): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.requests) if (r.at >= from && r.at < to) counts[r[by]] = (counts[r[by]] ?? 0) + 1;
    return counts;
  }
}

const total = (byVerb: Record<string, number>) => Object.values(byVerb).reduce((sum, n) => sum + n, 0);
const writes = (byVerb: Record<string, number>) => Object.entries(byVerb).filter(([verb]) => WRITE_VERBS.has(verb)).reduce((sum, [, n]) => sum + n, 0);
const perReport = (byVerb: Record<string, number>, n: number) =>
  Object.entries(byVerb).sort(([a], [b]) => a.localeCompare(b)).map(([verb, count]) => `${verb} ${(count / n).toFixed(1)}`).join(', ');

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

// ---------- pods, as a watch sees them ----------

class StallError extends Error {}

/** When each report namespace's pod was first seen (admin watch of every managed pod, re-listed on every end). */
/** The fleet's pods and the bare loop's. */
const PODS_SELECTOR = `${LABELS.managedBy} in (${MANAGED_BY},${BARE_MANAGED_BY})`;

class PodWatch {
  readonly seen = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly client: KubeClient) {}

  start(): Promise<void> {
    let synced!: () => void;
    const ready = new Promise<void>((resolve) => (synced = resolve));
    this.running = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          const list = await this.client.list(RESOURCES.Pod, { labelSelector: PODS_SELECTOR });
          for (const pod of list.items) this.record(pod.metadata.namespace!);
          synced();
          await this.client.watch(RESOURCES.Pod, { labelSelector: PODS_SELECTOR, resourceVersion: list.resourceVersion, timeoutSeconds: 600, signal: this.abort.signal }, (event) => {
            if (event.type === 'ADDED' || event.type === 'MODIFIED') this.record(event.object.metadata.namespace!);
          });
        } catch (err) {
          if (!this.abort.signal.aborted) log(`pod watch: ${(err as Error).message}; again`);
          await sleep(200);
        }
      }
    })();
    return ready;
  }

  private record(namespace: string): void {
    if (this.seen.has(namespace)) return;
    this.seen.set(namespace, Date.now());
    for (const wake of this.waiters) wake();
  }

  /** Resolves when `done()` holds, checked on every new pod; rejects when no new pod appeared for `stallMs`. */
  async until(what: string, done: () => boolean, stallMs: number): Promise<void> {
    let count = this.seen.size;
    let lastProgress = Date.now();
    while (!done()) {
      if (this.seen.size !== count) {
        count = this.seen.size;
        lastProgress = Date.now();
      }
      if (Date.now() - lastProgress > stallMs) throw new StallError(`no new pod for ${stallMs / 1000} s while waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 500);
        this.waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}

// ---------- the operator process ----------

class OperatorProcess {
  readonly child: ChildProcess;
  metricsUrl: string | undefined;
  private stderrTail = '';
  readonly exited: Promise<number | null>;

  constructor(kubeconfig: string) {
    // BENCH_OPERATOR_NODE_OPTIONS: extra node flags for the operator (--cpu-prof, --heap-prof), to see where its time goes.
    const nodeOptions = (process.env.BENCH_OPERATOR_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
    // As the Deployment runs it (its NODE_OPTIONS). BENCH_OPERATOR_ENV: environment on top (`NAME=value NAME=value`, a
    // comma in a value standing for a space: `NODE_OPTIONS=--a,--b`), to measure other process settings.
    const overrides = Object.fromEntries((process.env.BENCH_OPERATOR_ENV ?? '').split(' ').filter(Boolean).map((pair) => {
      const eq = pair.indexOf('=');
      return [pair.slice(0, eq), pair.slice(eq + 1).replaceAll(',', ' ')];
    }));
    this.child = spawn(process.execPath, [
      ...nodeOptions, 'dist/bin/mustgather.js', 'run', '--kubeconfig', kubeconfig, '--platform', 'kubernetes', '--listen', '127.0.0.1:0',
      '--concurrency', String(CONCURRENCY), '--start-timeout', '0', '--namespaces', `${NAMESPACES.fleet},${NAMESPACES.idle}`,
      // Every fleet limit off: the bench measures the operator's own cost per report, all of them started at once.
      '--max-gathering', '0', '--storage-budget', '0',
    ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS, ...overrides } });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    let buffered = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        this.stderrTail = (this.stderrTail + line + '\n').slice(-4000);
        try {
          const entry = JSON.parse(line) as { msg?: string; message?: string; url?: string };
          if (entry.url && /health|metrics/.test(entry.msg ?? entry.message ?? '')) this.metricsUrl = `${entry.url.replace(/\/$/, '')}/metrics`;
        } catch {
          /* not JSON */
        }
      }
    });
  }

  /** Resolves once its watches have listed (/readyz). */
  async ready(): Promise<void> {
    for (let i = 0; !this.metricsUrl || (await fetch(this.metricsUrl.replace('/metrics', '/readyz')).then((r) => r.status, () => 0)) !== 200; i++) {
      this.alive();
      if (i > 1200) throw new Error('the operator did not become ready in 120 s');
      await sleep(100);
    }
  }

  logTail(): string {
    return this.stderrTail;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Peak resident set size in MB (VmHWM), while the process lives. */
  async peakRssMb(): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return kb / 1024;
  }

  async metric(name: string): Promise<number | undefined> {
    if (!this.metricsUrl) return undefined;
    try {
      const text = await (await fetch(this.metricsUrl)).text();
      let sum: number | undefined;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    } catch {
      return undefined;
    }
  }

  alive(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new Error(`the operator exited (${this.child.exitCode ?? this.child.signalCode}); its last log lines:\n${this.stderrTail}`);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Waits until the operator made no request for QUIET_MS, its queue is empty and (if given) it reconciled enough. */
/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s, Linux's). */
async function cpuSeconds(pid: number | 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds the whole machine has been busy (every state but idle and iowait), and its CPU count. */
async function machineCpu(): Promise<{ busy: number; cpus: number }> {
  const lines = (await readFile('/proc/stat', 'utf8')).split('\n');
  const [, ...ticks] = lines[0]!.trim().split(/\s+/).map(Number);
  const busy = ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!;
  return { busy: busy / 100, cpus: lines.filter((line) => /^cpu\d/.test(line)).length };
}

/** CPU use so far, at a moment: the process measured, each control plane process, and the machine. */
interface CpuMark {
  readonly process: number;
  readonly controlPlane: ReadonlyMap<string, number>;
  readonly machine: number;
  readonly cpus: number;
  readonly at: number;
}

async function cpuMark(pid: number | 'self', controlPlane: ReadonlyMap<string, number>): Promise<CpuMark> {
  const { busy, cpus } = await machineCpu();
  const used = new Map<string, number>();
  for (const [name, cpPid] of controlPlane) used.set(name, await cpuSeconds(cpPid).catch(() => NaN));
  return { process: await cpuSeconds(pid), controlPlane: used, machine: busy, cpus, at: Date.now() };
}

/** CPU used over a span (or several, added): by the process measured, each control plane process, and the machine. */
interface CpuUse {
  readonly process: number;
  readonly controlPlane: ReadonlyMap<string, number>;
  /** CPU seconds the machine was busy, and those it had (its CPUs times the span's seconds). */
  readonly machine: number;
  readonly capacity: number;
}

function cpuUsed(from: CpuMark, to: CpuMark): CpuUse {
  const controlPlane = new Map([...to.controlPlane].map(([name, used]) => [name, used - (from.controlPlane.get(name) ?? NaN)]));
  return { process: to.process - from.process, controlPlane, machine: to.machine - from.machine, capacity: (to.cpus * (to.at - from.at)) / 1000 };
}

function addCpu(a: CpuUse, b: CpuUse): CpuUse {
  const controlPlane = new Map([...a.controlPlane].map(([name, used]) => [name, used + (b.controlPlane.get(name) ?? NaN)]));
  return { process: a.process + b.process, controlPlane, machine: a.machine + b.machine, capacity: a.capacity + b.capacity };
}

/**
 * The process's CPU seconds, the control plane's (kube-apiserver and etcd, per report: the same objects cost the API
 * server the same whoever sends them, so what differs is what the operator adds), and how busy the machine was.
 */
function describeCpu(use: CpuUse, reports: number): string {
  const server = ['kube-apiserver', 'etcd'].map((name) => {
    const used = use.controlPlane.get(name) ?? NaN;
    return `${name} ${used.toFixed(1)} (${((1000 * used) / reports).toFixed(0)} ms/report)`;
  });
  return `${use.process.toFixed(1)} CPU-s, ${server.join(', ')}, machine ${((100 * use.machine) / use.capacity).toFixed(0)}% busy`;
}

async function settle(operator: OperatorProcess, audit: AuditTail, minReconciles = 0, quietMs = QUIET_MS, timeoutMs = 10 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    operator.alive();
    await audit.read();
    const last = audit.requests.filter((r) => r.verb !== 'watch').at(-1)?.at ?? 0;
    const depth = await operator.metric('mustgather_workqueue_depth');
    const reconciles = await operator.metric('mustgather_reconcile_total');
    const enough = minReconciles === 0 || (reconciles ?? 0) >= minReconciles;
    if (Date.now() - last >= quietMs && (depth ?? 0) === 0 && enough) return;
    if (Date.now() > deadline) throw new Error(`the operator did not settle within ${timeoutMs / 1000} s`);
    await sleep(quietMs >= QUIET_MS ? 500 : 200);
  }
}

// ---------- helpers ----------

/** Runs `task` for every item, at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  }));
}

const reportObject = (namespace: string, name: string) => ({
  apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec: { images: IMAGES },
}) as unknown as KubeObject;

/** Binds the operator's user to exactly the install chart's ClusterRole (and its client-CA reader in kube-system). */
/** Binds the operator's user and the bare loop's to exactly the install chart's roles (one binding of each). */
async function bindOperatorUsers(admin: KubeClient): Promise<void> {
  const install = renderInstall() as unknown as KubeObject[];
  const role = install.find((m) => m.kind === 'ClusterRole' && m.metadata.name === OPERATOR_NAME)!;
  await admin.apply(role, { fieldManager: 'bench' });
  const subjects = [OPERATOR_USER, BARE_USER].map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }));
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: OPERATOR_USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name }, subjects,
  } as KubeObject, { fieldManager: 'bench' });
  const clientCaReader = install.find((m) => m.kind === 'RoleBinding' && m.metadata.namespace === 'kube-system')!;
  await admin.apply({ ...clientCaReader, metadata: { ...clientCaReader.metadata, name: OPERATOR_USER }, subjects } as KubeObject, { fieldManager: 'bench' });
}

interface Figure {
  what: string;
  value: string;
  target: string;
  /** undefined: information, no target. */
  pass?: boolean;
}

// ---------- the bare loop ----------

/**
 * What the bare loop works with: the admin's client (which creates the reports, as for the fleet), its own client
 * (BARE_USER), the pod watch, and a CA for serving certificates.
 */
interface BareLoop {
  readonly admin: KubeClient;
  readonly client: KubeClient;
  readonly watch: PodWatch;
  readonly ca: Awaited<ReturnType<typeof createServingCa>>;
}

/**
 * The bare loop for the reports `names` (in NAMESPACES.bare): each created, its chart rendered and server-side applied
 * as the operator does, CONCURRENCY reports at a time, until every one's pod exists. Its time, and the CPU used
 * meanwhile (this process's: the client).
 */
async function bareLoop({ admin, client, watch, ca }: BareLoop, names: readonly string[], controlPlane: ReadonlyMap<string, number>): Promise<{ seconds: number; cpu: CpuUse }> {
  log(`bare loop: ${names.length} other reports rendered and server-side applied, ${CONCURRENCY} at a time ...`);
  const { key: clientCaKey, ...clientCaRef } = CLIENT_CA_SOURCE;
  const namespaces = new Set<string>();
  const queue: MustGatherReport[] = [];
  let creating = true;
  const sleepers = new Set<() => void>();
  const wake = () => {
    for (const resolve of sleepers) resolve();
    sleepers.clear();
  };
  // Labelled as the loop's own: the operator, running between the two halves, must not take them for its own.
  const relabel = (objects: KubeObject[]) => objects.map((object) => ({ ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, [LABELS.managedBy]: BARE_MANAGED_BY } } }));
  const render = (report: MustGatherReport, options: RenderReportOptions) => relabel(renderReport(report, options) as unknown as KubeObject[]);
  const started = Date.now();
  const cpu = await cpuMark('self', controlPlane);
  const creator = pool(names, CREATE_CONCURRENCY, async (name) => {
    const report = await admin.create(reportObject(NAMESPACES.bare, name)) as unknown as MustGatherReport;
    namespaces.add(reportObjectNames(report.metadata).namespace);
    queue.push(report);
    wake();
  }).finally(() => {
    creating = false;
    wake();
  });
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const report = queue.shift();
      if (!report) {
        if (!creating) return;
        await new Promise<void>((resolve) => sleepers.add(resolve));
        continue;
      }
      const names = reportObjectNames(report.metadata);
      // What the operator reads and renders for a fresh report: the client CA, a new serving certificate.
      const configMap = await client.get<KubeObject & { data?: Record<string, string> }>(clientCaRef);
      const options: RenderReportOptions = {
        platform: 'kubernetes', images: DEFAULT_IMAGES, clientCa: configMap?.data?.[clientCaKey] ?? '', downloadAccess: DEFAULT_DOWNLOAD_ACCESS,
        servingCertificate: await issueServingCertificate(ca, serviceHostnames(names)),
      };
      // As the operator: the chart without its runtime Secrets rendered once, the Secrets alone; the namespace, then
      // the chain gather account -> token -> its Secret beside what the pod runs with; the pod, then what only serves
      // the archive.
      // Each object written as the operator writes a new one (server-side applied; the pod created).
      const apply = (objects: KubeObject[]) => Promise.all(objects.map((object) => applyObject(client, object, undefined, { fieldManager: 'bench-bare' })));
      const stages = reportStages(render(report, { ...options, runtimeObjects: 'omit' }), names);
      await apply(stages.namespace);
      const chain = (async () => {
        await apply(stages.gatherAccount);
        const account = { kind: 'ServiceAccount', namespace: names.namespace, name: names.gatherServiceAccount };
        const gatherToken = await requestGatherToken(client, account, gatherTokenSeconds(resolveSpec(report.spec), 1, 0));
        const tokenSecret = render(report, { ...options, runtimeObjects: 'only', gatherToken });
        await apply(tokenSecret.filter((object) => object.metadata.name === names.gatherTokenSecret));
      })();
      await Promise.all([chain, apply([...stages.beside, ...render(report, { ...options, runtimeObjects: 'only' })])]);
      await apply(stages.pod);
      await apply(stages.serving);
    }
  });
  await Promise.all([creator, ...workers]);
  await watch.until('every bare pod', () => [...namespaces].every((ns) => watch.seen.has(ns)), 60_000);
  const used = cpuUsed(cpu, await cpuMark('self', controlPlane));
  const seconds = (Math.max(...[...namespaces].map((ns) => watch.seen.get(ns)!)) - started) / 1000;
  log(`bare loop: every pod exists after ${seconds.toFixed(1)} s`);
  return { seconds, cpu: used };
}

// ---------- main ----------

async function main(): Promise<void> {
  const benchStarted = Date.now();
  log(`building the operator (npm run build) ...`);
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  log('starting the control plane (no node) ...');
  const cp = await startControlPlane({ log: () => undefined });
  const admin = new KubeClient(cp.kubeConfig());
  const figures: Figure[] = [];
  const operators: OperatorProcess[] = [];
  const peaks: number[] = [];
  const watch = new PodWatch(admin);
  let audit: AuditTail | undefined;
  try {
    await bindOperatorUsers(admin);
    const user = await cp.mintUser(OPERATOR_USER);
    audit = new AuditTail(cp.auditLogPath, OPERATOR_USER);
    await watch.start();
    for (const ns of Object.values(NAMESPACES)) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const controlPlane = new Map(cp.processes.map((p) => [p.name, p.pid]));

    // 1a. the bare loop's first half, before the operator starts; first a few reports unmeasured, so that neither
    // side pays for the API server's (and this process's) first requests.
    const bare: BareLoop = { admin, client: new KubeClient((await cp.mintUser(BARE_USER)).kubeConfig), watch, ca: await createServingCa() };
    await bareLoop(bare, Array.from({ length: 2 * CONCURRENCY }, (_, i) => `warm-${i}`), controlPlane);
    const bareNames = Array.from({ length: REPORTS }, (_, i) => `b-${i}`);
    const bareHalf = Math.ceil(REPORTS / 2);
    const bareA = await bareLoop(bare, bareNames.slice(0, bareHalf), controlPlane);

    // 1. the fleet, created at once.
    let operator = new OperatorProcess(user.kubeconfigPath);
    operators.push(operator);
    await operator.ready();
    log(`operator pid ${operator.pid} ready; creating ${REPORTS} reports, ${CREATE_CONCURRENCY} at a time (operator --concurrency ${CONCURRENCY}) ...`);
    const fleetNames = Array.from({ length: REPORTS }, (_, i) => `r-${i}`);
    const fleetNamespaces = new Set<string>();
    const fleetStarted = Date.now();
    const fleetCpu = await cpuMark(operator.pid, controlPlane);
    await pool(fleetNames, CREATE_CONCURRENCY, async (name) => {
      const report = await admin.create(reportObject(NAMESPACES.fleet, name)) as unknown as MustGatherReport;
      fleetNamespaces.add(reportObjectNames(report.metadata).namespace);
    });
    const created = Date.now();
    log(`created in ${((created - fleetStarted) / 1000).toFixed(1)} s; waiting for every pod ...`);
    const progress = setInterval(() => log(`  pods: ${[...fleetNamespaces].filter((ns) => watch.seen.has(ns)).length}/${REPORTS}`), 15_000);
    try {
      await watch.until('every fleet pod', () => {
        operator.alive();
        return [...fleetNamespaces].every((ns) => watch.seen.has(ns));
      }, 120_000);
    } catch (err) {
      if (!(err instanceof StallError)) throw err;
      // A benchmark of an operator that does not converge: say so, with what it logged, and measure nothing more.
      const pods = [...fleetNamespaces].filter((ns) => watch.seen.has(ns)).length;
      console.log(`\noperator at scale: ${REPORTS} reports, kube-apiserver ${cp.version}: the operator did not converge`);
      console.log(`  MISS  every pod exists: ${pods}/${REPORTS} pods after ${((Date.now() - fleetStarted) / 1000).toFixed(0)} s (${err.message}); nothing else measured`);
      console.log(`  peak RSS so far ${(await operator.peakRssMb()).toFixed(0)} MB; the operator's last log lines:\n${operator.logTail()}`);
      return;
    } finally {
      clearInterval(progress);
    }
    const fleetCpuUsed = describeCpu(cpuUsed(fleetCpu, await cpuMark(operator.pid, controlPlane)), REPORTS);
    const fleetReconciles = await operator.metric('mustgather_reconcile_total');
    const fleetDone = Math.max(...[...fleetNamespaces].map((ns) => watch.seen.get(ns)!));
    const fleetSeconds = (fleetDone - fleetStarted) / 1000;
    log(`every pod exists after ${fleetSeconds.toFixed(1)} s`);
    await sleep(1000); // the audit events of the last requests
    await audit.read();
    const fleetRequests = audit.between(fleetStarted, fleetDone + 1);

    log('letting the fleet settle ...');
    await settle(operator, audit);

    // 2. latency on an idle operator, one report at a time.
    log(`idle latency: ${LATENCY_SAMPLES} reports one at a time ...`);
    const latencies: number[] = [];
    const idleRequests: number[] = [];
    const idleWindows: [number, number][] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const started = Date.now();
      const report = await admin.create(reportObject(NAMESPACES.idle, `idle-${i}`)) as unknown as MustGatherReport;
      const ns = reportObjectNames(report.metadata).namespace;
      await watch.until(`the pod of idle-${i}`, () => watch.seen.has(ns), 60_000);
      latencies.push(watch.seen.get(ns)! - started);
      idleWindows.push([started, watch.seen.get(ns)!]);
      // Idle again before the next sample (a shorter quiet period: one report's reconciles follow each other closely).
      await settle(operator, audit, 0, 1_000);
    }
    await audit.read();
    for (const [from, to] of idleWindows) idleRequests.push(total(audit.between(from, to + 1)));
    peaks.push(await operator.peakRssMb());

    // 4. a resync with nothing changed: restart the operator, let it reconcile every report.
    log('restarting the operator: a resync of every report with nothing changed ...');
    await operator.stop();
    await sleep(1000);
    const restarted = Date.now();
    operator = new OperatorProcess(user.kubeconfigPath);
    operators.push(operator);
    await operator.ready();
    await settle(operator, audit, REPORTS + LATENCY_SAMPLES);
    await audit.read();
    const resyncEnded = Date.now() + 1;
    const resync = audit.between(restarted, resyncEnded);
    const resyncWritten = Object.entries(audit.between(restarted, resyncEnded, 'what')).filter(([what]) => WRITE_VERBS.has(what.split(' ')[0]!));
    const resyncReconciles = await operator.metric('mustgather_reconcile_total');
    // Which events the resync wrote, by reason (the audit log names an Event, not its reason): to tell which fix a miss needs.
    const resyncEvents = new Map<string, number>();
    for (const namespace of [NAMESPACES.fleet, NAMESPACES.idle]) {
      const events = await admin.list<KubeObject & { reason?: string; eventTime?: string; firstTimestamp?: string; metadata: { creationTimestamp?: string } }>(RESOURCES.Event, { namespace });
      for (const event of events.items) {
        if (Date.parse(event.metadata.creationTimestamp ?? '') < Math.floor(restarted / 1000) * 1000) continue;
        resyncEvents.set(event.reason ?? '?', (resyncEvents.get(event.reason ?? '?') ?? 0) + 1);
        if (resyncEvents.get(event.reason ?? '?') === 1) log(`resync event ${event.reason}: ${(event as { message?: string }).message}`);
      }
    }
    peaks.push(await operator.peakRssMb());
    // Where the memory is once settled (prom-client's process metrics): the live heap against what the process holds.
    const mb = async (metric: string) => (((await operator.metric(metric)) ?? NaN) / 1048576).toFixed(0);
    const settledMemory = `settled after restart: RSS ${await mb('process_resident_memory_bytes')} MB, V8 heap used ${await mb('nodejs_heap_size_used_bytes')} MB ` +
      `of ${await mb('nodejs_heap_size_total_bytes')} MB, external ${await mb('nodejs_external_memory_bytes')} MB`;
    await operator.stop();

    // 1b. the bare loop's second half, the operator stopped.
    const bareB = await bareLoop(bare, bareNames.slice(bareHalf), controlPlane);
    bare.client.close();
    const bareSeconds = bareA.seconds + bareB.seconds;
    const bareCpuUsed = describeCpu(addCpu(bareA.cpu, bareB.cpu), REPORTS);

    // ---------- figures ----------
    const ratio = fleetSeconds / bareSeconds;
    figures.push({
      what: `time until every pod exists, ${REPORTS} reports: operator ${fleetSeconds.toFixed(1)} s / bare loop ${bareSeconds.toFixed(1)} s ` +
        `(${bareA.seconds.toFixed(1)} s before the operator + ${bareB.seconds.toFixed(1)} s after)`,
      value: `${ratio.toFixed(2)}x`, target: '<= 1.5x', pass: ratio <= 1.5,
    });
    // Where the time went: on this machine the API server, etcd, the operator and the bench share the CPUs.
    figures.push({
      what: `CPU until every pod existed: operator ${fleetCpuUsed} (${fleetReconciles ?? '?'} reconciles); bare loop's client (this process) ${bareCpuUsed}`,
      value: 'cpu', target: '',
    });
    const median = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    figures.push({ what: `creation -> pod on an idle operator, median of ${latencies.length}`, value: `${median} ms`, target: '<= 100 ms', pass: median <= 100 });
    figures.push({ what: `creation -> pod on an idle operator, p99 (min ${Math.min(...latencies)}, max ${Math.max(...latencies)})`, value: `${p99} ms`, target: '' });
    const requestsPerReport = total(fleetRequests) / REPORTS;
    figures.push({
      what: `API requests per report until its pod exists (fleet; ${perReport(fleetRequests, REPORTS)})`,
      value: requestsPerReport.toFixed(1), target: '<= 20', pass: requestsPerReport <= 20,
    });
    figures.push({
      what: `API requests per report until its pod exists (idle, median of ${idleRequests.length})`,
      value: String(quantile(idleRequests, 0.5)), target: '',
    });
    // The median sample's round trips (offsets from its creation request, which is the bench's own).
    const [medianFrom, medianTo] = idleWindows[latencies.indexOf(median)]!;
    figures.push({
      what: `the median idle sample, pod seen by the bench at +${medianTo - medianFrom}: ${audit.timeline(medianFrom, medianTo + 1)}`,
      value: 'timeline', target: '',
    });
    const resyncWrites = writes(resync);
    figures.push({
      what: `writes when ${REPORTS + LATENCY_SAMPLES} unchanged reports were resynced after a restart (${resyncReconciles ?? '?'} reconciles; ` +
        (resyncEvents.size > 0 ? `events by reason: ${[...resyncEvents].map(([reason, n]) => `${reason} ${n}`).join(', ')}; ` : '') +
        `writes: ${resyncWritten.map(([what, n]) => `${what} ${n}`).join(', ') || 'none'}; all requests: ${perReport(resync, 1)})`,
      value: String(resyncWrites), target: '0', pass: resyncWrites === 0,
    });
    const peak = Math.max(...peaks);
    figures.push({
      what: `operator peak RSS (VmHWM; ${peaks.map((p) => `${p.toFixed(0)} MB`).join(' first run, ')} after restart; ${settledMemory})`,
      value: `${peak.toFixed(0)} MB`, target: `<= 200 MB${REPORTS === 1000 ? '' : ' (at 1000 reports)'}`, pass: peak <= 200,
    });

    console.log(`\noperator at scale: ${REPORTS} reports, kube-apiserver ${cp.version} (no node: pods stay Pending), compiled operator, ` +
      `--concurrency ${CONCURRENCY}, bench took ${((Date.now() - benchStarted) / 1000).toFixed(0)} s`);
    for (const f of figures) {
      console.log(`  ${f.pass === undefined ? 'info' : f.pass ? 'PASS' : 'MISS'}  ${f.value.padStart(8)}  ${f.target ? `target ${f.target.padEnd(10)}` : ' '.repeat(17)} ${f.what}`);
    }
  } finally {
    await audit?.close();
    await Promise.all(operators.map((o) => o.stop().catch(() => undefined)));
    await watch.stop();
    admin.close();
    await cp.stop();
  }
}

try {
  await main();
} catch (err) {
  console.error(`bench:operator failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
}
