/**
 * Smoke test of the local control plane started by controlplane/vitest-global-setup.ts: the pinned version, the
 * namespace controller, TokenRequest, RBAC for a minted user, and the audit log.
 */
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintUserFromDir, pinnedKubernetesVersion, readAuditEvents } from '../../controlplane/index.js';
import { isNotFound, KubeApiError, KubeClient } from '../../kube/client.js';
import { adminClient, eventually, kubeConfigFrom, LOCAL_CLUSTER, localOnly } from './helpers.js';

const controlPlaneDir = inject('controlPlaneDir');
const auditLogPath = inject('auditLogPath');

const client = adminClient();
/** A request as admin; a non-2xx answer fails the test with the server's message. */
const admin = (method: string, path: string, body?: unknown): Promise<any> => client.request(method, path, { body });

/** The API server's refusal of a request, or undefined when it was accepted. */
async function refusal(request: Promise<unknown>): Promise<KubeApiError | undefined> {
  try {
    await request;
    return undefined;
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
}

describe('local control plane', () => {
  const ns = `cp-smoke-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    await admin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  afterAll(async () => {
    await client.delete({ kind: 'Namespace', name: ns });
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('/version reports the pinned Kubernetes version', 'its pinned version'), async () => {
    const v = await admin('GET', '/version');
    expect(v.gitVersion).toBe(pinnedKubernetesVersion());
    expect(v.gitVersion).toBe(inject('kubernetesVersion'));
    expect(`v${v.major}.${v.minor}`).toBe(pinnedKubernetesVersion().replace(/\.\d+$/, ''));
  });

  it('deletes a namespace and its content (namespace controller)', async () => {
    const name = `cp-gone-${randomBytes(3).toString('hex')}`;
    await admin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await admin('POST', `/api/v1/namespaces/${name}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'content' }, data: { a: 'b' } });
    await admin('DELETE', `/api/v1/namespaces/${name}`);
    await eventually(
      async () => isNotFound(await refusal(admin('GET', `/api/v1/namespaces/${name}`))),
      `namespace ${name} to go away`,
      60_000,
    );
  });

  it('issues a ServiceAccount token through TokenRequest, and the API server accepts it', async () => {
    await admin('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    const tr = await admin('POST', `/api/v1/namespaces/${ns}/serviceaccounts/robot/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    const token: string = tr?.status?.token ?? '';
    expect(token.split('.')).toHaveLength(3);
    const review = await admin('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token },
    });
    expect(review?.status?.authenticated).toBe(true);
    expect(review?.status?.user?.username).toBe(`system:serviceaccount:${ns}:robot`);
    // And the token itself is a credential: the API server says who we are with it.
    const withToken = new KubeConfig();
    const cluster = kubeConfigFrom(inject('kubeconfig')).getCurrentCluster()!;
    withToken.loadFromOptions({
      clusters: [cluster], users: [{ name: 'robot', token }], contexts: [{ name: 'robot', cluster: cluster.name, user: 'robot' }], currentContext: 'robot',
    });
    const self = await new KubeClient(withToken).request<any>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(self?.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:robot`);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('forbids a minted non-admin user to list secrets cluster-wide, and lets the admin', 'its CA'), async () => {
    const user = await mintUserFromDir(controlPlaneDir, 'cp-smoke-user', ['cp-smoke-group']);
    const denied = await refusal(new KubeClient(user.kubeConfig).request('GET', '/api/v1/secrets'));
    expect(denied?.statusCode).toBe(403);
    // Authenticated (403, not 401) as the user we minted.
    expect(denied?.apiMessage).toContain('User "cp-smoke-user"');
    const allowed = await admin('GET', '/api/v1/secrets');
    expect(Array.isArray(allowed?.items)).toBe(true);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('records a create in the audit log', 'its audit log'), async () => {
    const name = `audited-${randomBytes(3).toString('hex')}`;
    await admin('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: {} });
    const events = await eventually(
      async () => {
        const found = await readAuditEvents(
          auditLogPath,
          (e) =>
            e.stage === 'ResponseComplete' &&
            e.verb === 'create' &&
            e.objectRef?.resource === 'configmaps' &&
            e.objectRef?.namespace === ns &&
            e.objectRef?.name === name,
        );
        return found.length > 0 ? found : undefined;
      },
      `the audit event of creating configmap ${ns}/${name}`,
      5_000,
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.responseStatus?.code).toBe(201);
    expect(events[0]?.user.groups).toContain('system:masters');
  });
});
