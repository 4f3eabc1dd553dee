/** Ports wired through the report: Route -> Service (443) -> oauth-proxy (8443, TLS) -> file server (127.0.0.1:8080). */
export const PORTS = {
  service: 443,
  proxy: 8443,
  proxyName: 'https',
  fileServer: 8080,
} as const;

/** Where the volume is mounted in each container. */
export const PATHS = {
  /** Gather containers: must-gather scripts write to /must-gather, hard-coded; it is their sub-path of the volume. */
  gatherOutput: '/must-gather',
  /** Archive and file-server containers see the whole volume here. */
  data: '/data',
  /** Volume sub-directory holding one sub-directory per image. */
  gathersSubPath: 'gathers',
  archiveFile: 'must-gather.tar.gz',
  serviceAccount: '/var/run/secrets/kubernetes.io/serviceaccount',
  proxyTls: '/etc/tls/private',
  proxyCookie: '/etc/proxy/cookie',
} as const;
