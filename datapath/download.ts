/**
 * `mustgather download`, the library part: wait for a report to be Ready ({@link waitForReady}, the report reader
 * injected so it runs without a cluster), then fetch its archive from the report's file server
 * ({@link downloadReport}: at its URL when that is reachable from here, else through a port-forward via the API
 * server; {@link downloadArchive}: resumable, verified, with explanations instead of bare status codes).
 *
 * The file server checks callers itself (TokenReview or the cluster's client CA, then a SubjectAccessReview), so the
 * download presents the kubeconfig's own credentials, whatever they are ({@link kubeConfigCredentials}).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { connect, createServer, isIP, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkServerIdentity, connect as tlsConnect, rootCertificates } from 'node:tls';
import { type KubeConfig, PortForward } from '@kubernetes/client-node';
import { PORTS } from '../constructs/pod-contract.js';
import { isTerminalReason } from '../constructs/ready-reasons.js';
import { type Condition, type MustGatherReport } from '../constructs/report-api.js';
import { reportObjectNames } from '../constructs/report-identity.js';

/** Raised for a failure the user must act on; the message is one line that says what to do. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

/** Options of {@link waitForReady}. */
export interface WaitOptions {
  /** Reads the report; `undefined` when it does not exist. */
  readReport: () => Promise<MustGatherReport | undefined>;
  /** `namespace/name`, for messages. */
  reportRef: string;
  /** Give up after this long. */
  timeoutMs: number;
  /** Between reads. @default 2000 */
  intervalMs?: number;
  /** Reads that may fail in a row (an API server blip) before waiting fails. @default 3 */
  readFailures?: number;
  /** Called after every read with a one-line status. */
  onStatus?: (line: string) => void;
}

/** The report once Ready=True and its URL is published. */
export async function waitForReady(options: WaitOptions): Promise<MustGatherReport & { status: { report_url: string } }> {
  const { intervalMs = 2000, readFailures = 3 } = options;
  const deadline = Date.now() + options.timeoutMs;
  let failures = 0;
  let line = 'waiting for the report';
  for (;;) {
    let report: MustGatherReport | undefined;
    try {
      report = await options.readReport();
      failures = 0;
    } catch (err) {
      // The reader's verdicts (credentials refused, say) are final; anything else may be a blip.
      if (err instanceof DownloadError) throw err;
      if (++failures > readFailures) throw new DownloadError(`read report ${options.reportRef}: ${(err as Error).message}`, { cause: err });
      options.onStatus?.(`${line} (read failed: ${(err as Error).message}; retrying)`);
    }
    if (report === undefined && failures === 0) throw new DownloadError(`report ${options.reportRef} not found`);
    if (report) {
      const ready = report.status?.conditions?.find((c) => c.type === 'Ready');
      const url = report.status?.report_url;
      if (ready?.status === 'True' && url) return report as MustGatherReport & { status: { report_url: string } };
      line = statusLine(ready, url);
      options.onStatus?.(line);
      if (report.metadata.deletionTimestamp) throw new DownloadError(`report ${options.reportRef} is being deleted`);
      if (ready?.status === 'False' && isTerminalReason(ready.reason)) {
        throw new DownloadError(`report ${options.reportRef} failed: ${ready.reason}: ${ready.message}`);
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new DownloadError(`report ${options.reportRef} not Ready after ${Math.round(options.timeoutMs / 1000)} s; last status: ${line}`);
    await sleep(Math.min(intervalMs, left));
  }
}

function statusLine(ready: Condition | undefined, url: string | undefined): string {
  if (!ready) return 'Pending: the operator has not reported on the report yet';
  if (ready.status === 'True') return `Ready: waiting for the route to publish the URL${url ? '' : ' (status.report_url is empty)'}`;
  return `${ready.reason || 'NotReady'}${ready.message ? `: ${ready.message}` : ''}`;
}

/** Options of {@link downloadArchive}. */
export interface DownloadOptions {
  url: string;
  /** Where the archive goes; `<output>.part` (and `<output>.part.json`, its validator) while it is not complete. */
  output: string;
  /** Who downloads: an Authorization header and/or a client certificate ({@link kubeConfigCredentials}). */
  credentials?: ClientCredentials;
  /** The archive's sha256 (`status.archive.sha256`): a mismatch is an error and the file is not kept. */
  expectedSha256?: string;
  /** PEM CA bundles trusted for the URL's certificate, in addition to the system's. */
  ca?: readonly (string | Buffer)[];
  /** Accept any certificate. */
  insecure?: boolean;
  /**
   * Connect here instead of the URL's host (a local port-forward); the certificate is still checked against the
   * URL's host name, which is also sent as SNI and Host.
   */
  connectTo?: { host: string; port: number };
  onProgress?: (progress: DownloadProgress) => void;
  /** Attempts after the first on network errors and 5xx. @default 5 */
  retries?: number;
  /** First wait between attempts; doubles, up to 30 s. @default 1000 */
  retryDelayMs?: number;
  /** A connection silent for this long is dropped (and retried). @default 60000 */
  idleTimeoutMs?: number;
}

export interface DownloadProgress {
  /** Bytes in the part file, resumed ones included. */
  received: number;
  /** Size of the archive, once the server said. */
  total?: number;
  /** Where this attempt started (non-zero when resumed). */
  resumedFrom: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Largest offset an attempt resumed from (0: never resumed). */
  resumedFrom: number;
  attempts: number;
}

/** Credentials presented to the report's file server. */
export interface ClientCredentials {
  /** `Bearer ...` (or `Basic ...`). */
  authorization?: string;
  /** Client certificate and key, PEM. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * The current context's own credentials as client-node resolves them (static token, token file, exec plugin, auth
 * provider, client certificate), without anything that is about the API server itself (its CA, skip-verify,
 * server name): those must not apply to the report's server.
 */
export async function kubeConfigCredentials(kc: KubeConfig): Promise<ClientCredentials> {
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const headers = (options.headers ?? {}) as Record<string, string | undefined>;
  const authorization = headers.Authorization ?? (options.auth ? `Basic ${Buffer.from(options.auth).toString('base64')}` : undefined);
  return {
    ...(authorization ? { authorization } : {}),
    ...(options.cert ? { cert: options.cert as Buffer } : {}),
    ...(options.key ? { key: options.key as Buffer } : {}),
  };
}

/** What the part's sidecar remembers so a later run resumes only the same file. */
interface PartState {
  url: string;
  etag?: string;
}

/**
 * Downloads `url` to `output`: into `<output>.part`, resuming it with `Range` + `If-Range` (the ETag the part came
 * with) after a dropped connection or in a later run, then verifies the sha256 and renames into place.
 */
export async function downloadArchive(options: DownloadOptions): Promise<DownloadResult> {
  const { retries = 5, retryDelayMs = 1000 } = options;
  const part = `${options.output}.part`;
  const sidecar = `${part}.json`;
  let resumedFrom = 0;
  let attempt = 0;
  for (;; attempt++) {
    try {
      const offset = await resumableBytes(part, sidecar, options.url);
      resumedFrom = Math.max(resumedFrom, offset);
      await fetchInto(options, part, sidecar, offset);
      break;
    } catch (err) {
      if (err instanceof DownloadError || attempt >= retries) {
        throw err instanceof DownloadError ? err : new DownloadError(`download ${options.url}: ${describe(err)} (after ${attempt + 1} attempts)`, { cause: err });
      }
      await sleep(Math.min(30_000, retryDelayMs * 2 ** attempt));
    }
  }
  const sha256 = await hashFile(part);
  if (options.expectedSha256 && sha256 !== options.expectedSha256.toLowerCase()) {
    await Promise.all([unlink(part), unlink(sidecar).catch(() => undefined)]);
    throw new DownloadError(`sha256 mismatch for ${options.url}: expected ${options.expectedSha256}, got ${sha256}; the download was removed, run again`);
  }
  const { size } = await stat(part);
  await rename(part, options.output);
  await unlink(sidecar).catch(() => undefined);
  return { path: options.output, bytes: size, sha256, resumedFrom, attempts: attempt + 1 };
}

/** A report ready to download: its URL, and (`status.caBundle`) the CA of its file server's certificate when the operator issued it. */
export type PublishedReport = MustGatherReport & { status: { report_url: string } };

/** A local port that reaches the report pod's file server through the API server. */
export interface Forward {
  readonly port: number;
  /** Why the last forwarded connection failed, if one did. */
  readonly lastError: Error | undefined;
  close(): Promise<void>;
}

/** Options of {@link downloadReport}: those of {@link downloadArchive} but the URL and where to connect. */
export interface DownloadReportOptions extends Omit<DownloadOptions, 'url' | 'connectTo' | 'expectedSha256'> {
  /** Opens a port-forward to `port` of pod `namespace/pod`. @default {@link kubePortForward} of `kubeConfig` */
  forward?: (target: ForwardTarget) => Promise<Forward>;
  /** For the default `forward`. */
  kubeConfig?: KubeConfig;
  /** How long connecting to the URL may take before a port-forward is used instead. @default 5000 */
  probeTimeoutMs?: number;
  /** Told which way the download goes. */
  onRoute?: (line: string) => void;
}

export interface ForwardTarget {
  namespace: string;
  pod: string;
  port: number;
}

export const DOWNLOAD_REPORT_DEFAULTS = { probeTimeoutMs: 5000 } as const;

/**
 * Downloads a Ready report's archive: from `status.report_url` when it can be reached from here, else (an in-cluster
 * Service URL, or a connection that fails) through a port-forward to the report pod's file server, still checking
 * the certificate against the URL's host. `status.caBundle` is trusted besides `options.ca`.
 */
export async function downloadReport(report: PublishedReport, options: DownloadReportOptions): Promise<DownloadResult> {
  const url = new URL(report.status.report_url);
  const ca = [...(options.ca ?? []), ...(report.status.caBundle ? [report.status.caBundle] : [])];
  const archive = { ...options, url: url.href, ca, expectedSha256: report.status.archive?.sha256 };
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const why = isInClusterHost(url.hostname)
    ? `${url.hostname} is an in-cluster name`
    : await canConnect(url.hostname, port, options.probeTimeoutMs ?? DOWNLOAD_REPORT_DEFAULTS.probeTimeoutMs);
  if (why === undefined) {
    options.onRoute?.(`downloading from ${url.host}`);
    return downloadArchive(archive);
  }
  const names = reportObjectNames(report.metadata);
  const target = { namespace: names.namespace, pod: names.main, port: PORTS.fileServer };
  const open = options.forward ?? (options.kubeConfig ? kubePortForward(options.kubeConfig) : undefined);
  if (!open) throw new DownloadError(`${url.host} cannot be reached from here (${why}) and there is no kubeconfig to port-forward with`);
  const forward = await open(target);
  const via = `port-forward to pod ${target.namespace}/${target.pod} port ${target.port}`;
  options.onRoute?.(`${why}: downloading through a ${via}`);
  try {
    // One connection first: an API server that refuses the forward (no such pod, no permission) keeps refusing.
    const refused = await canConnect('127.0.0.1', forward.port, options.probeTimeoutMs ?? DOWNLOAD_REPORT_DEFAULTS.probeTimeoutMs, true);
    if (refused !== undefined && forward.lastError) throw new DownloadError(`${via}: ${forward.lastError.message}`, { cause: forward.lastError });
    return await downloadArchive({ ...archive, connectTo: { host: '127.0.0.1', port: forward.port } }).catch((err: Error) => {
      throw forward.lastError ? new DownloadError(`${err.message} (${via}: ${forward.lastError.message})`, { cause: err }) : err;
    });
  } finally {
    await forward.close();
  }
}

/** Hosts only resolvable inside the cluster: a Service's DNS names. */
export function isInClusterHost(hostname: string): boolean {
  return /\.svc(\.cluster\.local)?\.?$/i.test(hostname);
}

/**
 * Undefined when a TCP connection to host:port opens within `timeoutMs`, else why not. With `tls`, the server must
 * also start a TLS handshake (its certificate is not checked here).
 */
export function canConnect(host: string, port: number, timeoutMs: number, tls = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls ? tlsConnect({ host, port, timeout: timeoutMs, rejectUnauthorized: false }) : connect({ host, port, timeout: timeoutMs });
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`no connection to ${host}:${port} within ${timeoutMs / 1000} s`);
    });
    socket.once('error', (err) => resolve(`${host}:${port}: ${describe(err)}`));
  });
}

/**
 * Port-forwards through the API server with client-node's PortForward (the websocket protocol, `v4.channel.k8s.io`):
 * a local listener on 127.0.0.1, one websocket per accepted connection, as `kubectl port-forward` opens one stream
 * pair per connection.
 */
export function kubePortForward(kc: KubeConfig): (target: ForwardTarget) => Promise<Forward> {
  return async (target) => {
    const forwarder = new PortForward(kc);
    let lastError: Error | undefined;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined); // the download sees the cut; lastError says why
      // The pod writes why a forward failed (nothing listening, say) on the error stream. Its first frame carries only
      // the port number, which client-node strips and still passes on, empty: that one is not an error.
      const errors = new Writable({
        write(chunk: Buffer, _encoding, done) {
          const message = chunk.toString('utf8').trim();
          if (message) {
            lastError = new Error(message);
            socket.destroy();
          }
          done();
        },
      });
      forwarder.portForward(target.namespace, target.pod, [target.port], socket, errors, socket).then((ws) => {
        const websocket = typeof ws === 'function' ? ws() : ws;
        websocket?.on('close', () => socket.end());
        websocket?.on('error', (err: Error) => {
          lastError = err;
          socket.destroy();
        });
        socket.on('close', () => websocket?.close());
      }, (err: Error) => {
        lastError = forwardRefusal(err);
        socket.destroy();
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    return {
      port: (server.address() as { port: number }).port,
      get lastError() {
        return lastError;
      },
      close: () => new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
    };
  };
}

/** What the API server's refusal of a port-forward (the websocket upgrade's status) means for the person. */
const FORWARD_REFUSALS: Record<string, string> = {
  400: 'the API server cannot forward to it; is the pod running?',
  401: 'the API server did not accept the credentials',
  403: 'the user may not port-forward to it (create pods/portforward in its namespace)',
  404: 'no such pod; was the report deleted, or is its pod not created yet?',
};

function forwardRefusal(err: Error): Error {
  const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
  const meaning = status && FORWARD_REFUSALS[status];
  return meaning ? new Error(`${meaning} (HTTP ${status})`, { cause: err }) : err;
}

/** Bytes of a part file that may be resumed: 0 (and no stale part) unless it came from the same URL. */
async function resumableBytes(part: string, sidecar: string, url: string): Promise<number> {
  const state = await readPartState(sidecar);
  const size = await stat(part).then((s) => s.size, () => 0);
  if (state?.url === url) return size;
  if (size > 0) await truncate(part, 0);
  return 0;
}

async function readPartState(sidecar: string): Promise<PartState | undefined> {
  try {
    const value = JSON.parse(await readFile(sidecar, 'utf8'));
    return typeof value?.url === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** One attempt. Throws DownloadError for what retrying cannot fix, anything else to retry. */
async function fetchInto(options: DownloadOptions, part: string, sidecar: string, offset: number): Promise<void> {
  const state = offset > 0 ? await readPartState(sidecar) : undefined;
  const headers: Record<string, string> = { 'User-Agent': 'mustgather-download' };
  if (options.credentials?.authorization) headers.Authorization = options.credentials.authorization;
  if (offset > 0) {
    headers.Range = `bytes=${offset}-`;
    if (state?.etag) headers['If-Range'] = state.etag;
  }
  const res = await request(options, headers);
  try {
    const status = res.statusCode ?? 0;
    if (status === 416 && offset > 0) {
      // The part is already complete, or longer than the file: start over in the latter case.
      const total = Number(/\*\/(\d+)/.exec(res.headers['content-range'] ?? '')?.[1]);
      if (total === offset) return;
      await truncate(part, 0);
      throw new Error(`the server has ${total} bytes, the partial download ${offset}: starting over`);
    }
    if (status !== 200 && status !== 206) throw httpError(status, options.url, res.headers.location, await firstLine(res));
    let start = 0;
    let total = Number(res.headers['content-length']);
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
      if (!range || Number(range[1]) !== offset) {
        await truncate(part, 0);
        throw new Error(`unexpected Content-Range "${res.headers['content-range']}" for bytes=${offset}-: starting over`);
      }
      start = offset;
      total = Number(range[3]);
    } else {
      await writeFile(sidecar, JSON.stringify({ url: options.url, etag: res.headers.etag } satisfies PartState));
    }
    let received = start;
    const progress = (): void => options.onProgress?.({ received, total: Number.isFinite(total) ? total : undefined, resumedFrom: start });
    progress();
    await pipeline(
      res,
      async function* count(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          received += chunk.length;
          progress();
          yield chunk;
        }
      },
      createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }),
    );
    if (Number.isFinite(total) && received !== total) throw new Error(`connection closed after ${received} of ${total} bytes`);
  } finally {
    res.destroy();
  }
}

function request(options: DownloadOptions, headers: Record<string, string>): Promise<IncomingMessage> {
  const { idleTimeoutMs = 60_000 } = options;
  const url = new URL(options.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DownloadError(`${options.url}: not an http(s) URL`);
  const { cert, key } = options.credentials ?? {};
  const target = options.connectTo
    ? {
        hostname: options.connectTo.host, port: options.connectTo.port, path: `${url.pathname}${url.search}`,
        headers: { ...headers, Host: url.host },
        ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
        checkServerIdentity: (_host: string, peer: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(url.hostname, peer),
      }
    : { headers };
  const tls = {
    // Node's `ca` replaces the system's roots: keep them for routes and ingresses with public certificates.
    ...(options.ca?.length ? { ca: [...rootCertificates, ...options.ca] } : {}),
    ...(cert && key ? { cert, key } : {}),
    rejectUnauthorized: !options.insecure,
  };
  return new Promise((resolve, reject) => {
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { ...tls, ...target, agent: false, timeout: idleTimeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(TLS_ERRORS[err.code ?? ''] ? tlsError(err, options.url) : err));
  });
}

/** The first line of a (refusal's) body, at most 500 characters: the file server says there who was refused and why. */
async function firstLine(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length >= 4096) break;
  }
  return (text.split('\n').find((line) => line.trim()) ?? '').trim().slice(0, 500);
}

/** Certificate problems, which no retry fixes, and what to do about them. */
const TLS_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server presents a self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server\'s certificate chain ends in an untrusted (self-signed) CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server\'s certificate is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server\'s certificate is signed by an unknown CA',
  CERT_HAS_EXPIRED: 'the server\'s certificate has expired',
  CERT_NOT_YET_VALID: 'the server\'s certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server\'s certificate is for another host name',
};

function tlsError(err: NodeJS.ErrnoException, url: string): DownloadError {
  return new DownloadError(
    `TLS: ${TLS_ERRORS[err.code!]} (${err.code}) at ${new URL(url).host}: pass --certificate-authority with the CA that signed ` +
      'the route\'s or ingress\'s certificate, or --insecure-skip-tls-verify if you trust the network',
    { cause: err },
  );
}

function httpError(status: number, url: string, location: string | undefined, body: string): Error {
  // The file server's refusals are one line naming the user and what they lack; other servers' bodies may be HTML.
  const said = body && !body.startsWith('<') ? `: ${body}` : '';
  if (status === 401) return new DownloadError(`HTTP 401 from ${url}${said || ': not logged in or the credentials were rejected'}; log in again (a fresh token or kubeconfig) and retry`);
  if (status === 403) return new DownloadError(`HTTP 403 from ${url}${said || ': access denied'}; downloading a report takes a cluster admin unless the operator says otherwise`);
  if (status === 404) return new DownloadError(`HTTP 404 from ${url}: no archive there; is the report Ready, or was it deleted?`);
  if (status >= 300 && status < 400) {
    return new DownloadError(
      `HTTP ${status} from ${url} (to ${location ?? 'nowhere'}): the proxy wants a browser login, so the request carried no ` +
        'accepted credentials; log in with "oc login" (a token from "oc whoami -t")',
    );
  }
  // 5xx and 429: the route, proxy or server may be starting or overloaded: retried.
  if (status >= 500 || status === 429) return new Error(`HTTP ${status}${said} (the report's server or route is not ready or overloaded)`);
  return new DownloadError(`HTTP ${status} from ${url}${said}`);
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ECONNREFUSED') return `connection refused (${e.message.replace(/^connect ECONNREFUSED /, '')})`;
  if (e.code === 'ENOTFOUND') return `no such host (${(e as { hostname?: string }).hostname ?? e.message})`;
  return e.message ?? String(err);
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

/** `[=====>    ]  45%  123.4 MiB / 270.0 MiB  56.7 MiB/s  ETA 0:03`, or without bar and ETA when the size is unknown. */
export function formatProgress(received: number, total: number | undefined, bytesPerSecond: number, width = 24): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const rate = `${mib(bytesPerSecond)}/s`;
  if (!total) return `${mib(received)}  ${rate}`;
  const fraction = Math.min(1, received / total);
  const filled = Math.floor(fraction * width);
  const bar = `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
  const seconds = bytesPerSecond > 0 ? Math.ceil((total - received) / bytesPerSecond) : undefined;
  const eta = seconds === undefined ? '--:--' : `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  return `${bar} ${String(Math.floor(fraction * 100)).padStart(3)}%  ${mib(received)} / ${mib(total)}  ${rate}  ETA ${eta}`;
}
