/**
 * What the integration tests share: clients for the real API server started by the global setup, a namespace per
 * test, the kubelet's and the router's writes, and write requests counted from the API server's audit log.
 *
 * With USE_EXISTING_CLUSTER=true the tests run against the current kube context, where the local control plane's CA
 * (minted users, among them the operator's least-privilege user), its service-account signing key, its audit log and
 * its etcd are not at hand: the tests that need them run only when {@link LOCAL_CLUSTER}, and say so in their titles
 * ({@link localOnly}) instead of failing.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { renderInstall } from '../../constructs/render.js';
import { OPERATOR_NAME } from '../../constructs/install-chart.js';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport, type MustGatherReportSpec } from '../../constructs/report-api.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import type { PodView } from '../../reconciler/status.js';
import { type AuditEvent, mintUserFromDir, readAuditEvents } from '../../controlplane/index.js';

/** Whether the tests run on the local control plane of the global setup (its CA, signing key, audit log and etcd at hand). */
export const LOCAL_CLUSTER = inject('controlPlaneDir') !== '';

/**
 * A suite or test title that says why it does not run on an existing cluster (USE_EXISTING_CLUSTER=true); unchanged
 * on the local control plane. Use with `describe.runIf(LOCAL_CLUSTER)` / `it.runIf(LOCAL_CLUSTER)`. `needs` names
 * what of the local control plane the test needs.
 */
export function localOnly(title: string, needs = 'its CA / audit log'): string {
  return LOCAL_CLUSTER ? title : `${title} (runs on the local control plane only: needs ${needs})`;
}

function requireLocal(what: string): void {
  if (!LOCAL_CLUSTER) throw new Error(`${what} needs the local control plane (not USE_EXISTING_CLUSTER=true): guard the test with it.runIf(LOCAL_CLUSTER)`);
}

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * Writes a kubeconfig file in `dir` for the test API server (its server and trust as the admin's kubeconfig has them)
 * with `user`'s credentials and `namespace` as the context's: what `oc login` or a cluster installer leaves.
 */
export function kubeconfigFile(dir: string, namespace: string, user: Record<string, string>): string {
  const cluster = kubeConfigFrom(inject('kubeconfig')).getCurrentCluster()!;
  const trust = cluster.caData ? { 'certificate-authority-data': cluster.caData }
    : cluster.caFile ? { 'certificate-authority': cluster.caFile }
    : { 'insecure-skip-tls-verify': cluster.skipTLSVerify };
  const path = join(dir, `kubeconfig-${randomBytes(6).toString('hex')}`);
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: cluster.server, ...trust } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace } }],
  }));
  return path;
}

/** A client acting as the cluster admin of the test control plane. */
export function adminClient(): KubeClient {
  return new KubeClient(kubeConfigFrom(inject('kubeconfig')));
}

/** A kubeconfig for the test cluster (its server and CA, from the admin's kubeconfig) with a bearer token. */
export function tokenKubeConfig(token: string, name = 'token-user'): KubeConfig {
  const cluster = kubeConfigFrom(inject('kubeconfig')).getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster], users: [{ name, token }], contexts: [{ name, cluster: cluster.name, user: name }], currentContext: name,
  });
  return kc;
}

/**
 * The cluster's client CA (PEM), from where the operator reads it (`kube-system/extension-apiserver-authentication`):
 * on the local control plane and on an existing cluster alike.
 */
export async function clusterClientCa(admin: KubeClient): Promise<string> {
  const cm = await admin.get<KubeObject & { data?: Record<string, string> }>({ kind: 'ConfigMap', namespace: 'kube-system', name: 'extension-apiserver-authentication' });
  const ca = cm?.data?.['client-ca-file'];
  if (!ca) throw new Error('kube-system/extension-apiserver-authentication has no client-ca-file: the cluster does not take client certificates');
  return ca;
}

export const OPERATOR_USER = 'mustgather-operator-test';

/**
 * A client for a user holding exactly the operator's ClusterRole from the install chart: the tests prove the
 * operator works with the least privilege it ships with, and the audit log tells its writes from the test's. The user
 * is minted from the local CA: only when {@link LOCAL_CLUSTER}.
 */
export async function operatorClient(admin: KubeClient): Promise<KubeClient> {
  requireLocal('operatorClient (a user minted from the local CA)');
  const role = renderInstall().find((m) => m.kind === 'ClusterRole' && m.metadata.name === OPERATOR_NAME)! as unknown as KubeObject;
  await admin.apply(role, { fieldManager: 'test' });
  await admin.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: OPERATOR_USER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: OPERATOR_USER }],
  } as KubeObject, { fieldManager: 'test' });
  // What the install chart binds in kube-system: read access to the cluster's client CA.
  const clientCaReader = renderInstall().find((m) => m.kind === 'RoleBinding' && m.metadata.namespace === 'kube-system')! as unknown as KubeObject & { subjects: unknown[] };
  await admin.apply({ ...clientCaReader, metadata: { ...clientCaReader.metadata, name: OPERATOR_USER }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: OPERATOR_USER }] }, { fieldManager: 'test' });
  const user = await mintUserFromDir(inject('controlPlaneDir'), OPERATOR_USER, []);
  return new KubeClient(user.kubeConfig);
}

/** A fresh namespace for one test. */
export async function testNamespace(admin: KubeClient, prefix = 't'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export async function createReport(admin: KubeClient, namespace: string, name: string, spec: MustGatherReportSpec): Promise<MustGatherReport> {
  return admin.create({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec } as unknown as KubeObject) as unknown as Promise<MustGatherReport>;
}

export async function getReport(client: KubeClient, namespace: string, name: string): Promise<MustGatherReport | undefined> {
  return client.get<MustGatherReport>({ kind: KIND, namespace, name });
}

/** Plays the kubelet: replaces the pod's status through the status subresource. */
export async function setPodStatus(admin: KubeClient, namespace: string, status: NonNullable<PodView['status']>): Promise<void> {
  await admin.patch({ kind: 'Pod', namespace, name: 'must-gather' }, { status }, { subresource: 'status' });
}

/** Plays the router: admits the route at `host`. */
export async function admitRoute(admin: KubeClient, namespace: string, host: string): Promise<void> {
  await admin.patch({ kind: 'Route', namespace, name: 'must-gather' }, {
    status: { ingress: [{ host, routerName: 'default', conditions: [{ type: 'Admitted', status: 'True', lastTransitionTime: new Date().toISOString() }] }] },
  }, { subresource: 'status' });
}

/** Polls `check` until it returns a value that is not undefined/false, or fails with the last state. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Write requests `username` made, as the API server's audit log recorded them (ResponseComplete stage). */
export async function auditedWrites(username: string): Promise<AuditEvent[]> {
  requireLocal('auditedWrites (the local audit log)');
  return readAuditEvents(inject('auditLogPath'), (e) => e.stage === 'ResponseComplete' && e.user.username === username && WRITE_VERBS.has(e.verb));
}

/** Every object the report owns, by `Kind/name`, cluster-wide. */
export async function ownedObjects(admin: KubeClient, uid: string): Promise<string[]> {
  const types = [
    RESOURCES.Namespace, RESOURCES.ClusterRoleBinding, RESOURCES.ServiceAccount, RESOURCES.Secret, RESOURCES.ConfigMap, RESOURCES.PersistentVolumeClaim,
    RESOURCES.Pod, RESOURCES.Service, RESOURCES.Route, RESOURCES.Ingress, RESOURCES.NetworkPolicy, RESOURCES.Role, RESOURCES.RoleBinding,
  ];
  const lists = await Promise.all(types.map((type) => admin.list(type, { labelSelector: `mustgather.openshift.io/report-uid=${uid}` })));
  return lists.flatMap((list) => list.items.map((o) => `${o.kind}/${o.metadata.name}`)).sort();
}
