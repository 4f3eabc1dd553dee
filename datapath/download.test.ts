import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MustGatherReport } from '../constructs/report-api.js';
import { downloadArchive, DownloadError, formatProgress, waitForReady } from './download.js';
import { createFileServer, type FileServer } from './serve.js';

const dir = mkdtempSync(join(tmpdir(), 'download-test-'));
const served = join(dir, 'served');
const content = randomBytes(24 * 1024 * 1024);
const sha256 = createHash('sha256').update(content).digest('hex');
let fileServer: FileServer;
let url: string;

beforeAll(async () => {
  mkdirSync(served);
  writeFileSync(join(served, 'must-gather.tar.gz'), content);
  fileServer = createFileServer({ dir: served });
  url = `http://127.0.0.1:${await listen(fileServer.server)}/must-gather.tar.gz`;
});
afterAll(async () => {
  await fileServer.shutdown(100);
  rmSync(dir, { recursive: true, force: true });
});

async function listen(server: Server, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A server answering every request with `status` (and counting them). */
async function statusServer(statuses: number[], headers: Record<string, string> = {}): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((_req, res) => {
    const status = statuses[Math.min(requests++, statuses.length - 1)]!;
    if (status === 200) return void res.writeHead(200, { 'Content-Length': 5 }).end('hello');
    res.writeHead(status, headers).end('no');
  });
  return { url: `http://127.0.0.1:${await listen(server)}/must-gather.tar.gz`, server, requests: () => requests };
}

let outputs = 0;
const output = () => join(dir, `out-${++outputs}.tar.gz`);

describe('downloadArchive', () => {
  it('downloads and verifies', async () => {
    const target = output();
    const result = await downloadArchive({ url, output: target, expectedSha256: sha256 });
    expect(result).toMatchObject({ path: target, bytes: content.length, sha256, resumedFrom: 0, attempts: 1 });
    expect(readFileSync(target).equals(content)).toBe(true);
    expect(existsSync(`${target}.part`) || existsSync(`${target}.part.json`)).toBe(false);
  });

  it('resumes a part left by an earlier run, and starts over when the file changed since', async () => {
    const { headers } = await new Promise<{ headers: Record<string, string | string[] | undefined> }>((resolve) => get(url, { method: 'HEAD' }, resolve).end());
    const target = output();
    writeFileSync(`${target}.part`, content.subarray(0, 1_000_000));
    writeFileSync(`${target}.part.json`, JSON.stringify({ url, etag: headers.etag }));
    const resumed = await downloadArchive({ url, output: target, expectedSha256: sha256 });
    expect(resumed.resumedFrom).toBe(1_000_000);
    expect(readFileSync(target).equals(content)).toBe(true);

    const stale = output();
    writeFileSync(`${stale}.part`, Buffer.alloc(1_000_000, 7)); // not the file's bytes: If-Range must send it whole
    writeFileSync(`${stale}.part.json`, JSON.stringify({ url, etag: '"stale"' }));
    const restarted = await downloadArchive({ url, output: stale, expectedSha256: sha256 });
    expect(readFileSync(stale).equals(content)).toBe(true);
    expect(restarted.resumedFrom).toBe(1_000_000); // it asked to resume, the server said no
  });

  it('resumes after the server process is killed mid-transfer and restarted', async () => {
    const port = await freePort();
    let server = await startServerProcess(port);
    let restarted: Promise<ChildProcess> | undefined;
    try {
      const target = output();
      const result = await downloadArchive({
        url: `http://127.0.0.1:${port}/must-gather.tar.gz`,
        output: target,
        expectedSha256: sha256,
        retries: 20,
        retryDelayMs: 100,
        onProgress: ({ received }) => {
          if (received >= 2 * 1024 * 1024 && !restarted) {
            server.kill('SIGKILL');
            restarted = once(server, 'exit').then(() => startServerProcess(port)).then((s) => (server = s));
          }
        },
      });
      expect(restarted).toBeDefined();
      expect(result.attempts).toBeGreaterThan(1);
      expect(result.resumedFrom).toBeGreaterThanOrEqual(2 * 1024 * 1024);
      expect(result.resumedFrom).toBeLessThan(content.length);
      expect(readFileSync(target).equals(content)).toBe(true);
    } finally {
      await restarted;
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  }, 30_000);

  it('rejects a checksum mismatch and keeps nothing', async () => {
    const target = output();
    const err = await downloadArchive({ url, output: target, expectedSha256: '0'.repeat(64) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/^sha256 mismatch for .*: expected 0{64}, got [0-9a-f]{64}; the download was removed/);
    expect(existsSync(target) || existsSync(`${target}.part`)).toBe(false);
  });

  it.each([
    [401, /HTTP 401 from .*: not logged in or the token was rejected; log in with "oc login"/],
    [403, /HTTP 403 from .*: only cluster admins may download reports/],
    [404, /HTTP 404 from .*: no archive there/],
    [302, /HTTP 302 from .* \(to \/oauth\/start\): the proxy wants a browser login/],
  ])('explains HTTP %i without retrying', async (status, message) => {
    const { url: failing, server, requests } = await statusServer([status], { Location: '/oauth/start' });
    try {
      await expect(downloadArchive({ url: failing, output: output(), token: 't', retries: 3, retryDelayMs: 10 })).rejects.toThrow(message);
      expect(requests()).toBe(1);
    } finally {
      server.close();
    }
  });

  it('retries 5xx, then succeeds; gives up with the last error after the retries', async () => {
    const flaky = await statusServer([503, 502, 200]);
    const down = await statusServer([503]);
    try {
      expect((await downloadArchive({ url: flaky.url, output: output(), retries: 3, retryDelayMs: 10 })).attempts).toBe(3);
      await expect(downloadArchive({ url: down.url, output: output(), retries: 2, retryDelayMs: 10 })).rejects.toThrow(/HTTP 503 .*\(after 3 attempts\)/);
    } finally {
      flaky.server.close();
      down.server.close();
    }
  });

  it('sends the bearer token', async () => {
    let authorization: string | undefined;
    const server = createServer((req, res) => {
      authorization = req.headers.authorization;
      res.end('x');
    });
    try {
      await downloadArchive({ url: `http://127.0.0.1:${await listen(server)}/must-gather.tar.gz`, output: output(), token: 'sha256~abc' });
      expect(authorization).toBe('Bearer sha256~abc');
    } finally {
      server.close();
    }
  });

  it('explains a connection refused after the retries', async () => {
    const port = await freePort();
    await expect(downloadArchive({ url: `http://127.0.0.1:${port}/x`, output: output(), retries: 1, retryDelayMs: 10 }))
      .rejects.toThrow(/^download http:.*: connection refused \(127\.0\.0\.1:\d+\) \(after 2 attempts\)$/);
  });
});

/** A port nothing listens on (until someone does). */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `mustgather serve` as a real process, ready once /healthz answers. */
async function startServerProcess(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', 'serve', '--dir', served, '--port', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => get(`http://127.0.0.1:${port}/healthz`, (res) => resolve(res.resume() && res.statusCode === 200)).on('error', () => resolve(false)));
    if (ok) return child;
    if (child.exitCode !== null) throw new Error(`mustgather serve exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('mustgather serve did not start within 10 s');
}

describe('waitForReady', () => {
  const report = (ready?: Partial<MustGatherReport['status'] & { reason: string; status: 'True' | 'False'; message: string }>, extra: Partial<MustGatherReport> = {}): MustGatherReport => ({
    apiVersion: 'mustgather.openshift.io/v1alpha1',
    kind: 'MustGatherReport',
    metadata: { name: 'r', namespace: 'ns' },
    spec: { images: ['i'] },
    status: ready && {
      ...(ready.report_url ? { report_url: ready.report_url } : {}),
      conditions: [{ type: 'Ready', status: ready.status ?? 'False', reason: ready.reason ?? 'Pending', message: ready.message ?? '', lastTransitionTime: '2024-01-01T00:00:00Z' }],
    },
    ...extra,
  });

  function reader(sequence: (MustGatherReport | Error | undefined)[]) {
    let i = 0;
    return async () => {
      const next = sequence[Math.min(i++, sequence.length - 1)];
      if (next instanceof Error) throw next;
      return next;
    };
  }

  it('waits through gathering, gather failures and a missing URL until Ready with a URL, reporting each status', async () => {
    const lines: string[] = [];
    const ready = await waitForReady({
      reportRef: 'ns/r',
      timeoutMs: 5000,
      intervalMs: 1,
      onStatus: (line) => lines.push(line),
      readReport: reader([
        report(),
        report({ reason: 'Gathering', message: 'gather 1 of 2 running' }),
        new Error('connection reset'),
        report({ reason: 'GatherFailed', message: 'image 2 exited with code 3' }),
        report({ status: 'True', reason: 'ArchiveReady' }),
        report({ status: 'True', reason: 'ArchiveReady', report_url: 'https://x/must-gather.tar.gz' }),
      ]),
    });
    expect(ready.status.report_url).toBe('https://x/must-gather.tar.gz');
    expect(lines).toEqual([
      'Pending: the operator has not reported on the report yet',
      'Gathering: gather 1 of 2 running',
      'Gathering: gather 1 of 2 running (read failed: connection reset; retrying)',
      'GatherFailed: image 2 exited with code 3',
      'Ready: waiting for the route to publish the URL (status.report_url is empty)',
    ]);
  });

  it('stops at a terminal reason, a deletion, a missing report, repeated read failures and the timeout', async () => {
    const wait = (sequence: (MustGatherReport | Error | undefined)[], timeoutMs = 5000) => waitForReady({ reportRef: 'ns/r', timeoutMs, intervalMs: 1, readReport: reader(sequence) });
    await expect(wait([report({ reason: 'ArchiveFailed', message: 'no space left' })])).rejects.toThrow('report ns/r failed: ArchiveFailed: no space left');
    await expect(wait([report({ reason: 'Gathering' }, { metadata: { name: 'r', namespace: 'ns', deletionTimestamp: '2024-01-01T00:00:00Z' } })])).rejects.toThrow('report ns/r is being deleted');
    await expect(wait([undefined])).rejects.toThrow('report ns/r not found');
    await expect(wait([new Error('forbidden')])).rejects.toThrow('read report ns/r: forbidden');
    await expect(wait([report({ reason: 'Gathering', message: 'slow' })], 30)).rejects.toThrow(/not Ready after 0 s; last status: Gathering: slow/);
  });
});

describe('formatProgress', () => {
  it('shows a bar, percentage, sizes, rate and ETA', () => {
    expect(formatProgress(50 * 2 ** 20, 100 * 2 ** 20, 10 * 2 ** 20, 10)).toBe('[=====>    ]  50%  50.0 MiB / 100.0 MiB  10.0 MiB/s  ETA 0:05');
    expect(formatProgress(2 ** 20, undefined, 0)).toBe('1.0 MiB  0.0 MiB/s');
  });
});
