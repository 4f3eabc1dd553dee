/**
 * How a {@link KubeClient} reaches and authenticates to its API server: the server's URL and what each request adds
 * (TLS options, an Authorization header).
 *
 * The operator and the report pod's file server load it without @kubernetes/client-node when they can: its
 * KubeConfig imports every generated API model of the library (some 50 MB of modules), which measured 70 MB of the
 * operator's resident memory for a class that, in a pod, reads three files. In-cluster credentials and kubeconfigs
 * of certificates and tokens are read here; anything else (exec plugins, auth providers, proxies, several files in
 * KUBECONFIG) is handed to client-node's KubeConfig, imported only then.
 */
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';

export interface ClusterAccess {
  /** The API server's URL. */
  readonly server: string;
  /**
   * Adds the credentials to a request's options: TLS options, headers, and, when a proxy is needed, the agent that
   * goes through it (otherwise the client's own keep-alive agent is used). Synchronous when it can be (certificates,
   * tokens): the request then leaves in the same turn as the call that makes it, ahead of whatever CPU-bound work its
   * caller does next.
   */
  applyTo(options: https.RequestOptions): void | Promise<void>;
}

/** Where a pod finds its service account's credentials, and how often its (rotated) token is read again. */
export const IN_CLUSTER = {
  dir: '/var/run/secrets/kubernetes.io/serviceaccount',
  /** client-go reads a token file again after a minute as well. */
  tokenRereadMs: 60_000,
} as const;

/** A token read from a file, again once it is `maxAgeMs` old (projected tokens are rotated in place). */
function tokenFromFile(file: string, maxAgeMs: number): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    if (Date.now() - readAt >= maxAgeMs) {
      token = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

/** The fields of TLS and bearer-token access: what this module reads itself. */
interface StaticAccess {
  readonly server: string;
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly token?: () => string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
}

function staticAccess(access: StaticAccess): ClusterAccess {
  const tls: https.RequestOptions = {
    ...(access.ca ? { ca: access.ca } : {}),
    ...(access.cert ? { cert: access.cert } : {}),
    ...(access.key ? { key: access.key } : {}),
    ...(access.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
    ...(access.tlsServerName ? { servername: access.tlsServerName } : {}),
  };
  return {
    server: access.server,
    applyTo: (options) => {
      Object.assign(options, tls);
      const token = access.token?.();
      if (token) options.headers = { ...options.headers, Authorization: `Bearer ${token}` };
    },
  };
}

/** A client-node KubeConfig as access (its current context). */
export function kubeConfigAccess(kubeConfig: KubeConfig): ClusterAccess {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig: no current cluster');
  return {
    server: cluster.server,
    applyTo: async (options) => {
      // client-node puts a fresh Agent on every request it prepares: keep the credentials, and its agent only when a
      // proxy needs it (https.Agent pools connections by their TLS options, so the client's own one is reused).
      const credentials: https.RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(credentials);
      const { agent, headers, ...tls } = credentials;
      Object.assign(options, tls, { headers: { ...options.headers, ...headers } });
      if (cluster.proxyUrl) options.agent = agent as http.Agent;
    },
  };
}

/** The pod's own service account (KUBERNETES_SERVICE_HOST and the mounted token and CA); undefined outside a pod. */
export function inClusterAccess(env: NodeJS.ProcessEnv = process.env, dir: string = IN_CLUSTER.dir, tokenRereadMs: number = IN_CLUSTER.tokenRereadMs): ClusterAccess | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(path.join(dir, 'token'))) return undefined;
  return staticAccess({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(path.join(dir, 'ca.crt')),
    token: tokenFromFile(path.join(dir, 'token'), tokenRereadMs),
  });
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
}

/** The cluster and user fields read here; a context using any other one goes to client-node. */
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
const USER_FIELDS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'extensions']);

/**
 * The current context of the kubeconfig file `file`, when it uses only certificates and tokens; undefined when it
 * needs client-node (an exec plugin, an auth provider, a proxy, basic auth).
 */
export function kubeconfigFileAccess(file: string): ClusterAccess | undefined {
  const config = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile;
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`kubeconfig ${file}: no current context`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`kubeconfig ${file}: context ${contextName} has no cluster with a server`);
  const user = (context.user ? config.users?.find((u) => u.name === context.user)?.user : undefined) ?? {};
  if (Object.keys(cluster).some((k) => !CLUSTER_FIELDS.has(k)) || Object.keys(user).some((k) => !USER_FIELDS.has(k))) return undefined;
  // Paths in a kubeconfig are relative to the file.
  const read = (value: unknown) => readFileSync(path.resolve(path.dirname(file), String(value)));
  const data = (value: unknown) => Buffer.from(String(value), 'base64');
  const either = (fields: Record<string, unknown>, name: string) =>
    fields[`${name}-data`] !== undefined ? data(fields[`${name}-data`]) : fields[name] !== undefined ? read(fields[name]) : undefined;
  const ca = either(cluster, 'certificate-authority');
  const cert = either(user, 'client-certificate');
  const key = either(user, 'client-key');
  const token = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? path.resolve(path.dirname(file), user.tokenFile) : undefined;
  return staticAccess({
    server: cluster.server,
    ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
    ...(token ? { token: () => token } : tokenFile ? { token: tokenFromFile(tokenFile, IN_CLUSTER.tokenRereadMs) } : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { insecureSkipTlsVerify: true } : {}),
    ...(typeof cluster['tls-server-name'] === 'string' ? { tlsServerName: cluster['tls-server-name'] } : {}),
  });
}

/**
 * Access as client-node's `loadFromDefault` finds it, or from `file`: the file; else KUBECONFIG; else
 * ~/.kube/config; else the pod's service account. Read here when it is certificates and tokens in one file or a pod,
 * through client-node's KubeConfig otherwise.
 */
export async function loadClusterAccess(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<ClusterAccess> {
  const home = path.join(env.HOME ?? os.homedir(), '.kube', 'config');
  const chosen = file ?? (env.KUBECONFIG ? env.KUBECONFIG : existsSync(home) ? home : undefined);
  if (!chosen) {
    const inCluster = inClusterAccess(env);
    if (inCluster) return inCluster;
  } else if (!chosen.includes(path.delimiter)) {
    const simple = kubeconfigFileAccess(chosen);
    if (simple) return simple;
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return kubeConfigAccess(kubeConfig);
}
