/**
 * The file server checks every caller itself, against the real API server of the test control plane: TokenReview for
 * bearer tokens, the cluster's client CA for certificates, SubjectAccessReview for the download access. Real
 * identities (service-account tokens from TokenRequest, client certificates from the local CA, a hand-signed expired
 * token), a real HTTPS client, and the API server's audit log to count the reviews the server made.
 *
 * On an existing cluster (USE_EXISTING_CLUSTER=true) the tests that need the local CA (client certificates), its
 * signing key or its audit log do not run; the rest do (the file server's identity is a service account, its client
 * CA the cluster's own from kube-system/extension-apiserver-authentication, its serving CA a fresh one).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AuditEvent, readAuditEvents } from '../../controlplane/index.js';
import { type CertKeyPair, createCA, issueClientCert, issueServingCert, loadCA, PKI_FILES } from '../../controlplane/pki.js';
import type { DownloadAccess } from '../../constructs/pod-contract.js';
import { DELEGATED_AUTH_DEFAULTS, DelegatedAuth, type DelegatedAuthOptions } from '../../datapath/delegated-auth.js';
import { createFileServer, DOWNLOAD_REASONS, downloadRecorder, type FileServer } from '../../datapath/serve.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { bindUser, expiredServiceAccountToken, fileServerIdentity, serviceAccountToken } from './file-server.js';
import { adminClient, clusterClientCa, createReport, eventually, LOCAL_CLUSTER, localOnly, testNamespace } from './helpers.js';

const pki = () => join(inject('controlPlaneDir'), 'pki');
const work = mkdtempSync(join(tmpdir(), 'serve-auth-'));
const archive = randomBytes(2 * 1024 * 1024 + 77);
const tls = { certFile: join(work, 'tls.crt'), keyFile: join(work, 'tls.key'), clientCaFile: join(work, 'client-ca.crt') };
let admin: KubeClient;
let namespace: string;
let serverUser: string;
let serverClient: KubeClient;
let serverKubeconfig: string;
let servingCa: string;
let reportUid: string;
const servers: FileServer[] = [];
const logLines: string[] = [];

/** Starts a file server on 127.0.0.1 for the archive, checking callers with `auth` (the server's own identity by default). */
async function serve(auth: Partial<DelegatedAuthOptions> = {}): Promise<number> {
  const client = auth.client ?? serverClient;
  const files = createFileServer({
    dir: work, tls, report: `${namespace}/r`,
    authorize: new DelegatedAuth({ client, ...auth }).check,
    onDownload: downloadRecorder({ client, report: { namespace, name: 'r', uid: reportUid }, log: (line) => logLines.push(line) }),
  });
  servers.push(files);
  files.server.listen(0, '127.0.0.1');
  await once(files.server, 'listening');
  return (files.server.address() as { port: number }).port;
}

interface Caller {
  token?: string;
  cert?: CertKeyPair;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  body: Buffer;
}

function get(port: number, path: string, caller: Caller = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...caller.headers, ...(caller.token !== undefined ? { Authorization: `Bearer ${caller.token}` } : {}) };
    const req = request({ host: '127.0.0.1', port, path, method, headers, ca: servingCa, agent: false, ...(caller.cert ? { cert: caller.cert.cert, key: caller.cert.key } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** TokenReviews the file server's identity made, as the API server's audit log recorded them. */
async function tokenReviews(): Promise<AuditEvent[]> {
  return readAuditEvents(inject('auditLogPath'), (e) => e.stage === 'ResponseComplete' && e.user.username === serverUser && e.objectRef?.resource === 'tokenreviews');
}

/** The count once the audit log has settled (a request's event can land a few milliseconds after its response). */
async function settledTokenReviews(): Promise<number> {
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const count = (await tokenReviews()).length;
    if (count === last) return count;
    last = count;
  }
}

beforeAll(async () => {
  admin = adminClient();
  namespace = await testNamespace(admin, 'auth');
  writeFileSync(join(work, 'must-gather.tar.gz'), archive);
  writeFileSync(join(work, 'must-gather.tar.gz.sha256'), 'abc  must-gather.tar.gz\n');
  const ca = await createCA('serve-auth-serving-ca');
  const serving = await issueServingCert(ca);
  servingCa = ca.cert;
  writeFileSync(tls.certFile, serving.cert);
  writeFileSync(tls.keyFile, serving.key);
  // The cluster's client CA, where the operator reads it for the report pod.
  writeFileSync(tls.clientCaFile, await clusterClientCa(admin));
  // The file server's own identity holds what the chart grants its service account, and nothing more.
  ({ client: serverClient, username: serverUser, kubeconfigPath: serverKubeconfig } = await fileServerIdentity(admin, namespace, work));
  reportUid = (await createReport(admin, namespace, 'r', { images: ['quay.io/a/must-gather:v1'] })).metadata.uid!;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.shutdown(500)));
  serverClient?.close();
  admin?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('file server: delegated authentication and authorization', () => {
  let port: number;
  let adminToken: string;
  let adminCert: CertKeyPair;
  beforeAll(async () => {
    port = await serve();
    adminToken = await serviceAccountToken(admin, namespace, 'admin', { clusterRole: 'cluster-admin', clusterWide: true });
    if (LOCAL_CLUSTER) adminCert = await issueClientCert(await loadCA(pki()), `cert-admin-${namespace}`, ['system:masters']);
  });

  it('serves a cluster admin\'s token the exact bytes, and ranges', async () => {
    const full = await get(port, '/must-gather.tar.gz', { token: adminToken });
    expect(full.status).toBe(200);
    expect(full.body.equals(archive)).toBe(true);
    const part = await get(port, '/must-gather.tar.gz', { token: adminToken, headers: { Range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.body.equals(archive.subarray(1000, 2000))).toBe(true);
    expect((await get(port, '/', { token: adminToken })).body.toString()).toContain(`must-gather report ${namespace}/r`);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('serves a cluster admin\'s client certificate (system:masters) and one bound to cluster-admin', 'its CA'), async () => {
    const masters = await get(port, '/must-gather.tar.gz', { cert: adminCert });
    expect(masters.status).toBe(200);
    expect(masters.body.equals(archive)).toBe(true);
    const bound = `bound-admin-${namespace}`;
    await bindUser(admin, namespace, bound, 'cluster-admin');
    const byBinding = await get(port, '/must-gather.tar.gz.sha256', { cert: await issueClientCert(await loadCA(pki()), bound) });
    expect(byBinding.status).toBe(200);
    expect(byBinding.body.toString()).toBe('abc  must-gather.tar.gz\n');
  });

  it('refuses known users who are not cluster admins with 403, one line and no bytes', async () => {
    const namespaceAdmin = await serviceAccountToken(admin, namespace, 'ns-admin', { clusterRole: 'admin', clusterWide: false });
    await admin.create({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${namespace}-pods-only` },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }],
    } as unknown as KubeObject);
    const podsOnly = await serviceAccountToken(admin, namespace, 'pods-only', { clusterRole: `${namespace}-pods-only`, clusterWide: true });
    await expectForbidden([
      [`system:serviceaccount:${namespace}:ns-admin`, { token: namespaceAdmin }],
      [`system:serviceaccount:${namespace}:pods-only`, { token: podsOnly }],
      // Identity headers are not identities: the service account stays itself.
      [`system:serviceaccount:${namespace}:pods-only`, { token: podsOnly, headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters', 'Impersonate-User': 'system:admin', 'X-Forwarded-User': 'system:admin', 'X-Forwarded-Access-Token': adminToken } }],
    ]);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('refuses a client certificate of a user who is not a cluster admin with 403, identity headers or not', 'its CA'), async () => {
    const viewer = `viewer-${namespace}`;
    await bindUser(admin, namespace, viewer, 'view');
    const viewerCert = await issueClientCert(await loadCA(pki()), viewer, ['some-team']);
    await expectForbidden([
      [viewer, { cert: viewerCert }],
      // Identity headers are not identities: the viewer stays the viewer.
      [viewer, { cert: viewerCert, headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters', 'Impersonate-User': 'system:admin', 'X-Forwarded-User': 'system:admin', 'X-Forwarded-Access-Token': adminToken } }],
    ]);
  });

  /** Each caller gets 403 and one line naming it, on every path. */
  async function expectForbidden(cases: [string, Caller][]): Promise<void> {
    for (const [user, caller] of cases) {
      for (const path of ['/must-gather.tar.gz', '/must-gather.tar.gz.sha256', '/']) {
        const answer = await get(port, path, caller);
        expect(answer.status, `${user} ${path}`).toBe(403);
        expect(answer.body.toString()).toBe(`user "${user}" may not * * (group *) cluster-wide\n`);
      }
    }
  }

  /** Each caller gets 401, one line and no bytes, on every path. */
  async function expectUnauthenticated(cases: [string, Caller][]): Promise<void> {
    for (const [what, caller] of cases) {
      for (const path of ['/must-gather.tar.gz', '/']) {
        const answer = await get(port, path, caller).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message) }));
        expect(answer.status, `${what} ${path}: ${answer.body.toString()}`).toBe(401);
        expect(answer.body.includes(archive.subarray(0, 64))).toBe(false);
        expect(answer.body.toString().trim().split('\n')).toHaveLength(1);
      }
    }
  }

  it('refuses callers without valid credentials with 401 and no bytes', async () => {
    const deleted = await serviceAccountToken(admin, namespace, 'deleted', { clusterRole: 'cluster-admin', clusterWide: true });
    await admin.delete({ kind: 'ServiceAccount', namespace, name: 'deleted' });
    // Wait until the API server itself no longer accepts the token (its service-account informer has seen the delete).
    await eventually(async () => !(await admin.request<{ status: { authenticated?: boolean } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: deleted } },
    })).status.authenticated, 'the deleted account\'s token to be refused');
    const strangerCert = await issueClientCert(await createCA('another-ca'), 'system:admin', ['system:masters']);
    await expectUnauthenticated([
      ['no credentials', {}],
      ['identity headers only', { headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters', 'Impersonate-User': 'system:admin', 'X-Forwarded-User': 'admin' } }],
      ['a garbage token', { token: 'garbage' }],
      ['a deleted service account\'s token', { token: deleted }],
      ['a certificate from another CA', { cert: strangerCert }],
      ['a token that is not printable ASCII', { headers: { Authorization: 'Bearer abc\u00e9def' } }],
      ['a 9 KiB token', { token: 'a'.repeat(9 * 1024) }],
      ['a Basic login', { headers: { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } }],
    ]);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('refuses an expired token signed with the cluster\'s key and an expired certificate of its CA with 401', 'its signing key and CA'), async () => {
    await serviceAccountToken(admin, namespace, 'expired', { clusterRole: 'cluster-admin', clusterWide: true });
    await expectUnauthenticated([
      ['an expired token signed with the cluster\'s key', { token: expiredServiceAccountToken(kubeConfigServer(), join(pki(), PKI_FILES.saKey), namespace, 'expired') }],
      ['an expired certificate of the cluster\'s CA', { cert: await issueClientCert(await loadCA(pki()), 'system:admin', ['system:masters'], -1) }],
    ]);
  });

  it('leaves /healthz open', async () => {
    const answer = await get(port, '/healthz');
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('ok\n');
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('records each download with its user, range and bytes: a JSON line and an Event on the report', 'its CA'), async () => {
    logLines.length = 0;
    await get(port, '/must-gather.tar.gz', { token: adminToken, headers: { Range: 'bytes=100-199' } });
    await get(port, '/must-gather.tar.gz', { cert: adminCert });
    // The server reports a download once its last write drained, which can come a moment after the client read it all.
    await eventually(async () => logLines.length >= 2, 'both download log lines', 5_000, 20);
    const lines = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toMatchObject([
      { msg: 'download finished', report: `${namespace}/r`, user: `system:serviceaccount:${namespace}:admin`, status: 206, range: `bytes 100-199/${archive.length}`, bytesSent: 100 },
      { msg: 'download finished', user: `cert-admin-${namespace}`, status: 200, range: `bytes 0-${archive.length - 1}/${archive.length}`, bytesSent: archive.length },
    ]);
    const events = await eventually(async () => {
      const list = await admin.list<KubeObject & { reason: string; message: string; type: string; involvedObject: Record<string, string> }>(
        RESOURCES.Event,
        { namespace, fieldSelector: `involvedObject.name=r,reason=${DOWNLOAD_REASONS.complete}` },
      );
      return list.items.length >= 2 && list.items;
    }, 'two download events');
    const messages = events.map((e) => e.message);
    expect(messages.some((m) => m.startsWith(`user "system:serviceaccount:${namespace}:admin" downloaded bytes 100-199/${archive.length} (100 bytes)`))).toBe(true);
    expect(messages.some((m) => m.startsWith(`user "cert-admin-${namespace}" downloaded bytes 0-${archive.length - 1}/${archive.length} (${archive.length} bytes)`))).toBe(true);
    expect(events[0]).toMatchObject({ type: 'Normal', involvedObject: { apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport', name: 'r', namespace, uid: reportUid } });
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('remembers a decision for a while: a second request within the TTL makes no TokenReview', 'its audit log'), async () => {
    const fresh = await serve();
    const token = await serviceAccountToken(admin, namespace, 'cached', { clusterRole: 'cluster-admin', clusterWide: true });
    const before = await settledTokenReviews();
    expect((await get(fresh, '/must-gather.tar.gz.sha256', { token })).status).toBe(200);
    expect(await settledTokenReviews()).toBe(before + 1);
    expect((await get(fresh, '/must-gather.tar.gz.sha256', { token })).status).toBe(200);
    expect((await get(fresh, '/', { token })).status).toBe(200);
    expect(await settledTokenReviews()).toBe(before + 1);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('does not let a flood of garbage tokens flood the API server', 'its audit log'), async () => {
    const fresh = await serve();
    const before = await settledTokenReviews();
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(fresh, '/must-gather.tar.gz', { token: `garbage-${i}-${randomBytes(8).toString('hex')}` })));
    const seconds = (performance.now() - started) / 1000;
    const reviews = (await settledTokenReviews()) - before;
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([401, 429]));
    expect(answers.every((a) => !a.body.includes(archive.subarray(0, 64)))).toBe(true);
    expect(reviews).toBeLessThanOrEqual(DELEGATED_AUTH_DEFAULTS.reviewBurst + Math.ceil(DELEGATED_AUTH_DEFAULTS.reviewsPerSecond * seconds));
    expect(reviews).toBeLessThan(200);
  });

  it('lets through whoever passes a configured access review', async () => {
    const podReader = await serviceAccountToken(admin, namespace, 'pod-reader', { clusterRole: 'view', clusterWide: false });
    const access: DownloadAccess = { verb: 'get', group: '', resource: 'pods', namespace };
    const narrow = await serve({ access });
    expect((await get(narrow, '/must-gather.tar.gz.sha256', { token: podReader })).status).toBe(200);
    const other = await get(await serve({ access: { ...access, namespace: 'kube-system' } }), '/must-gather.tar.gz.sha256', { token: podReader });
    expect(other.status).toBe(403);
    expect(other.body.toString()).toBe(`user "system:serviceaccount:${namespace}:pod-reader" may not get pods (group core) in namespace kube-system\n`);
  });

  it('answers 503, never the archive, while the API server cannot be reached', async () => {
    const closed = createNetServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'gone', server: `https://127.0.0.1:${closedPort}`, skipTLSVerify: false }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }],
      currentContext: 'gone',
    });
    const unreachable = await serve({ client: new KubeClient(kc) });
    // A client certificate of the local CA too, where it is at hand: it takes the API server as much as a token.
    for (const caller of [{ token: adminToken }, ...(LOCAL_CLUSTER ? [{ cert: adminCert }] : []), { token: adminToken }]) {
      const answer = await get(unreachable, '/must-gather.tar.gz', caller);
      expect(answer.status).toBe(503);
      expect(answer.body.toString()).toBe('cannot check credentials with the Kubernetes API right now; retry later\n');
    }
    // Refusals that need no API call still come: no credentials, and malformed tokens.
    for (const caller of [{}, { token: 'a'.repeat(9 * 1024) }, { headers: { Authorization: 'Bearer abc\u00e9def' } }]) {
      expect((await get(unreachable, '/must-gather.tar.gz', caller)).status).toBe(401);
    }
  });
});

describe('mustgather serve', () => {
  it('serves over TLS to callers the cluster allows, and records downloads on the report', async () => {
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'bin/mustgather.ts', 'serve', '--dir', work, '--address', '127.0.0.1', '--port', '0',
      '--report', `${namespace}/r`, '--report-uid', reportUid, '--kubeconfig', serverKubeconfig,
      '--tls-cert-file', tls.certFile, '--tls-private-key-file', tls.keyFile, '--client-ca-file', tls.clientCaFile,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    try {
      const listening = await eventually(async () => /serving .* on https:\/\/127\.0\.0\.1:(\d+)\/ to callers who may \* \* \(group \*\) cluster-wide/.exec(stdout)?.[1], 'the server to listen', 20_000);
      const port = Number(listening);
      const token = await serviceAccountToken(admin, namespace, 'cli-admin', { clusterRole: 'cluster-admin', clusterWide: true });
      expect((await get(port, '/healthz')).status).toBe(200);
      expect((await get(port, '/must-gather.tar.gz')).status).toBe(401);
      const answer = await get(port, '/must-gather.tar.gz', { token, headers: { Range: 'bytes=0-9' } });
      expect(answer.status).toBe(206);
      expect(answer.body.equals(archive.subarray(0, 10))).toBe(true);
      const line = await eventually(async () => stdout.split('\n').find((l) => l.includes('"msg":"download finished"')), 'the download log line');
      expect(JSON.parse(line)).toMatchObject({ user: `system:serviceaccount:${namespace}:cli-admin`, range: `bytes 0-9/${archive.length}`, bytesSent: 10, report: `${namespace}/r` });
      await eventually(async () => (await admin.list<KubeObject & { message: string }>(RESOURCES.Event, { namespace, fieldSelector: `involvedObject.uid=${reportUid}` }))
        .items.some((e) => e.message.startsWith(`user "system:serviceaccount:${namespace}:cli-admin" downloaded bytes 0-9/`)), 'the Event');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});

/** The API server's URL: the service-account issuer of the test control plane. */
function kubeConfigServer(): string {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfig'));
  return kc.getCurrentCluster()!.server;
}
