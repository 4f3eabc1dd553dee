/**
 * Liveness, readiness and metrics over plain HTTP, for the kubelet's probes and Prometheus. One small server: the
 * operator is one process, and each endpoint is cheap.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Ready, or why not (the reason is the body of the 503). */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface HealthServerOptions {
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** 0 picks a free port. @default 8081 */
  readonly port?: number;
  /** Served at /metrics. */
  readonly registry: Registry;
  /** Backs /readyz; a throw counts as not ready. */
  readonly isReady: () => Readiness | Promise<Readiness>;
}

export const HEALTH_SERVER_DEFAULTS = { host: '0.0.0.0', port: 8081 } as const;

export interface HealthServer {
  /** Where it listens, e.g. `http://127.0.0.1:8081` (the port that was picked when asked for 0). */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const host = options.host ?? HEALTH_SERVER_DEFAULTS.host;
  const server = http.createServer((request, response) => {
    respond(request, options).then(
      ({ status, contentType, body }) => {
        response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end(`${request.url}: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`health server: cannot listen on ${host}:${options.port ?? HEALTH_SERVER_DEFAULTS.port}: ${error.message}`, { cause: error })));
    server.listen(options.port ?? HEALTH_SERVER_DEFAULTS.port, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(new Error(`health server: close failed: ${error.message}`, { cause: error })) : resolve()));
        // Prometheus keeps its connection alive; without this close() would wait for it.
        server.closeAllConnections();
      }),
  };
}

const TEXT = 'text/plain; charset=utf-8';

async function respond(request: http.IncomingMessage, options: HealthServerOptions): Promise<{ status: number; contentType: string; body: string }> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return { status: 405, contentType: TEXT, body: `${request.method} not allowed\n` };
  switch (new URL(request.url ?? '/', 'http://health').pathname) {
    case '/healthz':
      return { status: 200, contentType: TEXT, body: 'ok\n' };
    case '/readyz': {
      let readiness: Readiness;
      try {
        readiness = await options.isReady();
      } catch (error) {
        readiness = { ready: false, reason: `readiness check failed: ${error instanceof Error ? error.message : String(error)}` };
      }
      return readiness.ready ? { status: 200, contentType: TEXT, body: 'ok\n' } : { status: 503, contentType: TEXT, body: `${readiness.reason}\n` };
    }
    case '/metrics':
      return { status: 200, contentType: options.registry.contentType, body: await options.registry.metrics() };
    default:
      return { status: 404, contentType: TEXT, body: `${request.url}: not found\n` };
  }
}
