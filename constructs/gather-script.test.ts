import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GATHER_SCRIPT } from './gather-script.js';
import { type GatherResult, parseGatherResult } from './pod-contract.js';

const root = mkdtempSync(join(tmpdir(), 'gather-script-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  result: GatherResult;
  /** The raw termination message. */
  message: string;
  out: string;
  stdout: string;
  stderr: string;
  seconds: number;
}

let runs = 0;
/** Runs the script as the chart does (`bash -c SCRIPT NAME ARGS...`), its output going to a fresh directory. */
function gather(args: string[], env: Record<string, string> = {}, out?: string): Promise<Run> {
  const dir = join(root, `run-${++runs}`);
  mkdirSync(dir);
  const output = out ?? join(dir, 'must-gather');
  const termination = join(dir, 'termination-log');
  const started = performance.now();
  // stdin must not be a socket (Node's default pipes are socketpairs): bash would take itself for an ssh session
  // and read ~/.bashrc.
  const child = spawn('bash', ['-c', GATHER_SCRIPT, 'mustgather-gather', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH!,
      MUST_GATHER_OUTPUT: output,
      MUST_GATHER_TERMINATION_LOG: termination,
      MUST_GATHER_IMAGE: 'quay.io/example/must-gather:latest',
      MUST_GATHER_INDEX: '2',
      MUST_GATHER_TIMEOUT_SECONDS: '30',
      MUST_GATHER_VOLUME_PERCENTAGE: '70',
      MUST_GATHER_CHECK_INTERVAL_SECONDS: '5', // the volume tests check faster
      MUST_GATHER_KILL_GRACE_SECONDS: '1',
      ...env,
    },
    timeout: 20_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the gather script must exit 0, not ${code}\n${stderr}`));
      const message = readFileSync(termination, 'utf8');
      const result = parseGatherResult(message);
      if (!result) return reject(new Error(`no result in the termination log: ${message}`));
      resolve({ result, message, out: output, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** A fake gather command: a bash script file. */
function script(name: string, body: string): string {
  const path = join(root, name);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
  } catch {
    return true;
  }
}

describe('GATHER_SCRIPT', () => {
  it.concurrent('runs a gather and records success, with the log and timestamps beside its data', async () => {
    // The gather writes where /must-gather is mounted: MUST_GATHER_OUTPUT here.
    const fake = script('ok.sh', 'echo "collecting since=$MUST_GATHER_SINCE node=$NODE_NAME"; echo "a warning" >&2\necho "kind: Pod" > "$MUST_GATHER_OUTPUT/pod.yaml"');
    const run = await gather([fake], { NODE_NAME: 'node-1', MUST_GATHER_SINCE: '2h' });
    expect(run.result).toMatchObject({ index: 2, image: 'quay.io/example/must-gather:latest', state: 'Succeeded', exitCode: 0 });
    expect(run.result.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(run.result.finishedAt)).toBeGreaterThanOrEqual(Date.parse(run.result.startedAt));
    expect(readFileSync(join(run.out, 'pod.yaml'), 'utf8')).toBe('kind: Pod\n');
    const log = readFileSync(join(run.out, 'gather.log'), 'utf8');
    expect(log).toContain('collecting since=2h node=node-1');
    expect(log).toContain('a warning');
    expect(run.stdout + run.stderr).toContain('collecting since=2h');
    expect(readFileSync(join(run.out, 'timestamp'), 'utf8')).toMatch(/^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC\n){2}$/);
    expect(parseGatherResult(readFileSync(join(run.out, 'gather-result.json'), 'utf8'))).toEqual(run.result);
  });

  it.concurrent('passes the data directory and unsets an empty MUST_GATHER_SINCE', async () => {
    const out = join(root, 'since-out');
    const fake = script('since.sh', `echo "since=\${MUST_GATHER_SINCE-unset}" > ${out}/since.txt; mkdir -p ${out}/namespaces/x; echo y > ${out}/namespaces/x/pod.yaml`);
    const run = await gather([fake], { MUST_GATHER_SINCE: '' }, out);
    expect(run.result.state).toBe('Succeeded');
    expect(readFileSync(join(out, 'since.txt'), 'utf8')).toBe('since=unset\n');
    expect(readFileSync(join(out, 'namespaces/x/pod.yaml'), 'utf8')).toBe('y\n');
  });

  it.concurrent('records a failing gather (exit 3) with its last output, and still exits 0', async () => {
    const run = await gather([script('fail.sh', 'echo "step one"; echo "error: cannot list nodes" >&2; exit 3')]);
    expect(run.result).toMatchObject({ state: 'Failed', exitCode: 3 });
    expect(run.result.message).toContain('exited with code 3');
    expect(run.result.message).toContain('error: cannot list nodes');
  });

  it.concurrent('records a missing gather command as Failed with exit code 127', async () => {
    const run = await gather(['/usr/bin/no-such-gather']);
    expect(run.result).toMatchObject({ state: 'Failed', exitCode: 127 });
    expect(run.result.message).toContain('/usr/bin/no-such-gather was not found');
  });

  it.concurrent('stops a gather that hangs past the timeout, children included, even if it ignores SIGTERM', async () => {
    const pids = join(root, 'hang-pids');
    const fake = script('hang.sh', `trap '' TERM\nsleep 300 &\necho $! > ${pids}\necho "started" \nsleep 300\necho "never"`);
    const run = await gather([fake], { MUST_GATHER_TIMEOUT_SECONDS: '2', MUST_GATHER_KILL_GRACE_SECONDS: '1' });
    expect(run.result.state).toBe('TimedOut');
    expect([124, 137]).toContain(run.result.exitCode);
    expect(run.seconds).toBeGreaterThanOrEqual(2);
    expect(run.seconds).toBeLessThan(15); // the gather alone would run 300 s
    expect(processGone(Number(readFileSync(pids, 'utf8')))).toBe(true);
    expect(readFileSync(join(run.out, 'gather.log'), 'utf8')).toContain('started');
  });

  it.concurrent('stops a gather when df reports the volume at the limit (MUST_GATHER_DF)', async () => {
    const df = script('fake-df.sh', 'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\necho "/dev/fake 1000 750 250 75% $2"');
    const run = await gather([script('slow.sh', 'for i in $(seq 600); do echo "line $i"; sleep 0.1; done')], { MUST_GATHER_DF: df, MUST_GATHER_CHECK_INTERVAL_SECONDS: '0.2' });
    expect(run.result.state).toBe('VolumeFull');
    expect(run.result.message).toContain('75% full (limit 70%)');
    expect(run.seconds).toBeLessThan(20); // the gather alone would run 60 s
    expect(readFileSync(join(run.out, 'gather.log'), 'utf8')).toContain('stopping the gather');
  });

  const canMount = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = join(root, 'mount-probe');
    mkdirSync(probe);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', probe], { stdio: 'ignore' });
      execFileSync('umount', [probe]);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!canMount).concurrent('stops a gather that fills a real (tmpfs) volume', async () => {
    const volume = join(root, 'tmpfs');
    mkdirSync(volume);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4M', 'tmpfs', volume]);
    try {
      const fill = script('fill.sh', `for i in $(seq 200); do head -c 65536 /dev/zero > ${volume}/blob-$i || exit 1; sleep 0.02; done`);
      const run = await gather([fill], { MUST_GATHER_VOLUME_PERCENTAGE: '50', MUST_GATHER_CHECK_INTERVAL_SECONDS: '0.2' }, volume);
      expect(run.result.state).toBe('VolumeFull');
      expect(readFileSync(join(volume, 'gather-result.json'), 'utf8')).toContain('"VolumeFull"');
      const used = Number(/\s(\d+)%/.exec(execFileSync('df', ['-P', volume], { encoding: 'utf8' }))![1]);
      // Stopped at the limit, which counts the reserve ((100 - 50) / 4 = 12.5%), then the reserve was freed.
      expect(used).toBeGreaterThanOrEqual(50 - 13);
      expect(used).toBeLessThan(100); // stopped well before the volume ran out
      expect(existsSync(join(volume, '.mustgather-reserve'))).toBe(false);
    } finally {
      execFileSync('umount', [volume]);
    }
  });

  it.skipIf(!canMount).concurrent('keeps room for the result and the archive when a gather fills the volume faster than the guard looks', async () => {
    const volume = join(root, 'tmpfs-fast');
    mkdirSync(volume);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4M', 'tmpfs', volume]);
    try {
      const fill = script('fast-fill.sh', `i=0; while head -c 65536 /dev/zero > ${volume}/blob-$i; do i=$((i + 1)); done; sleep 30`);
      const run = await gather([fill], { MUST_GATHER_CHECK_INTERVAL_SECONDS: '0.5' }, volume);
      expect(run.result.state).toBe('VolumeFull');
      expect(readFileSync(join(volume, 'gather-result.json'), 'utf8')).toContain('"VolumeFull"');
      const free = Number(execFileSync('df', ['-Pk', volume], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split(/\s+/)[3]);
      // The reserve for the default limit (70%): (100 - 70) / 4 = 7.5% of 4 MiB, about 300 KiB, free again.
      expect(free).toBeGreaterThan(250);
    } finally {
      execFileSync('umount', [volume]);
    }
  });

  it.concurrent('keeps the termination message valid JSON under 4096 bytes whatever the image name and output', async () => {
    const image = `quay.io/"quoted"\\back\tslash/ünïcode-${'x'.repeat(3000)}`;
    const noisy = script('noisy.sh', `printf '%s' '"\\\\'; head -c 20000 /dev/urandom | base64 -w0; printf '\\x01\\x1b[31m"end"\\n'; exit 1`);
    const run = await gather([noisy], { MUST_GATHER_IMAGE: image });
    expect(Buffer.byteLength(run.message)).toBeLessThan(4096);
    const parsed = JSON.parse(run.message);
    expect(parsed.state).toBe('Failed');
    expect(parsed.image.startsWith('quay.io/"quoted"\\back\tslash/')).toBe(true);
    expect(parsed.image).toContain('?'); // non-ASCII bytes are replaced
    expect(parsed.image.length).toBe(512);
    expect(parsed.message).toContain('"end"');
  });
});

describe('parseGatherResult', () => {
  const valid = { index: 1, image: 'i', state: 'Succeeded', exitCode: 0, startedAt: '2024-01-01T00:00:00Z', finishedAt: '2024-01-01T00:01:00Z', message: 'ok' };

  it('finds the result after log lines (FallbackToLogsOnError)', () => {
    expect(parseGatherResult(`some log\n{"not":"it"}\n${JSON.stringify(valid)}\n`)).toEqual(valid);
  });

  it('rejects garbage, truncation and wrong types', () => {
    const line = JSON.stringify(valid);
    for (const text of ['', 'garbage', line.slice(0, 60), '{}', 'null', '[1]', line.replace('"Succeeded"', '"Exploded"'), line.replace('"exitCode":0', '"exitCode":"0"')]) {
      expect(parseGatherResult(text), text).toBeUndefined();
    }
  });
});
