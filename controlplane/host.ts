/**
 * Small host helpers for the local node: running host commands with errors that name them, IPv4 ranges, mounts and
 * cgroups. Linux only, root only (callers check {@link nodeSupport} first).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs `command args...`; rejects with an error naming the command and quoting its stderr. */
export async function sh(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const detail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' / ') || e.message;
    throw new Error(`${command} ${args.join(' ')}: ${detail}`, { cause: err });
  }
}

/** Like {@link sh} but never throws: true when the command succeeded (for idempotent clean-up steps). */
export async function trySh(command: string, args: string[]): Promise<boolean> {
  try {
    await execFileAsync(command, args);
    return true;
  } catch {
    return false;
  }
}

/** Why a real node cannot run here, or undefined when it can (Linux, root). */
export function nodeSupport(): string | undefined {
  if (process.platform !== 'linux') return `a local node needs Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'a local node needs root (it creates a bridge, iptables rules, mounts and cgroups)';
  return undefined;
}

/** An IPv4 range in CIDR notation. */
export interface Cidr {
  readonly text: string;
  /** Network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`"${ip}" is not an IPv4 address`);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** The dotted form of an unsigned 32-bit address. */
export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/n`; the address must be the network address. */
export function parseCidr(text: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an IPv4 CIDR such as 10.244.250.0/24`);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 29) throw new Error(`${text}: the prefix must be between /8 and /29`);
  const base = ipToNumber(m[1]!);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new Error(`${text}: ${m[1]} is not the network address of a /${prefix} (try ${numberToIp(base - (base % size))}/${prefix})`);
  return { text: text.trim(), base, prefix };
}

/** The n-th address of a range (1 = the first usable one). */
export function nthAddress(cidr: Cidr, n: number): string {
  return numberToIp(cidr.base + n);
}

/** Whether two ranges share an address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const end = (c: Cidr) => c.base + 2 ** (32 - c.prefix);
  return a.base < end(b) && b.base < end(a);
}

/**
 * Refuses a range that overlaps a route of the host (other than one through `ownInterface`, a leftover of our own),
 * so pods never shadow a network the machine uses. The default route (0.0.0.0/0) does not count.
 */
export async function checkFreeRange(what: string, cidr: Cidr, ownInterface: string): Promise<void> {
  const routes = JSON.parse(await sh('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string; dev?: string; type?: string }[];
  for (const r of routes) {
    if (r.dst === 'default' || r.dev === ownInterface || r.type === 'broadcast' || r.type === 'local' && r.dev === 'lo') continue;
    const dst = r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    let route: Cidr;
    try {
      route = { ...parseCidrLoose(dst), text: dst };
    } catch {
      continue;
    }
    if (overlaps(route, cidr)) {
      throw new Error(`the ${what} ${cidr.text} overlaps the host's route to ${dst} (dev ${r.dev ?? '?'}): choose another range`);
    }
  }
}

function parseCidrLoose(text: string): Omit<Cidr, 'text'> {
  const [ip, len] = text.split('/');
  const prefix = Number(len);
  const size = 2 ** (32 - prefix);
  const n = ipToNumber(ip!);
  return { base: n - (n % size), prefix };
}

/** Mount points at or below `dir`, deepest first (so they can be unmounted in order). */
export function mountsBelow(dir: string): string[] {
  const root = path.resolve(dir);
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(root + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (lazily where busy); returns what it unmounted. */
export async function unmountBelow(dir: string): Promise<string[]> {
  const done: string[] = [];
  for (let round = 0; round < 3; round++) {
    const points = mountsBelow(dir);
    if (points.length === 0) break;
    for (const p of points) {
      if ((await trySh('umount', [p])) || (await trySh('umount', ['-l', p]))) done.push(p);
    }
  }
  return done;
}

/** cgroup v1 hierarchies (and the v2 unified one) mounted on this machine. */
export function cgroupHierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(' ')[4]!)
    .filter(Boolean);
}

/** PIDs in the cgroup `name` (a path below each hierarchy root) and its children, in any hierarchy. */
export function pidsInCgroup(name: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const p of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
    } catch {
      /* not a cgroup dir */
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const h of cgroupHierarchies()) walk(path.join(h, name));
  return [...pids];
}

/** Removes the cgroup `name` and its children in every hierarchy (deepest first); true when none is left. */
export function removeCgroup(name: string): boolean {
  let clean = true;
  const remove = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      clean = false;
    }
  };
  for (const h of cgroupHierarchies()) {
    const dir = path.join(h, name);
    try {
      statSync(dir);
    } catch {
      continue;
    }
    remove(dir);
  }
  return clean;
}
