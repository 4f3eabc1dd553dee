/** What the node suites share: the CLI as a separate process, polling, a report's Ready condition, an archive's entries. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { list as listTar } from 'tar';
import type { MustGatherReport } from '../../constructs/report-api.js';
import { repoRoot } from '../../controlplane/binaries.js';

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
