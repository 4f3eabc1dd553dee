/**
 * The report pod's file server: `must-gather.tar.gz` and its checksum, read-only, behind oauth-proxy (which does TLS
 * and admits cluster admins only; this server listens on loopback).
 *
 * Only fixed names are ever opened (a request path is looked up in a table, never joined to the directory), so there
 * is no path traversal and no listing. Downloads are resumable and cacheable as browsers, curl and `mustgather
 * download` expect: single byte ranges, ETag / Last-Modified validators, If-Range, 304s.
 *
 * Speed: Node has no sendfile(2), so each byte is copied once from the page cache and once into the socket. What makes
 * that competitive is few, large operations: 1 MiB reads from a pool of reused buffers, two per download so the next
 * read overlaps the previous write, each write handed to the socket without copies or chunked encoding.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { PATHS } from '../constructs/ports.js';

/** Options of {@link createFileServer}. */
export interface FileServerOptions {
  /** Directory holding the archive and its checksum (the volume, read-only). */
  dir: string;
  /** `namespace/name` of the report: shown on the index page and in the download's file name. */
  report?: string;
  /** Bytes per read (and per socket write). @default 1 MiB */
  readBytes?: number;
  /** Called with one line per finished download. @default none */
  log?: (line: string) => void;
}

export const FILE_SERVER_DEFAULTS = { readBytes: 1024 * 1024 } as const;

const ARCHIVE = PATHS.archiveFile;
const CHECKSUM = `${PATHS.archiveFile}.sha256`;

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
  const settings = { ...options, readBytes: options.readBytes ?? FILE_SERVER_DEFAULTS.readBytes };
  const buffers = new BufferPool(settings.readBytes);
  let shuttingDown = false;
  const downloadName = `must-gather${settings.report ? `-${settings.report.replace(/[^A-Za-z0-9._-]+/g, '-')}` : ''}.tar.gz`;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    '/': (req, res) => indexPage(req, res, settings.dir, settings.report),
    '/healthz': (req, res) => health(req, res, settings.dir),
    [`/${ARCHIVE}`]: (req, res) =>
      sendFile(req, res, { path: join(settings.dir, ARCHIVE), contentType: 'application/gzip', downloadName, buffers, log: settings.log }),
    [`/${CHECKSUM}`]: (req, res) =>
      sendFile(req, res, { path: join(settings.dir, CHECKSUM), contentType: 'text/plain; charset=utf-8', downloadName: `${downloadName}.sha256`, buffers }),
  };

  const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    if (shuttingDown) res.shouldKeepAlive = false;
    const route = routes[(req.url ?? '').split('?')[0]!];
    if (!route) return plain(res, req, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, req, 405, `method ${req.method} not allowed\n`);
    }
    route(req, res).catch((err: Error) => {
      // Headers may be gone already (a file vanished mid-download): then cutting the connection is the only signal.
      if (res.headersSent) res.destroy(err);
      else plain(res, req, 500, 'internal error\n');
      console.error(`${req.method} ${req.url}: ${err.message}`);
    });
  });

  return {
    server,
    async shutdown(deadlineMs) {
      shuttingDown = true;
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

/** `123.4 MiB` (or `512 bytes`): sizes as people read them. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

interface SendFileOptions {
  path: string;
  contentType: string;
  downloadName: string;
  buffers: BufferPool;
  log?: (line: string) => void;
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
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Length': end - start + 1,
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    const started = performance.now();
    const sent = await pump(handle, res, start, end, options.buffers);
    options.log?.(`${req.method} ${req.url} ${res.statusCode} ${sent}/${end - start + 1} bytes in ${((performance.now() - started) / 1000).toFixed(2)} s${sent < end - start + 1 ? ' (client went away)' : ''}`);
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
