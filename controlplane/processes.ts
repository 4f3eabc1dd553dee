/**
 * Child-process plumbing for the control plane: each binary runs in its own process group with stdout/stderr in a
 * log file; a small "reaper" process watches the parent through a pipe and kills the groups (and removes the data
 * dir) if the parent dies without cleaning up (SIGKILL, crash); state files let a later start kill leftovers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A process recorded in a data dir's state file. */
export interface RecordedProcess {
  /** Short name (etcd, kube-apiserver, ...). */
  name: string;
  /** Process id (also its process-group id: every child leads its own group). */
  pid: number;
  /** Absolute path of the executable, to recognise the process before killing it. */
  binary: string;
}

/** Returns `count` distinct free TCP ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** True if a process with this pid exists (EPERM counts as alive). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if `pid` is alive and runs `binary` (checked through /proc or ps), so a recycled pid is never killed. */
export function runsBinary(pid: number, binary: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    if (existsSync('/proc/self/cmdline')) {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      return argv0 === binary || path.basename(argv0) === path.basename(binary);
    }
    const cmd = execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' }).trim();
    return cmd.startsWith(binary) || cmd.split(/\s+/)[0]?.endsWith('/' + path.basename(binary)) === true;
  } catch {
    return false;
  }
}

/** Sends `signal` to the process group led by `pid` (falls back to the process itself). Ignores missing processes. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Waits until `pid` is gone or `ms` elapsed; true if gone. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/** SIGTERM each process's group, then SIGKILL what is still there after `graceMs`. */
export async function terminate(procs: RecordedProcess[], graceMs: number): Promise<void> {
  const live = procs.filter((p) => runsBinary(p.pid, p.binary) || isAlive(p.pid));
  for (const p of live) signalGroup(p.pid, 'SIGTERM');
  await Promise.all(
    live.map(async (p) => {
      if (!(await waitGone(p.pid, graceMs))) {
        signalGroup(p.pid, 'SIGKILL');
        await waitGone(p.pid, 5_000);
      }
    }),
  );
}

/** Starts `binary` in its own process group with stdout+stderr appended to `logFile`. */
export function spawnLogged(binary: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd], env });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Last `n` lines of a file ('' if unreadable). */
export async function tail(file: string, n = 25): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

// --- reaper ----------------------------------------------------------------------------------------------------------

const REAPER_SOURCE = `
'use strict';
const fs = require('fs');
const groups = new Set();
let dir = '';
let buf = '';
let reaping = false;
for (const s of ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGPIPE']) process.on(s, () => reap());
function kill(sig) { for (const pg of groups) { try { process.kill(-pg, sig); } catch { try { process.kill(pg, sig); } catch {} } } }
function reap() {
  if (reaping) return; reaping = true;
  kill('SIGTERM');
  setTimeout(() => {
    kill('SIGKILL');
    setTimeout(() => {
      if (dir) { try { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); } catch {} }
      process.exit(0);
    }, 300);
  }, 3000);
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const sp = line.indexOf(' ');
    const cmd = sp < 0 ? line : line.slice(0, sp), arg = sp < 0 ? '' : line.slice(sp + 1);
    if (cmd === 'add') groups.add(Number(arg));
    else if (cmd === 'del') groups.delete(Number(arg));
    else if (cmd === 'dir') dir = arg;
    else if (cmd === 'done') process.exit(0);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

/** Handle on the reaper process guarding one control plane. */
export class Reaper {
  private readonly child: ChildProcess;

  /** Starts a reaper that removes `dataDir` (if given) after killing the registered groups when this process dies. */
  constructor(dataDir?: string) {
    this.child = spawn(process.execPath, ['-e', REAPER_SOURCE], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: {} });
    this.child.unref();
    const stdin = this.child.stdin as (NodeJS.WritableStream & { unref?: () => void; on: NodeJS.WritableStream['on'] }) | null;
    stdin?.on('error', () => undefined);
    stdin?.unref?.();
    if (dataDir) this.send(`dir ${dataDir}`);
  }

  /** The reaper's pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private send(line: string): void {
    try {
      this.child.stdin?.write(line + '\n');
    } catch {
      /* reaper gone */
    }
  }

  /** Registers a process group to kill if the parent dies. */
  add(pid: number): void {
    this.send(`add ${pid}`);
  }

  /** Unregisters a process group. */
  remove(pid: number): void {
    this.send(`del ${pid}`);
  }

  /** Tells the reaper everything was cleaned up; it exits. */
  dismiss(): void {
    this.send('done');
    this.child.stdin?.end();
  }
}

/** Directory prefix of temporary control-plane data dirs (in os.tmpdir()). */
export const TMP_PREFIX = 'mustgather-cp-';

/** Name of the state file in a data dir. */
export const STATE_FILE = 'controlplane.json';

/** What a data dir's state file records. */
export interface StateFile {
  /** pid of the process that owns the control plane (the harness). */
  ownerPid: number;
  /** Processes started so far. */
  processes: RecordedProcess[];
  /** Other fields (server, kubeconfig, version...). */
  [key: string]: unknown;
}

/** Reads a data dir's state file (undefined if absent or unreadable). */
export function readState(dataDir: string): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dataDir, STATE_FILE), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

/**
 * Kills what a crashed run left in `dataDir` (processes whose owner is dead) and removes the dir. Returns false (and
 * touches nothing) if the owner is still alive.
 */
export async function cleanupLeftovers(dataDir: string, graceMs = 3_000): Promise<boolean> {
  const state = readState(dataDir);
  if (!state) return true;
  if (state.ownerPid !== process.pid && isAlive(state.ownerPid)) return false;
  await terminate(
    state.processes.filter((p) => runsBinary(p.pid, p.binary)),
    graceMs,
  );
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
  return true;
}

/** Cleans up every temporary control-plane data dir in os.tmpdir() whose owner died. */
export async function cleanupStaleTmpDirs(): Promise<void> {
  let entries: string[] = [];
  try {
    entries = readdirSync(os.tmpdir()).filter((e) => e.startsWith(TMP_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = path.join(os.tmpdir(), e);
    const state = readState(dir);
    if (state && !isAlive(state.ownerPid)) await cleanupLeftovers(dir).catch(() => undefined);
    else if (!state) {
      // The state file is written right after the dir is created: an old dir without one is debris.
      try {
        if (Date.now() - statSync(dir).mtimeMs > 10 * 60_000) rmSync(dir, { recursive: true, force: true });
      } catch {
        /* raced with its owner */
      }
    }
  }
}
