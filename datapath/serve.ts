/**
 * The report pod's file server: `must-gather.tar.gz` and its checksum, read-only, over TLS, to callers the cluster
 * says may download ({@link Authorizer}, normally {@link DelegatedAuth}: TokenReview or the cluster's client CA, then
 * a SubjectAccessReview). Every route but `/healthz` (probes) is checked first; a refusal carries one line and never
 * a byte of the archive, the checksum or the index page.
 *
 * Only fixed names are ever opened (a request path is looked up in a table, never joined to the directory), so there
 * is no path traversal and no listing. Downloads are resumable and cacheable as browsers, curl and `mustgather
 * download` expect: single byte ranges, ETag / Last-Modified validators, If-Range, 304s. Each archive download is
 * reported ({@link FileServerOptions.onDownload}) with who, which range and how many bytes went out.
 *
 * Speed: Node has no sendfile(2), so each byte is copied once from the page cache and once into the socket. What makes
 * that competitive is few, large operations: 1 MiB reads from a pool of reused buffers, two per download so the next
 * read overlaps the previous write, each write handed to the socket without copies or chunked encoding.
 */
import { constants, readFileSync, statSync } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { once } from 'node:events';
import { join } from 'node:path';
import { PATHS } from '../constructs/pod-contract.js';
import { formatBytes } from '../constructs/quantity.js';
import { API_GROUP, API_VERSION, KIND } from '../constructs/report-api.js';
import type { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import type { Authorizer, UserInfo } from './delegated-auth.js';

/** The server's certificate and key, and the CA client certificates must chain to, as PEM files. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Omitted: client certificates are not asked for (bearer tokens only). */
  clientCaFile?: string;
}

/** Options of {@link createFileServer}. */
export interface FileServerOptions {
  /** Directory holding the archive and its checksum (the volume, read-only). */
  dir: string;
  /** Serving certificate and client CA; re-read when they change (a Secret update rotates them). */
  tls: TlsFiles;
  /** Decides on every request but `/healthz`. */
  authorize: Authorizer;
  /** `namespace/name` of the report: shown on the index page and in the download's file name. */
  report?: string;
  /** Bytes per read (and per socket write). @default 1 MiB */
  readBytes?: number;
  /** How often the TLS files are checked for changes. @default 10 s */
  tlsCheckMs?: number;
  /** Called once per archive download (GET, 200 or 206), finished or cut. @default none */
  onDownload?: (record: DownloadRecord) => void;
}

export const FILE_SERVER_DEFAULTS = { readBytes: 1024 * 1024, tlsCheckMs: 10_000 } as const;

/** One archive download, for the log and the report's Events. */
export interface DownloadRecord {
  readonly user: UserInfo;
  /** `address:port` of the client. */
  readonly client: string;
  readonly status: 200 | 206;
  /** First and last byte asked for (inclusive) and the archive's size. */
  readonly range: { readonly start: number; readonly end: number; readonly size: number };
  readonly bytesSent: number;
  readonly complete: boolean;
  readonly startedAt: Date;
  readonly seconds: number;
}

const ARCHIVE = PATHS.archiveFile;
const CHECKSUM = `${PATHS.archiveFile}.sha256`;

type Route = (req: IncomingMessage, res: ServerResponse, user: UserInfo) => Promise<void>;

/** A file server and what stopping it gracefully needs. */
export interface FileServer {
  readonly server: Server;
  /**
   * Stops accepting connections, lets in-flight responses finish for up to `deadlineMs`, then cuts what is left.
   * Resolves once every connection is closed.
   */
  shutdown(deadlineMs: number): Promise<void>;
}

export function createFileServer(options: FileServerOptions): FileServer {
  const settings = {
    ...options,
    readBytes: options.readBytes ?? FILE_SERVER_DEFAULTS.readBytes,
    tlsCheckMs: options.tlsCheckMs ?? FILE_SERVER_DEFAULTS.tlsCheckMs,
  };
  const buffers = new BufferPool(settings.readBytes);
  let shuttingDown = false;
  const downloadName = `must-gather${settings.report ? `-${settings.report.replace(/[^A-Za-z0-9._-]+/g, '-')}` : ''}.tar.gz`;

  const routes: Record<string, Route> = {
    '/': (req, res) => indexPage(req, res, settings.dir, settings.report),
    [`/${ARCHIVE}`]: (req, res, user) =>
      sendFile(req, res, { path: join(settings.dir, ARCHIVE), contentType: 'application/gzip', downloadName, buffers, user, onDownload: settings.onDownload }),
    [`/${CHECKSUM}`]: (req, res, user) =>
      sendFile(req, res, { path: join(settings.dir, CHECKSUM), contentType: 'text/plain; charset=utf-8', downloadName: `${downloadName}.sha256`, buffers, user }),
  };

  const failed = (req: IncomingMessage, res: ServerResponse) => (err: Error) => {
    // Headers may be gone already (a file vanished mid-download): then cutting the connection is the only signal.
    if (res.headersSent) res.destroy(err);
    else plain(res, req, 500, 'internal error\n');
    console.error(`${req.method} ${req.url}: ${err.message}`);
  };

  const server = createServer({
    ...readTls(settings.tls),
    // Client certificates are asked for but checked per request: a caller with a bearer token has none. Without a
    // client CA none is asked for: Node would check them against the public roots.
    requestCert: Boolean(settings.tls.clientCaFile),
    rejectUnauthorized: false,
    keepAliveTimeout: 5_000,
  }, (req, res) => {
    if (shuttingDown) res.shouldKeepAlive = false;
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/healthz') return void health(req, res, settings.dir).catch(failed(req, res));
    settings.authorize(req).then((verdict) => {
      if (!verdict.allowed) {
        const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
        if (verdict.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="must-gather"';
        if (verdict.status === 429 || verdict.status === 503) headers['Retry-After'] = '1';
        return plain(res, req, verdict.status, `${verdict.message}\n`, headers);
      }
      const route = routes[path];
      if (!route) return plain(res, req, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return plain(res, req, 405, `method ${req.method} not allowed\n`);
      }
      return route(req, res, verdict.user);
    }).catch(failed(req, res));
  });
  const stopWatching = watchTls(server, settings.tls, settings.tlsCheckMs);

  return {
    server,
    async shutdown(deadlineMs) {
      shuttingDown = true;
      stopWatching();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections whose response finishes from now on turn idle: close them as they get there.
      const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
      try {
        await closed;
      } finally {
        clearInterval(idleSweep);
        clearTimeout(deadline);
      }
    },
  };
}

function readTls(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    cert: read('TLS certificate', files.certFile),
    key: read('TLS private key', files.keyFile),
    ...(files.clientCaFile ? { ca: read('client CA', files.clientCaFile) } : {}),
  };
}

/**
 * Re-reads the TLS files when one of them changes (a Secret update swaps the mounted files): polling `stat`, because
 * fs.watch misses the symlink swap a Secret volume does. New connections get the new certificate. Returns the stop.
 */
function watchTls(server: Server, files: TlsFiles, intervalMs: number): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  // Three stats every few seconds: cheap enough to do synchronously.
  const fingerprint = () => paths.map((p) => {
    const s = statSync(p, { throwIfNoEntry: false });
    return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
  }).join(',');
  let seen = fingerprint();
  const timer = setInterval(() => {
    const now = fingerprint();
    if (now === seen) return;
    try {
      server.setSecureContext(readTls(files));
      seen = now;
      console.log(`reloaded TLS files (${paths.join(', ')})`);
    } catch (err) {
      // A half-written update fails to load: keep the old context and try again on the next tick.
      console.error(`reload TLS files: ${(err as Error).message}`);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function plain(res: ServerResponse, req: IncomingMessage, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function health(req: IncomingMessage, res: ServerResponse, dir: string): Promise<void> {
  const ready = await stat(join(dir, ARCHIVE)).then((s) => s.isFile(), () => false);
  plain(res, req, ready ? 200 : 503, ready ? 'ok\n' : 'the archive is not ready\n', { 'Cache-Control': 'no-store' });
}

async function indexPage(req: IncomingMessage, res: ServerResponse, dir: string, report: string | undefined): Promise<void> {
  const [archive, checksum] = await Promise.all([
    stat(join(dir, ARCHIVE)).catch(() => undefined),
    open(join(dir, CHECKSUM), 'r').then(async (handle) => {
      try {
        return (await handle.read(Buffer.alloc(64), 0, 64, 0)).buffer.toString('latin1');
      } finally {
        await handle.close();
      }
    }).catch(() => undefined),
  ]);
  const title = `must-gather report${report ? ` ${report}` : ''}`;
  const body = archive
    ? `<p><a href="/${ARCHIVE}">${ARCHIVE}</a>, ${escapeHtml(formatBytes(archive.size))} (${archive.size} bytes), ` +
      `created ${escapeHtml(archive.mtime.toISOString())}</p>\n` +
      `<p>sha256 <code>${escapeHtml(checksum ?? 'unknown')}</code> (<a href="/${CHECKSUM}">${CHECKSUM}</a>)</p>\n` +
      `<p>From a terminal: <code>${escapeHtml(downloadCommand(report))}</code>, ` +
      `or <code>curl -H "Authorization: Bearer $(oc whoami -t)" -C - -O ${escapeHtml(`<this URL>/${ARCHIVE}`)}</code></p>\n`
    : '<p>The archive is not ready yet.</p>\n';
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n` +
    '<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{word-break:break-all}</style>\n' +
    `</head><body>\n<h1>${escapeHtml(title)}</h1>\n${body}</body></html>\n`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : html);
}

function downloadCommand(report: string | undefined): string {
  const [namespace, name] = report?.includes('/') ? report.split('/', 2) : ['NAMESPACE', report ?? 'NAME'];
  return `mustgather download ${name} -n ${namespace}`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface SendFileOptions {
  path: string;
  contentType: string;
  downloadName: string;
  buffers: BufferPool;
  user: UserInfo;
  onDownload?: (record: DownloadRecord) => void;
}

async function sendFile(req: IncomingMessage, res: ServerResponse, options: SendFileOptions): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(options.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return plain(res, req, 404, 'the archive is not ready\n');
    throw err;
  }
  try {
    // The opened file is what is served, even if the name is replaced meanwhile: validators come from it too.
    const { size, mtime, mtimeMs } = await handle.stat();
    const validators = {
      ETag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
      'Last-Modified': mtime.toUTCString(),
    };
    if (notModified(req, validators.ETag, mtime)) {
      res.writeHead(304, validators);
      return void res.end();
    }
    const headers = {
      ...validators,
      'Accept-Ranges': 'bytes',
      'Content-Type': options.contentType,
      'Content-Disposition': `attachment; filename="${options.downloadName}"`,
      'Cache-Control': 'private, no-cache',
    };
    const range = requestedRange(req, size, validators.ETag, mtime);
    if (range === 'unsatisfiable') {
      return plain(res, req, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' });
    }
    const [start, end] = range ?? [0, size - 1];
    const status = range ? 206 : 200;
    res.writeHead(status, {
      ...headers,
      'Content-Length': end - start + 1,
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    const startedAt = new Date();
    const started = performance.now();
    const sent = await pump(handle, res, start, end, options.buffers);
    options.onDownload?.({
      user: options.user,
      client: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      status,
      range: { start, end, size },
      bytesSent: sent,
      complete: sent === end - start + 1,
      startedAt,
      seconds: (performance.now() - started) / 1000,
    });
  } finally {
    await handle.close();
  }
}

/** If-None-Match (weak comparison) wins over If-Modified-Since, as RFC 9110 section 13.2.2 orders them. */
function notModified(req: IncomingMessage, etag: string, mtime: Date): boolean {
  const noneMatch = req.headers['if-none-match'];
  if (noneMatch !== undefined) {
    return noneMatch.split(',').some((tag) => {
      const t = tag.trim();
      return t === '*' || t.replace(/^W\//, '') === etag;
    });
  }
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/**
 * The single byte range asked for, inclusive, or undefined to send everything: no Range, a syntax this server does
 * not support (multiple ranges), or an If-Range that does not match (the file changed since the client's part).
 */
export function requestedRange(req: IncomingMessage, size: number, etag: string, mtime: Date): [number, number] | 'unsatisfiable' | undefined {
  const header = req.headers.range;
  if (header === undefined) return undefined;
  const ifRange = req.headers['if-range'];
  if (typeof ifRange === 'string') {
    const matches = ifRange.startsWith('"') ? ifRange === etag : Date.parse(ifRange) === Math.floor(mtime.getTime() / 1000) * 1000;
    if (!matches) return undefined;
  }
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  if (match[2] !== '' && Number(match[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = match[2] === '' ? size - 1 : Number(match[2]);
  return [start, Math.min(end, size - 1)];
}

/**
 * Copies bytes start..end (inclusive) of the file to the response with two alternating buffers: the read into one
 * overlaps the socket write of the other, and a buffer is reused only once the socket has taken it. Returns the bytes
 * sent, fewer if the client went away.
 */
async function pump(handle: FileHandle, res: ServerResponse, start: number, end: number, pool: BufferPool): Promise<number> {
  const closed = once(res, 'close').then(() => false);
  const pair = [pool.take(), pool.take()] as const;
  const written: Promise<boolean>[] = [Promise.resolve(true), Promise.resolve(true)];
  let position = start;
  let sent = 0;
  try {
    for (let i = 0; position <= end; i ^= 1) {
      if (!(await Promise.race([written[i]!, closed]))) return sent;
      const buffer = pair[i]!;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position + 1), position);
      if (bytesRead === 0) throw new Error(`the file shrank below ${end + 1} bytes while served`);
      position += bytesRead;
      written[i] = new Promise((resolve) => res.write(buffer.subarray(0, bytesRead), (err) => resolve(!err)));
      sent += bytesRead;
    }
    res.end();
    await Promise.race([Promise.all(written), closed]);
    return sent;
  } finally {
    // A buffer whose write never completed may still be referenced by the dead socket: leave it to the GC.
    void Promise.all(written).then((done) => done.every(Boolean) && pool.give(...pair));
  }
}

/** Read buffers reused across downloads: fresh large buffers cost page faults on every first touch. */
class BufferPool {
  readonly #free: Buffer[] = [];

  constructor(private readonly size: number, private readonly max = 32) {}

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(...buffers: Buffer[]): void {
    for (const buffer of buffers) if (this.#free.length < this.max) this.#free.push(buffer);
  }
}

/** Event reasons on the report, one per archive download. */
export const DOWNLOAD_REASONS = { complete: 'Downloaded', interrupted: 'DownloadInterrupted' } as const;

/** `user "u" downloaded bytes 0-99/100 (100 bytes) in 0.01 s from 10.0.0.1:5555 at ...`: a record in one line. */
export function describeDownload(record: DownloadRecord): string {
  const { start, end, size } = record.range;
  const what = record.complete
    ? `downloaded bytes ${start}-${end}/${size} (${record.bytesSent} bytes)`
    : `stopped after ${record.bytesSent} of bytes ${start}-${end}/${size}`;
  return `user "${record.user.username}" ${what} in ${record.seconds.toFixed(2)} s from ${record.client} at ${record.startedAt.toISOString()}`;
}

/** Options of {@link downloadRecorder}. */
export interface DownloadRecorderOptions {
  /** Creates the Events (the pod's service account may create events in the report's namespace). */
  client: KubeClient;
  /** The report the Events are about. */
  report: { namespace: string; name: string; uid?: string };
  /** Where the JSON line of each download goes. @default console.log */
  log?: (line: string) => void;
}

/**
 * Records each download twice: a JSON line on the log, and an Event on the report, which outlives the pod. An Event
 * that cannot be created is logged, never a reason to fail the download.
 */
export function downloadRecorder(options: DownloadRecorderOptions): (record: DownloadRecord) => void {
  const log = options.log ?? ((line: string) => console.log(line));
  const { namespace, name, uid } = options.report;
  const target = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { namespace, name, ...(uid ? { uid } : {}) } };
  const events = new EventRecorder(options.client, {
    component: 'mustgather-file-server',
    onError: (err) => log(JSON.stringify({ time: new Date().toISOString(), msg: 'download event not recorded', report: `${namespace}/${name}`, error: err.message })),
  });
  return (record) => {
    const { start, end, size } = record.range;
    log(JSON.stringify({
      time: new Date().toISOString(), msg: record.complete ? 'download finished' : 'download interrupted', report: `${namespace}/${name}`,
      user: record.user.username, uid: record.user.uid, groups: record.user.groups, client: record.client, status: record.status,
      range: `bytes ${start}-${end}/${size}`, bytesSent: record.bytesSent, bytesAsked: end - start + 1, seconds: Number(record.seconds.toFixed(3)),
    }));
    void events.record(target, 'Normal', record.complete ? DOWNLOAD_REASONS.complete : DOWNLOAD_REASONS.interrupted, describeDownload(record));
  };
}
