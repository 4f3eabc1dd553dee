/** What the node suites share: the CLI as a separate process, polling, a report's Ready condition, an archive's entries. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { list as listTar } from 'tar';
import type { MustGatherReport } from '../../constructs/report-api.js';
import { repoRoot } from '../../controlplane/binaries.js';
import type { NodeCluster } from './cluster.js';

export const CLI = path.join(repoRoot(), 'bin', 'mustgather.ts');

/** Runs `mustgather ARGS` as a separate process; resolves with its exit code and output. */
export function mustgather(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A running operator and the tail of what it printed (for failure messages). */
export interface OperatorProcess {
  readonly process: ChildProcess;
  log(): string;
}

/**
 * The operator as its own process: `mustgather run` against the node cluster, plain Kubernetes profile, the
 * project's image for the report pod's own containers; `flags` added.
 */
export function startOperator(cluster: Pick<NodeCluster, 'kubeconfig' | 'images'>, flags: string[]): OperatorProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', '--kubeconfig', cluster.kubeconfig, '--listen', '127.0.0.1:0', '--platform', 'kubernetes', ...flags], {
    cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPERATOR_IMAGE: cluster.images.operator },
  });
  let log = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-200_000)));
  return { process: child, log: () => log };
}

export function readyOf(report: MustGatherReport | undefined): { status?: string; reason?: string; message?: string } {
  return report?.status?.conditions?.find((c) => c.type === 'Ready') ?? {};
}

/** Polls `probe` until it returns something; `what` is read when giving up, so it can describe the state then. */
export async function eventually<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await sleep(250);
  }
}

export async function tarEntries(file: string): Promise<string[]> {
  const entries: string[] = [];
  await listTar({ file, onReadEntry: (e) => void entries.push(e.path) });
  return entries;
}
