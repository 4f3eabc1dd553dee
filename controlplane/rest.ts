/**
 * Minimal raw JSON requests against a Kubernetes API server (no typed models, so no field is ever dropped). Works
 * without @kubernetes/client-node: credentials come from a kubeconfig file (client certificates, bearer tokens) or,
 * when one is given, from a client-node KubeConfig (which also covers exec plugins).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';

/** Result of {@link kubeRequest}. */
export interface RestResponse {
  /** HTTP status code. */
  status: number;
  /** Raw response body. */
  text: string;
  /** Parsed JSON body (undefined when not JSON). */
  json: any;
}

/** Where and how to connect, resolved from a kubeconfig. */
export interface RestTarget {
  /** API server URL. */
  server: string;
  /** PEM CA bundle (undefined: system roots). */
  ca?: string | Buffer;
  /** PEM client certificate. */
  cert?: string | Buffer;
  /** PEM client key. */
  key?: string | Buffer;
  /** Bearer token. */
  token?: string;
  /** Skip TLS verification (insecure-skip-tls-verify). */
  insecure?: boolean;
}

/** What {@link kubeRequest} accepts: a kubeconfig file path, a resolved target, or a client-node KubeConfig. */
export type KubeTarget = string | RestTarget | KubeConfig;

const fileCache = new Map<string, { mtimeKey: string; target: RestTarget }>();

/**
 * Resolves the current context of a kubeconfig file into a {@link RestTarget}. Supports inline data, file
 * references (relative to the kubeconfig), tokens and token files; exec/auth-provider plugins need client-node.
 */
export function targetFromKubeconfigFile(file: string): RestTarget {
  const text = readFileSync(file, 'utf8');
  const cached = fileCache.get(file);
  if (cached && cached.mtimeKey === text) return cached.target;
  const cfg = YAML.parse(text) ?? {};
  const ctxName = cfg['current-context'];
  const ctx = (cfg.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${file}: no current context`);
  const cluster = (cfg.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${file}: context ${ctxName} has no cluster server`);
  const user = (cfg.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  const dir = path.dirname(file);
  const data = (inline: string | undefined, ref: string | undefined): Buffer | undefined =>
    inline ? Buffer.from(inline, 'base64') : ref ? readFileSync(path.resolve(dir, ref)) : undefined;
  if (user.exec || user['auth-provider']) throw new Error(`${file}: user ${ctx.user} needs an exec/auth-provider plugin; pass a client-node KubeConfig instead`);
  const target: RestTarget = { server: cluster.server };
  const ca = data(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) target.ca = ca;
  const cert = data(user['client-certificate-data'], user['client-certificate']);
  if (cert) target.cert = cert;
  const key = data(user['client-key-data'], user['client-key']);
  if (key) target.key = key;
  const token = user.token ?? (user.tokenFile ? readFileSync(path.resolve(dir, user.tokenFile), 'utf8').trim() : undefined);
  if (token) target.token = token;
  if (cluster['insecure-skip-tls-verify']) target.insecure = true;
  fileCache.set(file, { mtimeKey: text, target });
  return target;
}

async function resolve(target: KubeTarget, method: string): Promise<{ url: string; opts: https.RequestOptions }> {
  const opts: https.RequestOptions = { method, headers: { Accept: 'application/json' } };
  if (typeof target === 'string' || !('applyToHTTPSOptions' in target)) {
    const t = typeof target === 'string' ? targetFromKubeconfigFile(target) : target;
    if (t.ca) opts.ca = t.ca;
    if (t.cert) opts.cert = t.cert;
    if (t.key) opts.key = t.key;
    if (t.insecure) opts.rejectUnauthorized = false;
    if (t.token) opts.headers = { ...opts.headers, Authorization: `Bearer ${t.token}` };
    return { url: t.server, opts };
  }
  const cluster = target.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  await target.applyToHTTPSOptions(opts);
  return { url: cluster.server, opts };
}

/** Sends one request to the cluster of `target`; `body` objects are sent as JSON. Never throws on HTTP errors. */
export async function kubeRequest(
  target: KubeTarget,
  method: string,
  urlPath: string,
  body?: unknown,
  opts: { contentType?: string; timeoutMs?: number } = {},
): Promise<RestResponse> {
  const { url: server, opts: reqOpts } = await resolve(target, method);
  const url = new URL(urlPath, server.endsWith('/') ? server : server + '/');
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    reqOpts.headers = { ...reqOpts.headers, 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) };
  }
  const mod = url.protocol === 'http:' ? http : https;
  return new Promise<RestResponse>((resolvePromise, reject) => {
    const req = mod.request(url, reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolvePromise({ status: res.statusCode ?? 0, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${url.href} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
