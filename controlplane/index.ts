/**
 * A real local Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager, built from Go modules by
 * hack/controlplane/build.sh or taken from KUBEBUILDER_ASSETS) for integration tests and `mustgather controlplane`.
 */
import { readFile } from 'node:fs/promises';

export {
  /** Starts etcd, kube-apiserver and (by default) kube-controller-manager, installs CRDs; resolves when ready. */
  startControlPlane,
  /** Mints a non-admin client-certificate user for a control plane given its data dir (e.g. vitest's `controlPlaneDir`). */
  mintUserFromDir,
  /** Creates every CRD in a directory and waits until each is Established. */
  installCrds,
  /** Stops a control plane started by another process, given its data dir. */
  stopControlPlaneInDir,
  /** Controllers kube-controller-manager runs by default. */
  DEFAULT_CONTROLLERS,
  /** The Kubernetes version pinned in hack/controlplane/go.mod. */
  pinnedKubernetesVersion,
  /** Loads a kubeconfig file into a client-node KubeConfig. */
  loadKubeConfig,
} from './controlplane.js';
export type {
  /** A running control plane. */
  ControlPlane,
  /** Options of startControlPlane. */
  StartControlPlaneOptions,
  /** A minted user: kubeconfig path and KubeConfig. */
  MintedUser,
  /** Options of installCrds. */
  InstallCrdsOptions,
} from './controlplane.js';
export {
  /** Locates (KUBEBUILDER_ASSETS) or builds/reuses (cache) the control-plane binaries. */
  ensureBinaries,
  /** Cache root: $MUSTGATHER_CACHE or ~/.cache/mustgather. */
  cacheRoot,
} from './binaries.js';
export type {
  /** Paths of the control-plane binaries. */
  ControlPlaneBinaries,
} from './binaries.js';
/** One kube-apiserver audit event (audit.k8s.io/v1 Event, Metadata level): the fields tests usually look at. */
export interface AuditEvent {
  /** e.g. "create", "update", "patch", "delete", "get", "list", "watch". */
  verb: string;
  /** Request URI. */
  requestURI: string;
  /** "ResponseComplete", "ResponseStarted" or "Panic". */
  stage: string;
  /** Who made the request. */
  user: { username: string; groups?: string[] };
  /** The object the request targeted. */
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  /** The response status. */
  responseStatus?: { code?: number };
  /** User agent. */
  userAgent?: string;
  /** Audit ID. */
  auditID: string;
  /** Anything else. */
  [key: string]: unknown;
}

/**
 * Reads audit events from a control plane's audit log (JSON lines), optionally filtered. Events are written
 * synchronously (`--audit-log-mode=blocking`), but the ResponseComplete event of a request can land a few
 * milliseconds after its response: poll briefly when counting a request you just made.
 */
export async function readAuditEvents(auditLogPath: string, filter?: (e: AuditEvent) => boolean): Promise<AuditEvent[]> {
  let text: string;
  try {
    text = await readFile(auditLogPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as AuditEvent;
      if (!filter || filter(e)) events.push(e);
    } catch {
      /* a line being written */
    }
  }
  return events;
}
