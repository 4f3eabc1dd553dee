/**
 * The contract between the operator and what runs in the report pod: ports, paths, and who may download. It depends
 * on nothing, so the chart, the reconciler, the file server and `mustgather download` all read the same values.
 *
 * Wiring: the file server always terminates TLS itself on {@link PORTS.fileServer} and checks every caller
 * (TokenReview / client certificate, then SubjectAccessReview), in both platform profiles. On OpenShift, oauth-proxy
 * listens on {@link PORTS.proxy} for browser logins and forwards to the file server with the user's own token, so the
 * server's check applies behind it too. Without a router, `mustgather download` port-forwards to the file server.
 */
export const PORTS = {
  /** Service port (https). On OpenShift it targets oauth-proxy, on plain Kubernetes the file server. */
  service: 443,
  /** oauth-proxy's TLS port (OpenShift profile only). */
  proxy: 9443,
  proxyName: 'proxy-https',
  /** The file server's own TLS port: every request is authenticated and authorized here. */
  fileServer: 8443,
  fileServerName: 'https',
} as const;

/** Where the volume and the credentials are mounted in each container. */
export const PATHS = {
  /** Gather containers: must-gather scripts write to /must-gather, hard-coded; it is their sub-path of the volume. */
  gatherOutput: '/must-gather',
  /** Archive and file-server containers see the whole volume here. */
  data: '/data',
  /** Volume sub-directory holding one sub-directory per image. */
  gathersSubPath: 'gathers',
  archiveFile: 'must-gather.tar.gz',
  serviceAccount: '/var/run/secrets/kubernetes.io/serviceaccount',
  /** The file server's serving certificate (`tls.crt`, `tls.key`): service-ca's on OpenShift, the operator's CA's elsewhere. */
  serverTls: '/etc/mustgather/tls',
  /** The cluster's client CA (`ca.crt`), handed over by the operator from kube-system/extension-apiserver-authentication. */
  clientCa: '/etc/mustgather/client-ca',
  proxyCookie: '/etc/proxy/cookie',
} as const;

/** Platform profiles: what exposes the file server and who issues its certificate. */
export const PLATFORMS = ['openshift', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * The SubjectAccessReview a caller must pass to download (`spec.resourceAttributes`). An empty string means "all
 * namespaces" for `namespace`, as in a SubjectAccessReview.
 */
export interface DownloadAccess {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** Default: cluster-admin-equivalent (`*` verbs on `*` resources in `*` groups, cluster-wide). */
export const DEFAULT_DOWNLOAD_ACCESS: DownloadAccess = { verb: '*', group: '*', resource: '*' };

const ACCESS_KEYS = ['verb', 'group', 'resource', 'subresource', 'namespace', 'name'] as const;

/** `verb=get,group=mustgather.openshift.io,resource=mustgatherreports,subresource=download` form of {@link DownloadAccess}. */
export function formatDownloadAccess(access: DownloadAccess): string {
  return ACCESS_KEYS.filter((k) => access[k] !== undefined && (k === 'verb' || k === 'group' || k === 'resource' || access[k] !== ''))
    .map((k) => `${k}=${access[k]}`)
    .join(',');
}

/**
 * Parses {@link formatDownloadAccess}'s form. `verb`, `group` (`""` for the core group) and `resource` are required;
 * throws an Error naming what is wrong.
 */
export function parseDownloadAccess(text: string): DownloadAccess {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!(ACCESS_KEYS as readonly string[]).includes(key)) {
      throw new Error(`download access "${text}": unknown key "${key}" (expected ${ACCESS_KEYS.join(', ')})`);
    }
    if (eq < 0) throw new Error(`download access "${text}": "${key}" needs a value (${key}=...)`);
    if (key in out) throw new Error(`download access "${text}": "${key}" given twice`);
    out[key] = part.slice(eq + 1).trim();
  }
  for (const key of ['verb', 'group', 'resource'] as const) {
    if (out[key] === undefined) throw new Error(`download access "${text}": "${key}" is required`);
  }
  if (!out.verb || !out.resource) throw new Error(`download access "${text}": verb and resource must not be empty`);
  return out as unknown as DownloadAccess;
}
