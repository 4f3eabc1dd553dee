import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, issueClientCert, issueServingCert } from '../controlplane/pki.js';
import type { MustGatherReport } from '../constructs/report-api.js';
import { reportObjectNames } from '../constructs/report-identity.js';
import type { Authorizer } from './delegated-auth.js';
import {
  canConnect, downloadArchive, DownloadError, downloadReport, type Forward, type ForwardTarget, formatProgress, isInClusterHost,
  kubeConfigCredentials, type PublishedReport, waitForReady,
} from './download.js';
import { createFileServer, type FileServer } from './serve.js';

const dir = mkdtempSync(join(tmpdir(), 'download-test-'));
const served = join(dir, 'served');
const content = randomBytes(24 * 1024 * 1024);
const sha256 = createHash('sha256').update(content).digest('hex');
const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') };
/** The report's identity: its file server's certificate is issued for the Service's in-cluster names. */
const reportMeta = { name: 'r', namespace: 'ns', uid: '0a1b' };
const serviceHost = `must-gather.${reportObjectNames(reportMeta).namespace}.svc`;
const TOKEN = 'sha256~admin';
let ca: string;
let clientCa: Awaited<ReturnType<typeof createCA>>;
let fileServer: FileServer;
let port: number;
let url: string;
/** The credentials as the server saw them, for the test that checks what is sent. */
let seen: { authorization?: string; certificate?: string }[] = [];

/**
 * Stands in for the cluster's verdict (the real one is tested against a real API server in test/integration): one
 * token, or a client certificate of the client CA; a known wrong token is a 403 naming its user.
 */
const authorize: Authorizer = async (req) => {
  const socket = req.socket as TLSSocket;
  const certificate = socket.authorized ? (socket.getPeerCertificate().subject?.CN as string) : undefined;
  seen.push({ authorization: req.headers.authorization, certificate });
  if (req.headers.authorization === `Bearer ${TOKEN}` || certificate) return { allowed: true, user: { username: certificate ?? 'admin', groups: [] } };
  if (req.headers.authorization === 'Bearer viewer') return { allowed: false, status: 403, message: 'user "viewer" may not * * (group *) cluster-wide' };
  return { allowed: false, status: 401, message: 'no credentials' };
};
const credentials = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  mkdirSync(served);
  writeFileSync(join(served, 'must-gather.tar.gz'), content);
  const authority = await createCA('download-test-ca');
  clientCa = await createCA('download-test-client-ca');
  const serving = await issueServingCert(authority, [serviceHost, `${serviceHost}.cluster.local`]);
  ca = authority.cert;
  writeFileSync(tls.certFile, serving.cert);
  writeFileSync(tls.keyFile, serving.key);
  writeFileSync(tls.clientCaFile, clientCa.cert);
  fileServer = createFileServer({ dir: served, tls, authorize });
  port = await listen(fileServer.server);
  url = `https://127.0.0.1:${port}/must-gather.tar.gz`;
});
afterAll(async () => {
  await fileServer.shutdown(100);
  rmSync(dir, { recursive: true, force: true });
});

async function listen(server: Server | import('node:net').Server, at = 0): Promise<number> {
  server.listen(at, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A server answering every request with `status` and `body` (and counting them). */
async function statusServer(statuses: number[], headers: Record<string, string> = {}, body = 'no'): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((_req, res) => {
    const status = statuses[Math.min(requests++, statuses.length - 1)]!;
    if (status === 200) return void res.writeHead(200, { 'Content-Length': 5 }).end('hello');
    res.writeHead(status, headers).end(body);
  });
  return { url: `http://127.0.0.1:${await listen(server)}/must-gather.tar.gz`, server, requests: () => requests };
}

let outputs = 0;
const output = () => join(dir, `out-${++outputs}.tar.gz`);

describe('downloadArchive', () => {
  it('downloads and verifies', async () => {
    const target = output();
    const result = await downloadArchive({ url, output: target, expectedSha256: sha256, credentials, ca: [ca] });
    expect(result).toMatchObject({ path: target, bytes: content.length, sha256, resumedFrom: 0, attempts: 1 });
    expect(readFileSync(target).equals(content)).toBe(true);
    expect(existsSync(`${target}.part`) || existsSync(`${target}.part.json`)).toBe(false);
  });

  it('resumes a part left by an earlier run, and starts over when the file changed since', async () => {
    const { headers } = await new Promise<{ headers: Record<string, string | string[] | undefined> }>((done) => httpsRequest(url, { method: 'HEAD', ca, headers: { Authorization: `Bearer ${TOKEN}` } }, done).end());
    const target = output();
    writeFileSync(`${target}.part`, content.subarray(0, 1_000_000));
    writeFileSync(`${target}.part.json`, JSON.stringify({ url, etag: headers.etag }));
    const resumed = await downloadArchive({ url, output: target, expectedSha256: sha256, credentials, ca: [ca] });
    expect(resumed.resumedFrom).toBe(1_000_000);
    expect(readFileSync(target).equals(content)).toBe(true);

    const stale = output();
    writeFileSync(`${stale}.part`, Buffer.alloc(1_000_000, 7)); // not the file's bytes: If-Range must send it whole
    writeFileSync(`${stale}.part.json`, JSON.stringify({ url, etag: '"stale"' }));
    const restarted = await downloadArchive({ url, output: stale, expectedSha256: sha256, credentials, ca: [ca] });
    expect(readFileSync(stale).equals(content)).toBe(true);
    expect(restarted.resumedFrom).toBe(1_000_000); // it asked to resume, the server said no
  });

  it('resumes after the server process is killed mid-transfer and restarted', async () => {
    const at = await freePort();
    let server = await startServerProcess(at);
    let restarted: Promise<ChildProcess> | undefined;
    try {
      const target = output();
      const result = await downloadArchive({
        url: `https://127.0.0.1:${at}/must-gather.tar.gz`,
        output: target,
        expectedSha256: sha256,
        credentials,
        ca: [ca],
        retries: 20,
        retryDelayMs: 100,
        onProgress: ({ received }) => {
          if (received >= 2 * 1024 * 1024 && !restarted) {
            server.kill('SIGKILL');
            restarted = once(server, 'exit').then(() => startServerProcess(at)).then((s) => (server = s));
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
    const err = await downloadArchive({ url, output: target, expectedSha256: '0'.repeat(64), credentials, ca: [ca] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/^sha256 mismatch for .*: expected 0{64}, got [0-9a-f]{64}; the download was removed/);
    expect(existsSync(target) || existsSync(`${target}.part`)).toBe(false);
  });

  it.each([
    [401, '', /^HTTP 401 from .*: not logged in or the credentials were rejected; log in again/],
    [401, 'no credentials\n', /^HTTP 401 from \S+: no credentials; log in again/],
    [403, 'user "viewer" may not * * (group *) cluster-wide\n', /^HTTP 403 from \S+: user "viewer" may not \* \* \(group \*\) cluster-wide; downloading a report takes a cluster admin/],
    [403, '<html>Forbidden</html>', /^HTTP 403 from \S+: access denied; downloading a report takes a cluster admin/],
    [404, '', /HTTP 404 from .*: no archive there/],
    [302, '', /HTTP 302 from .* \(to \/oauth\/start\): the proxy wants a browser login/],
  ])('explains HTTP %i (body "%s") in one line without retrying', async (status, body, message) => {
    const { url: failing, server, requests } = await statusServer([status], { Location: '/oauth/start' }, body);
    try {
      const err = await downloadArchive({ url: failing, output: output(), credentials, retries: 3, retryDelayMs: 10 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
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
      await expect(downloadArchive({ url: down.url, output: output(), retries: 2, retryDelayMs: 10 })).rejects.toThrow(/HTTP 503: no .*\(after 3 attempts\)/);
    } finally {
      flaky.server.close();
      down.server.close();
    }
  });

  it('sends the bearer token, or the client certificate', async () => {
    seen = [];
    await downloadArchive({ url, output: output(), credentials, ca: [ca] });
    const client = await issueClientCert(clientCa, 'cert-user', ['system:masters']);
    await downloadArchive({ url, output: output(), credentials: { cert: client.cert, key: client.key }, ca: [ca] });
    expect(seen).toEqual([{ authorization: `Bearer ${TOKEN}` }, { authorization: undefined, certificate: 'cert-user' }]);
  });

  it('refuses the server\'s 403 in one line and leaves no file', async () => {
    const target = output();
    const err = await downloadArchive({ url, output: target, credentials: { authorization: 'Bearer viewer' }, ca: [ca] }).catch((e: Error) => e);
    expect((err as Error).message).toBe(`HTTP 403 from ${url}: user "viewer" may not * * (group *) cluster-wide; downloading a report takes a cluster admin unless the operator says otherwise`);
    expect(readdirSync(dir).filter((f) => f.startsWith(target.split('/').at(-1)!))).toEqual([]);
  });

  it('checks the certificate against the given CA only in addition to the system\'s', async () => {
    await expect(downloadArchive({ url, output: output(), credentials, retries: 0 })).rejects.toThrow(/^TLS: .*pass --certificate-authority/);
    await expect(downloadArchive({ url, output: output(), credentials, ca: [clientCa.cert], retries: 0 })).rejects.toThrow(/^TLS: /);
    expect((await downloadArchive({ url, output: output(), credentials, insecure: true })).sha256).toBe(sha256);
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

/**
 * The file server as a real process of its own (so it can be killed), ready once /healthz answers. It admits every
 * caller: what is tested here is resuming, not who may download.
 */
async function startServerProcess(at: number): Promise<ChildProcess> {
  const script = `import { createFileServer } from ${JSON.stringify(resolve('datapath/serve.ts'))};
    createFileServer({ dir: ${JSON.stringify(served)}, tls: ${JSON.stringify(tls)}, authorize: async () => ({ allowed: true, user: { username: 'anyone', groups: [] } }) })
      .server.listen(${at}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((done) => httpsRequest(`https://127.0.0.1:${at}/healthz`, { ca }, (res) => done(res.resume() && res.statusCode === 200)).on('error', () => done(false)).end());
    if (ok) return child;
    if (child.exitCode !== null) throw new Error(`the file server process exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the file server process did not start within 10 s');
}

describe('downloadReport', () => {
  const published = (reportUrl: string, caBundle?: string): PublishedReport => ({
    apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport', metadata: reportMeta, spec: { images: ['i'] },
    status: { report_url: reportUrl, archive: { sha256, sizeBytes: content.length }, ...(caBundle ? { caBundle } : {}) },
  });

  /** Plays the port-forward without a node: a real local TCP relay to the file server, recording what was asked for. */
  function relay(): { targets: ForwardTarget[]; forward: (target: ForwardTarget) => Promise<Forward> } {
    const targets: ForwardTarget[] = [];
    return {
      targets,
      forward: async (target) => {
        targets.push(target);
        const sockets = new Set<import('node:net').Socket>();
        const server = createTcpServer((socket) => {
          const upstream = connect(port, '127.0.0.1');
          for (const s of [socket, upstream]) {
            sockets.add(s);
            s.on('error', () => undefined);
          }
          socket.pipe(upstream).pipe(socket);
        });
        const local = await listen(server);
        return {
          port: local,
          lastError: undefined,
          close: () => new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
        };
      },
    };
  }

  it('downloads from a reachable URL, trusting status.caBundle', async () => {
    const { targets, forward } = relay();
    const result = await downloadReport(published(url, ca), { output: output(), credentials, forward });
    expect(result.sha256).toBe(sha256);
    expect(targets).toEqual([]);
  });

  it.each([
    ['an in-cluster Service URL', `https://${serviceHost}/must-gather.tar.gz`],
    ['an in-cluster URL with the cluster domain', `https://${serviceHost}.cluster.local:443/must-gather.tar.gz`],
  ])('port-forwards to the report pod\'s file server for %s, checking the certificate against the Service name', async (_what, reportUrl) => {
    const { targets, forward } = relay();
    const routes: string[] = [];
    const result = await downloadReport(published(reportUrl, ca), { output: output(), credentials, forward, onRoute: (line) => routes.push(line) });
    expect(result.sha256).toBe(sha256);
    expect(targets).toEqual([{ namespace: reportObjectNames(reportMeta).namespace, pod: 'must-gather', port: 8443 }]);
    expect(routes).toEqual([`${new URL(reportUrl).hostname} is an in-cluster name: downloading through a port-forward to pod ${targets[0]!.namespace}/must-gather port 8443`]);
  });

  it('port-forwards when the URL cannot be reached from here', async () => {
    const { targets, forward } = relay();
    const closed = await freePort();
    const result = await downloadReport(published(`https://${serviceHost.replace(/\.svc$/, '.example')}:${closed}/must-gather.tar.gz`, ca), {
      output: output(), credentials, forward, probeTimeoutMs: 1000, retries: 0,
    }).catch((e: Error) => e);
    // The relay reaches the server, whose certificate is not for that external name: the fallback happened and was checked.
    expect(targets).toHaveLength(1);
    expect((result as Error).message).toMatch(/certificate is for another host name/);
  });

  it('refuses a certificate the report\'s CA did not sign, through the port-forward too', async () => {
    const { forward } = relay();
    const other = await createCA('someone-else');
    await expect(downloadReport(published(`https://${serviceHost}/must-gather.tar.gz`, other.cert), { output: output(), credentials, forward, retries: 0 }))
      .rejects.toThrow(/^TLS: /);
  });
});

describe('kubeConfigCredentials', () => {
  const config = (user: Record<string, unknown>) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://api.example:6443', caData: Buffer.from(ca).toString('base64'), skipTLSVerify: true }],
      users: [{ name: 'u', ...user }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c',
    });
    return kc;
  };

  it('takes the context\'s token or client certificate, never the API server\'s CA or skip-verify', async () => {
    expect(await kubeConfigCredentials(config({ token: 'abc' }))).toEqual({ authorization: 'Bearer abc' });
    const client = await issueClientCert(clientCa, 'someone');
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    expect(await kubeConfigCredentials(config({ certData: b64(client.cert), keyData: b64(client.key) }))).toEqual({ cert: Buffer.from(client.cert), key: Buffer.from(client.key) });
    expect(await kubeConfigCredentials(config({}))).toEqual({});
  });
});

describe('isInClusterHost and canConnect', () => {
  it.each([
    ['must-gather.ns.svc', true], ['must-gather.ns.svc.cluster.local', true], ['must-gather.ns.svc.cluster.local.', true],
    ['reports.apps.example.com', false], ['svc.example.com', false], ['127.0.0.1', false],
  ])('%s in-cluster: %s', (host, expected) => {
    expect(isInClusterHost(host)).toBe(expected);
  });

  it('says why a host cannot be reached', async () => {
    expect(await canConnect('127.0.0.1', port, 1000)).toBeUndefined();
    expect(await canConnect('127.0.0.1', await freePort(), 1000)).toMatch(/^127\.0\.0\.1:\d+: connection refused/);
  });
});

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
