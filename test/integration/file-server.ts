/**
 * What the file-server integration tests share: the server's own identity (what the chart grants its service
 * account: `system:auth-delegator` and creating Events in the report's namespace, held by a service account as in the
 * chart) and real callers (service-account tokens from TokenRequest, users bound to cluster roles).
 */
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServingCert } from '../../controlplane/pki.js';
import { DelegatedAuth } from '../../datapath/delegated-auth.js';
import { createFileServer, type FileServer, type FileServerOptions } from '../../datapath/serve.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { clusterClientCa, tokenKubeConfig } from './helpers.js';

const rbac = 'rbac.authorization.k8s.io';

/**
 * A client for a fresh service account `file-server` in `namespace` holding exactly the file server's permissions
 * (what the chart grants the report pod's service account), with a TokenRequest token, so it works on an existing
 * cluster too; its username and a kubeconfig file for it (`dir`, or a temporary directory).
 */
export async function fileServerIdentity(admin: KubeClient, namespace: string, dir?: string): Promise<{ client: KubeClient; username: string; kubeconfigPath: string }> {
  const name = 'file-server';
  const token = await serviceAccountToken(admin, namespace, name, { clusterRole: 'system:auth-delegator', clusterWide: true });
  await admin.create({
    apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: 'record-downloads', namespace },
    rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }],
  } as unknown as KubeObject);
  await admin.create({
    apiVersion: `${rbac}/v1`, kind: 'RoleBinding', metadata: { name: 'record-downloads', namespace },
    roleRef: { apiGroup: rbac, kind: 'Role', name: 'record-downloads' },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  } as unknown as KubeObject);
  const kubeConfig = tokenKubeConfig(token, name);
  const kubeconfigPath = join(dir ?? mkdtempSync(join(tmpdir(), 'file-server-')), `${name}.kubeconfig`);
  writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
  return { client: new KubeClient(kubeConfig), username: `system:serviceaccount:${namespace}:${name}`, kubeconfigPath };
}

/** A running file server for a test, and what a report's status would say of it. */
export interface TestFileServer {
  readonly files: FileServer;
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** The CA of its serving certificate (a report's `status.caBundle`). */
  readonly servingCa: string;
  /** The file server's own identity ({@link fileServerIdentity}). */
  readonly serverClient: KubeClient;
}

/**
 * The report pod's file server on plain Kubernetes, serving `work/volume` on a loopback port: a serving certificate
 * from a fresh CA (the operator's), the cluster's client CA, and delegated checks as {@link fileServerIdentity}.
 * `more` adds options that need the server's client (the download recorder).
 */
export async function startFileServer(admin: KubeClient, namespace: string, work: string, more: (serverClient: KubeClient) => Partial<FileServerOptions> = () => ({})): Promise<TestFileServer> {
  const operatorCa = await createCA('mustgather-operator-serving-ca');
  const serving = await issueServingCert(operatorCa);
  const tls = { certFile: join(work, 'tls.crt'), keyFile: join(work, 'tls.key'), clientCaFile: join(work, 'client-ca.crt') };
  writeFileSync(tls.certFile, serving.cert);
  writeFileSync(tls.keyFile, serving.key);
  // The cluster's client CA, where the operator reads it for the report pod.
  writeFileSync(tls.clientCaFile, await clusterClientCa(admin));
  const { client: serverClient } = await fileServerIdentity(admin, namespace, work);
  const files = createFileServer({ dir: join(work, 'volume'), tls, authorize: new DelegatedAuth({ client: serverClient }).check, ...more(serverClient) });
  files.server.listen(0, '127.0.0.1');
  await new Promise((resolve) => files.server.once('listening', resolve));
  return { files, port: (files.server.address() as { port: number }).port, servingCa: operatorCa.cert, serverClient };
}

/** Binds `user` to a ClusterRole cluster-wide (the binding is named after the namespace, which the test owns). */
export async function bindUser(admin: KubeClient, namespace: string, user: string, clusterRole: string): Promise<void> {
  await admin.create({
    apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name: `${namespace}-${user}`.replace(/:/g, '-') },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: clusterRole },
    subjects: [{ apiGroup: rbac, kind: 'User', name: user }],
  } as unknown as KubeObject);
}

/**
 * A new service account in `namespace` and a one-hour token for it (what `oc login` or `kubectl create token` hands
 * out), bound to `role` cluster-wide or in its namespace.
 */
export async function serviceAccountToken(admin: KubeClient, namespace: string, name: string, role?: { clusterRole: string; clusterWide: boolean }): Promise<string> {
  await admin.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
  if (role) {
    const subjects = [{ kind: 'ServiceAccount', name, namespace }];
    const roleRef = { apiGroup: rbac, kind: 'ClusterRole', name: role.clusterRole };
    await admin.create((role.clusterWide
      ? { apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name: `${namespace}-${name}` }, roleRef, subjects }
      : { apiVersion: `${rbac}/v1`, kind: 'RoleBinding', metadata: { name, namespace }, roleRef, subjects }) as unknown as KubeObject);
  }
  const answer = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return answer.status.token;
}

/**
 * A service-account JWT signed with a cluster's own signing key (`saKeyFile`, ES256), expired an hour ago: what
 * TokenRequest refuses to mint (it refuses short lifetimes), yet the right issuer, audience and signature.
 */
export function expiredServiceAccountToken(issuer: string, saKeyFile: string, namespace: string, sa: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ alg: 'ES256', typ: 'JWT' });
  const claims = b64({
    iss: issuer, aud: [issuer], sub: `system:serviceaccount:${namespace}:${sa}`, iat: now - 7200, nbf: now - 7200, exp: now - 3600,
    'kubernetes.io': { namespace, serviceaccount: { name: sa, uid: randomBytes(16).toString('hex') } },
  });
  const signature = createSign('SHA256').update(`${header}.${claims}`).sign({ key: readFileSync(saKeyFile), dsaEncoding: 'ieee-p1363' });
  return `${header}.${claims}.${signature.toString('base64url')}`;
}
