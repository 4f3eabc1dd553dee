import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, issueServingCert } from '../controlplane/pki.js';
import type { Authorizer } from './delegated-auth.js';
import { createFileServer, type DownloadRecord, type FileServer, type FileServerOptions } from './serve.js';

const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
const archive = randomBytes(3 * 1024 * 1024 + 123);
const sha256 = createHash('sha256').update(archive).digest('hex');
let server: FileServer;
let port: number;
let ca: string;
const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
const downloads: DownloadRecord[] = [];

/** Stands in for the cluster's verdict (the real one is tested against a real API server in test/integration). */
const authorize: Authorizer = async (req) => {
  if (req.headers.authorization === 'Bearer admin') return { allowed: true, user: { username: 'admin', groups: ['system:masters'] } };
  if (req.headers.authorization === 'Bearer viewer') return { allowed: false, status: 403, message: 'user "viewer" may not * * (group *) cluster-wide' };
  return { allowed: false, status: 401, message: 'no credentials' };
};

beforeAll(async () => {
  const authority = await createCA('serve-test-ca');
  const serving = await issueServingCert(authority);
  ca = authority.cert;
  writeFileSync(tls.certFile, serving.cert);
  writeFileSync(tls.keyFile, serving.key);
  writeFileSync(join(dir, 'must-gather.tar.gz'), archive);
  writeFileSync(join(dir, 'must-gather.tar.gz.sha256'), `${sha256}  must-gather.tar.gz\n`);
  mkdirSync(join(dir, 'gathers'));
  writeFileSync(join(dir, 'gathers', 'secret'), 'not served');
  ({ port, server } = await listen(dir, 'ns-a/report-1'));
});
afterAll(async () => {
  await server.shutdown(1000);
  rmSync(dir, { recursive: true, force: true });
});

async function listen(directory: string, report?: string, readBytes?: number, options: Partial<FileServerOptions> = {}): Promise<{ port: number; server: FileServer }> {
  const fileServer = createFileServer({ dir: directory, report, readBytes, tls, authorize, onDownload: (record) => downloads.push(record), ...options });
  fileServer.server.listen(0, '127.0.0.1');
  await once(fileServer.server, 'listening');
  return { port: (fileServer.server.address() as { port: number }).port, server: fileServer };
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const ADMIN = { Authorization: 'Bearer admin' };

/** A raw request as the admin unless `headers` say otherwise: the path is sent as given, never normalized. */
function fetchRaw(path: string, { method = 'GET', headers = ADMIN, to = port }: { method?: string; headers?: Record<string, string>; to?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: to, path, method, headers, agent: false, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const ARCHIVE = '/must-gather.tar.gz';

describe('file server', () => {
  it('serves the archive with length, validators, disposition and range support', async () => {
    const res = await fetchRaw(ARCHIVE);
    expect(res.status).toBe(200);
    expect(res.body.equals(archive)).toBe(true);
    expect(res.headers['content-length']).toBe(String(archive.length));
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-disposition']).toBe('attachment; filename="must-gather-ns-a-report-1.tar.gz"');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(res.headers['last-modified']!).getTime()).toBe(Math.floor(statSync(join(dir, 'must-gather.tar.gz')).mtimeMs / 1000) * 1000);
  });

  it('serves the checksum file', async () => {
    const res = await fetchRaw(`${ARCHIVE}.sha256`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(`${sha256}  must-gather.tar.gz\n`);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await fetchRaw(ARCHIVE, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(archive.length));
    expect(res.body.length).toBe(0);
  });

  it.each([
    ['first bytes', 'bytes=0-99', 0, 99],
    ['a middle slice', 'bytes=1000-1999', 1000, 1999],
    ['a suffix', 'bytes=-500', archive.length - 500, archive.length - 1],
    ['an open end', 'bytes=3145000-', 3145000, archive.length - 1],
    ['an end past the size', `bytes=10-${archive.length + 1000}`, 10, archive.length - 1],
    ['a suffix longer than the file', `bytes=-${archive.length * 2}`, 0, archive.length - 1],
  ])('serves %s as 206', async (_name, range, start, end) => {
    const res = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: range } });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${archive.length}`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(res.body.equals(archive.subarray(start, end + 1))).toBe(true);
  });

  it.each(['bytes=99999999-', 'bytes=-0', `bytes=${3 * 1024 * 1024 + 123}-`])('answers 416 to the unsatisfiable %s', async (range) => {
    const res = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: range } });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${archive.length}`);
  });

  it.each(['bytes=0-1,5-6', 'bytes=5-1', 'items=0-1', 'bytes=-'])('sends everything for the range %s it does not support', async (range) => {
    const res = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: range } });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(archive.length);
  });

  it('honours If-Range only while the validator matches', async () => {
    const { headers } = await fetchRaw(ARCHIVE, { method: 'HEAD' });
    const partial = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: 'bytes=10-19', 'If-Range': headers.etag! } });
    expect(partial.status).toBe(206);
    expect(partial.body.equals(archive.subarray(10, 20))).toBe(true);
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: 'bytes=10-19', 'If-Range': headers['last-modified']! } })).status).toBe(206);
    const changed = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: 'bytes=10-19', 'If-Range': '"0-0"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.length).toBe(archive.length);
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: 'bytes=10-19', 'If-Range': 'Thu, 01 Jan 1970 00:00:00 GMT' } })).status).toBe(200);
  });

  it('answers 304 to matching conditional requests', async () => {
    const { headers } = await fetchRaw(ARCHIVE, { method: 'HEAD' });
    const byTag = await fetchRaw(ARCHIVE, { headers: { ...ADMIN, 'If-None-Match': `"x", ${headers.etag}` } });
    expect(byTag.status).toBe(304);
    expect(byTag.body.length).toBe(0);
    expect(byTag.headers.etag).toBe(headers.etag);
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, 'If-None-Match': `W/${headers.etag}` } })).status).toBe(304);
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, 'If-Modified-Since': headers['last-modified']! } })).status).toBe(304);
    // If-None-Match wins over If-Modified-Since.
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, 'If-None-Match': '"other"', 'If-Modified-Since': headers['last-modified']! } })).status).toBe(200);
    expect((await fetchRaw(ARCHIVE, { headers: { ...ADMIN, 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } })).status).toBe(200);
  });

  it.each([
    '/../etc/passwd', '/%2e%2e/etc/passwd', '/%2e%2e%2fetc%2fpasswd', `${ARCHIVE}/`, '//', `/${ARCHIVE}`, '/gathers', '/gathers/',
    '/gathers/secret', '/must-gather.tar.gz%00', '/MUST-GATHER.TAR.GZ', '/./must-gather.tar.gz', '/index.html', 'http://evil/etc/passwd', '*',
  ])('answers 404 to %s', async (path) => {
    const res = await fetchRaw(path);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('not found\n');
  });

  it('ignores a query string', async () => {
    expect((await fetchRaw(`${ARCHIVE}?download=1`, { method: 'HEAD' })).status).toBe(200);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('answers 405 to %s', async (method) => {
    const res = await fetchRaw(ARCHIVE, { method });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  it('shows an index page with the report, size, checksum and link', async () => {
    const res = await fetchRaw('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = res.body.toString();
    expect(html).toContain('must-gather report ns-a/report-1');
    expect(html).toContain(`(${archive.length} bytes)`);
    expect(html).toContain(sha256);
    expect(html).toContain('<a href="/must-gather.tar.gz">');
    expect(html).toContain('mustgather download report-1 -n ns-a');
  });

  it('escapes the report name on the index page', async () => {
    const other = await listen(dir, '<script>alert("x")</script>/a&b');
    try {
      const html = (await fetchRaw('/', { to: other.port })).body.toString();
      expect(html).not.toContain('<script>');
      expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;/a&#38;b');
    } finally {
      await other.server.shutdown(100);
    }
  });

  it('reports health only once the archive exists', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'serve-empty-'));
    const other = await listen(empty);
    try {
      expect((await fetchRaw('/healthz', { to: other.port })).status).toBe(503);
      expect((await fetchRaw(ARCHIVE, { to: other.port })).status).toBe(404);
      expect((await fetchRaw('/', { to: other.port })).body.toString()).toContain('not ready yet');
      writeFileSync(join(empty, 'must-gather.tar.gz'), 'x');
      const ok = await fetchRaw('/healthz', { to: other.port });
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toBe('ok\n');
    } finally {
      await other.server.shutdown(100);
      rmSync(empty, { recursive: true });
    }
  });

  it('serves many concurrent clients correctly, full and ranged', async () => {
    const small = await listen(dir, undefined, 64 * 1024); // small reads: many interleaved writes per response
    try {
      const requests = Array.from({ length: 24 }, (_, i) => {
        const start = i * 100_000;
        return i % 2
          ? fetchRaw(ARCHIVE, { to: small.port }).then((r) => createHash('sha256').update(r.body).digest('hex') === sha256)
          : fetchRaw(ARCHIVE, { to: small.port, headers: { ...ADMIN, Range: `bytes=${start}-` } }).then((r) => r.body.equals(archive.subarray(start)));
      });
      expect(await Promise.all(requests)).toEqual(Array(24).fill(true));
    } finally {
      await small.server.shutdown(100);
    }
  });

  it('on shutdown refuses new connections but lets a running download finish', async () => {
    const big = mkdtempSync(join(tmpdir(), 'serve-big-'));
    const content = randomBytes(24 * 1024 * 1024);
    writeFileSync(join(big, 'must-gather.tar.gz'), content);
    const other = await listen(big);
    try {
      const received: Buffer[] = [];
      const done = new Promise<{ status: number; length: string | undefined }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: other.port, path: ARCHIVE, agent: false, ca, headers: ADMIN }, (res) => {
          res.pause(); // a slow client: the server has to wait for it
          setTimeout(() => res.resume(), 300);
          res.on('data', (c: Buffer) => received.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'] }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      await new Promise((r) => setTimeout(r, 100));
      const stopped = other.server.shutdown(10_000);
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(other.port, '127.0.0.1');
        socket.on('connect', () => { socket.destroy(); resolve('connected'); });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
      expect(await done).toEqual({ status: 200, length: String(content.length) });
      expect(Buffer.concat(received).equals(content)).toBe(true);
      await stopped;
    } finally {
      rmSync(big, { recursive: true });
    }
  });

  it('on shutdown cuts a download still running at the deadline', async () => {
    const big = mkdtempSync(join(tmpdir(), 'serve-stuck-'));
    writeFileSync(join(big, 'must-gather.tar.gz'), randomBytes(16 * 1024 * 1024));
    const other = await listen(big);
    try {
      const response = new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: other.port, path: ARCHIVE, agent: false, ca, headers: ADMIN }, (res) => {
          res.pause(); // never reads, until the server is gone
          resolve(res);
        });
        req.on('error', reject);
        req.end();
      });
      await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      await other.server.shutdown(300);
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      const res = await response;
      const closed = new Promise((resolve) => res.on('close', resolve));
      res.on('error', () => undefined);
      res.resume();
      await closed;
      expect(res.complete).toBe(false);
    } finally {
      rmSync(big, { recursive: true });
    }
  });

  it.each([
    ['no credentials', {}, 401, 'no credentials\n'],
    ['a refused user', { Authorization: 'Bearer viewer' }, 403, 'user "viewer" may not * * (group *) cluster-wide\n'],
  ])('answers %s with one line and not a byte of any route', async (_name, headers, status, body) => {
    for (const path of [ARCHIVE, `${ARCHIVE}.sha256`, '/', '/nothing-here']) {
      const res = await fetchRaw(path, { headers });
      expect(res.status).toBe(status);
      expect(res.body.toString()).toBe(body);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(res.headers.etag).toBeUndefined();
    }
    expect((await fetchRaw(ARCHIVE, { headers, method: 'HEAD' })).headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect((await fetchRaw(ARCHIVE, { headers: { ...headers, Range: 'bytes=0-9' } })).status).toBe(status);
  });

  it('leaves /healthz open to probes', async () => {
    const res = await fetchRaw('/healthz', { headers: {} });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok\n');
  });

  it('speaks TLS only', async () => {
    const plain = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString('latin1')));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(plain).not.toContain('ok');
  });

  it('reports each archive download with its user, range and bytes, and HEADs or the checksum not at all', async () => {
    downloads.length = 0;
    await fetchRaw(ARCHIVE);
    await fetchRaw(ARCHIVE, { headers: { ...ADMIN, Range: 'bytes=100-199' } });
    await fetchRaw(ARCHIVE, { method: 'HEAD' });
    await fetchRaw(`${ARCHIVE}.sha256`);
    await fetchRaw(ARCHIVE, { headers: {} });
    expect(downloads.map(({ user, status, range, bytesSent, complete }) => ({ user: user.username, status, range, bytesSent, complete }))).toEqual([
      { user: 'admin', status: 200, range: { start: 0, end: archive.length - 1, size: archive.length }, bytesSent: archive.length, complete: true },
      { user: 'admin', status: 206, range: { start: 100, end: 199, size: archive.length }, bytesSent: 100, complete: true },
    ]);
  });

  it('reports a download the client cut short as incomplete', async () => {
    const big = mkdtempSync(join(tmpdir(), 'serve-cut-'));
    writeFileSync(join(big, 'must-gather.tar.gz'), randomBytes(32 * 1024 * 1024));
    const other = await listen(big);
    downloads.length = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: other.port, path: ARCHIVE, agent: false, ca, headers: ADMIN }, (res) => {
          res.once('data', () => res.destroy());
          res.on('close', resolve);
        });
        req.on('error', reject);
        req.end();
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(downloads).toHaveLength(1);
      expect(downloads[0]).toMatchObject({ status: 200, complete: false });
      expect(downloads[0]!.bytesSent).toBeLessThan(32 * 1024 * 1024);
    } finally {
      await other.server.shutdown(100);
      rmSync(big, { recursive: true });
    }
  });

  it('serves a renewed certificate once the files change', async () => {
    const renewed = mkdtempSync(join(tmpdir(), 'serve-tls-'));
    const files = { certFile: join(renewed, 'tls.crt'), keyFile: join(renewed, 'tls.key') };
    const first = await createCA('first-ca');
    const second = await createCA('second-ca');
    const write = async (authority: typeof first) => {
      const cert = await issueServingCert(authority);
      writeFileSync(files.keyFile, cert.key);
      writeFileSync(files.certFile, cert.cert);
    };
    await write(first);
    const other = await listen(dir, undefined, undefined, { tls: files, tlsCheckMs: 50 });
    const issuer = () => new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: other.port, path: '/healthz', agent: false, rejectUnauthorized: false }, (res) => {
        resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().issuer.CN as string);
        res.resume();
      });
      req.on('error', reject);
      req.end();
    });
    try {
      expect(await issuer()).toBe('first-ca');
      await write(second);
      const deadline = Date.now() + 5000;
      while ((await issuer()) !== 'second-ca' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await issuer()).toBe('second-ca');
    } finally {
      await other.server.shutdown(100);
      rmSync(renewed, { recursive: true });
    }
  });
});
