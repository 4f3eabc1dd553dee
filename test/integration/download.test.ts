/**
 * `mustgather download` end to end, as a person runs it: a real report on the real API server (the test plays the
 * kubelet and the router), a real archive served over HTTPS by the real file server, and the CLI in a child process
 * with a kubeconfig holding a service account's bearer token.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { issueServingCert, loadCA, PKI_FILES } from '../../controlplane/pki.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { createArchive } from '../../datapath/archive.js';
import { createFileServer, type FileServer } from '../../datapath/serve.js';
import type { KubeClient, KubeObject } from '../../reconciler/kube-client.js';
import { Reconciler, reportKey } from '../../reconciler/reconcile.js';
import { podStatus } from '../kubelet-states.js';
import { adminClient, admitRoute, createReport, eventually, getReport, setPodStatus, testNamespace } from './helpers.js';

const IMAGE = 'quay.io/a/must-gather:v1';
let admin: KubeClient;
let work: string;
let files: FileServer;
let https: Server;
let token: string;
let namespace: string;

/** The test control plane's CA: it signs the API server's certificate and, here, the route's. */
const caFile = () => join(inject('controlPlaneDir'), 'pki', PKI_FILES.caCert);

/** A kubeconfig for the test API server that authenticates with `bearer` (what `oc login` leaves behind). */
function tokenKubeconfig(bearer: string): string {
  const adminConfig = readFileSync(inject('kubeconfig'), 'utf8');
  const server = /server: (\S+)/.exec(adminConfig)![1]!;
  const path = join(work, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority': caFile() } }],
    users: [{ name: 'u', user: { token: bearer } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace } }],
  }));
  return path;
}

/** Runs the CLI without blocking this process, which serves the archive. */
function download(kubeconfig: string, ...args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', 'download', ...args], {
    env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 50_000,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
}

beforeAll(async () => {
  admin = adminClient();
  namespace = await testNamespace(admin, 'dl');
  work = mkdtempSync(join(tmpdir(), 'download-e2e-'));
  // A cluster-admin service account and its token, as a person logged in with `oc login` would have.
  await admin.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin-user', namespace } });
  await admin.create({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${namespace}-admin-user` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'admin-user', namespace }],
  } as unknown as KubeObject);
  const request = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/admin-user/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  token = request.status.token;

  mkdirSync(join(work, 'volume/gathers/01-quay.io-a-must-gather-v1/namespaces'), { recursive: true });
  writeFileSync(join(work, 'volume/gathers/01-quay.io-a-must-gather-v1/namespaces/pods.yaml'), 'kind: PodList\nitems: []\n'.repeat(5000));
  files = createFileServer({ dir: join(work, 'volume'), report: `${namespace}/r` });
  const ca = await loadCA(join(inject('controlPlaneDir'), 'pki'));
  const cert = await issueServingCert(ca);
  // The router's part: TLS in front of the file server, and only requests with a bearer token get through.
  https = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(403).end('forbidden');
      return;
    }
    files.server.emit('request', req, res);
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  https?.close();
  await files?.shutdown(1000);
  rmSync(work, { recursive: true, force: true });
});

async function readyReport(name: string, sha256: string, sizeBytes: number) {
  const report = await createReport(admin, namespace, name, { images: [IMAGE] });
  const names = reportObjectNames(report.metadata);
  const reconciler = new Reconciler({ client: admin, pollAfterMs: 200 });
  const key = reportKey(report);
  await eventually(async () => {
    await reconciler.reconcile(key);
    return admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' });
  }, 'the pod');
  await setPodStatus(admin, names.namespace, podStatus([IMAGE], { ended: ['Succeeded'], archive: 'done', serving: true, archiveResult: { sha256, sizeBytes } }));
  await admitRoute(admin, names.namespace, `127.0.0.1:${(https.address() as AddressInfo).port}`);
  await eventually(async () => {
    await reconciler.reconcile(key);
    return (await getReport(admin, namespace, name))?.status?.report_url;
  }, 'Ready');
}

describe('mustgather download', () => {
  it('waits for Ready, downloads with the context\'s bearer token and verifies the sha256', async () => {
    const summary = await createArchive({ source: join(work, 'volume/gathers'), output: join(work, 'volume/must-gather.tar.gz'), onWarning: () => undefined });
    await readyReport('r', summary.sha256, summary.sizeBytes);
    const output = join(work, 'out.tar.gz');
    const result = await download(tokenKubeconfig(token), 'r', '-o', output, '--certificate-authority', caFile());
    expect(result.stderr).toContain('Ready');
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output)).toEqual(readFileSync(join(work, 'volume/must-gather.tar.gz')));
  });

  it('fails with a clear message when the archive does not match the report\'s sha256', async () => {
    const summary = await createArchive({ source: join(work, 'volume/gathers'), output: join(work, 'volume/must-gather.tar.gz'), onWarning: () => undefined });
    await readyReport('tampered', 'ff'.repeat(32), summary.sizeBytes);
    const result = await download(tokenKubeconfig(token), 'tampered', '-o', join(work, 'bad.tar.gz'), '--certificate-authority', caFile());
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/sha256/i);
  });

  it('explains credentials the API server refuses, in one line', async () => {
    const result = await download(tokenKubeconfig('not-a-token'), 'r', '-o', join(work, 'x.tar.gz'), '--timeout', '5s', '--certificate-authority', caFile());
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toContain('rejected the credentials of context "c" (HTTP 401): the token is wrong or expired; log in again');
  });

  it('explains a 403 from the report URL in words', async () => {
    // Another cluster admin's token: the API server accepts it, the report's front door (which admits one token) does not.
    await admin.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'other', namespace } });
    await admin.create({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${namespace}-other` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'other', namespace }],
    } as unknown as KubeObject);
    const other = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/other/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    });
    const result = await download(tokenKubeconfig(other.status.token), 'r', '-o', join(work, 'x.tar.gz'), '--certificate-authority', caFile());
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/403.*cluster admin/i);
  });
});
