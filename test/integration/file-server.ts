/**
 * What the file-server integration tests share: the server's own identity (what the chart grants its service
 * account: `system:auth-delegator` and creating Events in the report's namespace) and real callers (service-account
 * tokens from TokenRequest, users bound to cluster roles).
 */
import { inject } from 'vitest';
import { mintUserFromDir } from '../../controlplane/index.js';
import { KubeClient, type KubeObject } from '../../reconciler/kube-client.js';

const rbac = 'rbac.authorization.k8s.io';

/** A client for a fresh user holding exactly the file server's permissions in `namespace`; its name and kubeconfig. */
export async function fileServerIdentity(admin: KubeClient, namespace: string): Promise<{ client: KubeClient; username: string; kubeconfigPath: string }> {
  const username = `file-server-${namespace}`;
  await bindUser(admin, namespace, username, 'system:auth-delegator');
  await admin.create({
    apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { name: 'record-downloads', namespace },
    rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }],
  } as unknown as KubeObject);
  await admin.create({
    apiVersion: `${rbac}/v1`, kind: 'RoleBinding', metadata: { name: 'record-downloads', namespace },
    roleRef: { apiGroup: rbac, kind: 'Role', name: 'record-downloads' },
    subjects: [{ apiGroup: rbac, kind: 'User', name: username }],
  } as unknown as KubeObject);
  const user = await mintUserFromDir(inject('controlPlaneDir'), username);
  return { client: new KubeClient(user.kubeConfig), username, kubeconfigPath: user.kubeconfigPath };
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
