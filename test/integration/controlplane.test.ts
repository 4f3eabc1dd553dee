/**
 * Smoke test of the local control plane started by controlplane/vitest-global-setup.ts: the pinned version, the
 * namespace controller, TokenRequest, RBAC for a minted user, and the audit log. Uses raw requests (kubeRequest) with
 * the kubeconfig files, so it runs wherever the harness does, whether or not @kubernetes/client-node loads.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeRequest, mintUserFromDir, pinnedKubernetesVersion, readAuditEvents, targetFromKubeconfigFile, type RestResponse } from '../../controlplane/index.js';

const kubeconfig = inject('kubeconfig');
const controlPlaneDir = inject('controlPlaneDir');
const auditLogPath = inject('auditLogPath');
const local = controlPlaneDir !== '';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A request as admin that must answer with one of `ok` statuses. */
async function admin(method: string, path: string, body?: unknown, ok: number[] = [200, 201]): Promise<RestResponse> {
  const res = await kubeRequest(kubeconfig, method, path, body);
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.json?.message ?? res.text}`);
  return res;
}

describe('local control plane', () => {
  const ns = `cp-smoke-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    await admin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  afterAll(async () => {
    await kubeRequest(kubeconfig, 'DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  });

  it.runIf(local)('/version reports the pinned Kubernetes version', async () => {
    const v = (await admin('GET', '/version')).json;
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
      async () => ((await kubeRequest(kubeconfig, 'GET', `/api/v1/namespaces/${name}`)).status === 404 ? true : undefined),
      60_000,
      `namespace ${name} to go away`,
    );
  });

  it('issues a ServiceAccount token through TokenRequest, and the API server accepts it', async () => {
    await admin('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    const tr = await admin('POST', `/api/v1/namespaces/${ns}/serviceaccounts/robot/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    const token: string = tr.json?.status?.token ?? '';
    expect(token.split('.')).toHaveLength(3);
    const review = await admin('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token },
    });
    expect(review.json?.status?.authenticated).toBe(true);
    expect(review.json?.status?.user?.username).toBe(`system:serviceaccount:${ns}:robot`);
    // And the token itself is a credential: the API server says who we are with it.
    const { server, ca } = targetFromKubeconfigFile(kubeconfig);
    const self = await kubeRequest({ server, ca, token }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
    expect(self.status).toBe(201);
    expect(self.json?.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:robot`);
  });

  it.runIf(local)('forbids a minted non-admin user to list secrets cluster-wide, and lets the admin', async () => {
    const user = await mintUserFromDir(controlPlaneDir, 'cp-smoke-user', ['cp-smoke-group']);
    const denied = await kubeRequest(user.kubeconfigPath, 'GET', '/api/v1/secrets');
    expect(denied.status).toBe(403);
    // Authenticated (403, not 401) as the user we minted.
    expect(denied.json?.message).toContain('User "cp-smoke-user"');
    const allowed = await admin('GET', '/api/v1/secrets');
    expect(Array.isArray(allowed.json?.items)).toBe(true);
  });

  it.runIf(local)('records a create in the audit log', async () => {
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
      5_000,
      `the audit event of creating configmap ${ns}/${name}`,
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.responseStatus?.code).toBe(201);
    expect(events[0]?.user.groups).toContain('system:masters');
  });
});
