/**
 * `mustgather download` end to end, as a person runs it: the CLI in a child process with a kubeconfig (a service
 * account's token, or a client certificate), a real report on the real API server, and the real file server over
 * TLS checking every caller against that API server (TokenReview / client CA, then SubjectAccessReview). The test
 * plays the operator's last step: it publishes the URL (reachable on 127.0.0.1), the serving CA (`status.caBundle`)
 * and the archive's sha256 in the report's status, as the operator does on a plain Kubernetes cluster.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintUserFromDir } from '../../controlplane/index.js';
import { createArchive } from '../../datapath/archive.js';
import { downloadRecorder, type FileServer } from '../../datapath/serve.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { serviceAccountToken, startFileServer } from './file-server.js';
import { adminClient, createReport, kubeconfigFile, LOCAL_CLUSTER, localOnly, testNamespace } from './helpers.js';

const IMAGE = 'quay.io/a/must-gather:v1';
let admin: KubeClient;
let serverClient: KubeClient;
let work: string;
let files: FileServer;
let port: number;
let servingCa: string;
let adminToken: string;
let readerToken: string;
let archive: { sha256: string; sizeBytes: number };
let namespace: string;
const downloads: Record<string, unknown>[] = [];

const tokenKubeconfig = (token: string) => kubeconfigFile(work, namespace, { token });

/** Runs the CLI without blocking this process, which serves the archive. */
function download(kubeconfig: string, ...args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', 'download', ...args], {
    env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 50_000,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
}

/** A report as the operator leaves it once Ready on plain Kubernetes: URL, serving CA and the archive's facts. */
async function readyReport(name: string, sha256 = archive.sha256, url = `https://127.0.0.1:${port}/must-gather.tar.gz`): Promise<void> {
  await createReport(admin, namespace, name, { images: [IMAGE] });
  await admin.patch({ kind: 'MustGatherReport', namespace, name }, {
    status: {
      report_url: url,
      caBundle: servingCa,
      archive: { sha256, sizeBytes: archive.sizeBytes },
      conditions: [{ type: 'Ready', status: 'True', reason: 'ArchiveReady', message: 'the archive is served', lastTransitionTime: new Date().toISOString() }],
    },
  }, { subresource: 'status' });
}

const archiveBytes = () => readFileSync(join(work, 'volume/must-gather.tar.gz'));

beforeAll(async () => {
  admin = adminClient();
  namespace = await testNamespace(admin, 'dl');
  work = mkdtempSync(join(tmpdir(), 'download-e2e-'));
  adminToken = await serviceAccountToken(admin, namespace, 'admin-user', { clusterRole: 'cluster-admin', clusterWide: true });
  // Reads reports, and nothing else: the file server refuses it.
  await admin.create({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${namespace}-report-reader` },
    rules: [{ apiGroups: ['mustgather.openshift.io'], resources: ['mustgatherreports'], verbs: ['get', 'list', 'watch'] }],
  } as unknown as KubeObject);
  readerToken = await serviceAccountToken(admin, namespace, 'reader', { clusterRole: `${namespace}-report-reader`, clusterWide: true });

  mkdirSync(join(work, 'volume/gathers/01-quay.io-a-must-gather-v1/namespaces'), { recursive: true });
  writeFileSync(join(work, 'volume/gathers/01-quay.io-a-must-gather-v1/namespaces/pods.yaml'), 'kind: PodList\nitems: []\n'.repeat(50_000));
  archive = await createArchive({ source: join(work, 'volume/gathers'), output: join(work, 'volume/must-gather.tar.gz'), onWarning: () => undefined });

  // The operator's own CA issues the file server's certificate (plain Kubernetes profile).
  ({ files, port, servingCa, serverClient } = await startFileServer(admin, namespace, work, (client) => ({
    report: `${namespace}/r`,
    onDownload: downloadRecorder({ client, report: { namespace, name: 'r' }, log: (line) => downloads.push(JSON.parse(line)) }),
  })));
  await readyReport('r');
});

afterAll(async () => {
  await files?.shutdown(1000);
  serverClient?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('mustgather download', () => {
  it('downloads with the context\'s bearer token, trusting the CA in status.caBundle, and verifies the sha256', async () => {
    downloads.length = 0;
    const output = join(work, 'out.tar.gz');
    const result = await download(tokenKubeconfig(adminToken), 'r', '-o', output);
    expect(result.stderr).toContain('Ready');
    expect(result.stderr).toContain(`downloading from 127.0.0.1:${port}`);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output).equals(archiveBytes())).toBe(true);
    expect(downloads).toMatchObject([{ user: `system:serviceaccount:${namespace}:admin-user`, status: 200, bytesSent: archive.sizeBytes }]);
  });

  it.runIf(LOCAL_CLUSTER)(localOnly('downloads with the context\'s client certificate', 'its CA'), async () => {
    const user = await mintUserFromDir(inject('controlPlaneDir'), `cert-admin-${namespace}`, ['system:masters']);
    const output = join(work, 'by-cert.tar.gz');
    const result = await download(user.kubeconfigPath, 'r', '-n', namespace, '-o', output);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output).equals(archiveBytes())).toBe(true);
  });

  it('resumes a partial download: the server sends only the rest', async () => {
    const output = join(work, 'resumed.tar.gz');
    const etag = await new Promise<string>((resolve, reject) => {
      request(`https://127.0.0.1:${port}/must-gather.tar.gz`, { method: 'HEAD', ca: servingCa, headers: { Authorization: `Bearer ${adminToken}` } }, (res) => resolve(res.headers.etag!))
        .on('error', reject).end();
    });
    const half = Math.floor(archive.sizeBytes / 2);
    writeFileSync(`${output}.part`, archiveBytes().subarray(0, half));
    writeFileSync(`${output}.part.json`, JSON.stringify({ url: `https://127.0.0.1:${port}/must-gather.tar.gz`, etag }));
    downloads.length = 0;
    const result = await download(tokenKubeconfig(adminToken), 'r', '-o', output);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output).equals(archiveBytes())).toBe(true);
    expect(downloads).toMatchObject([{ status: 206, range: `bytes ${half}-${archive.sizeBytes - 1}/${archive.sizeBytes}`, bytesSent: archive.sizeBytes - half }]);
  });

  it('fails with a clear message when the archive does not match the report\'s sha256, and keeps nothing', async () => {
    await readyReport('tampered', 'ff'.repeat(32));
    const output = join(work, 'bad.tar.gz');
    const result = await download(tokenKubeconfig(adminToken), 'tampered', '-o', output);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/sha256 mismatch/);
    expect(readdirSync(work).filter((f) => f.startsWith('bad.tar.gz'))).toEqual([]);
  });

  it('--delete deletes the report after a verified download, and keeps it when the download fails verification', async () => {
    await readyReport('done-with');
    const output = join(work, 'then-deleted.tar.gz');
    const result = await download(tokenKubeconfig(adminToken), 'done-with', '-o', output, '--delete');
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(output).equals(archiveBytes())).toBe(true);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(`${namespace}/done-with: deleted`);
    expect(await admin.get({ kind: 'MustGatherReport', namespace, name: 'done-with' })).toBeUndefined();

    await readyReport('bad-sum', 'ee'.repeat(32));
    const refused = await download(tokenKubeconfig(adminToken), 'bad-sum', '-o', join(work, 'bad-sum.tar.gz'), '--delete');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/sha256 mismatch/);
    expect(refused.stderr).not.toContain('deleted');
    expect(await admin.get({ kind: 'MustGatherReport', namespace, name: 'bad-sum' })).toBeDefined();
  });

  it('explains credentials the API server refuses, in one line', async () => {
    const result = await download(tokenKubeconfig('not-a-token'), 'r', '-o', join(work, 'x.tar.gz'), '--timeout', '5s');
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toContain('rejected the credentials of context "c" (HTTP 401): the token is wrong or expired; log in again');
  });

  it('a user who may read the report but not download gets the server\'s 403 in one line, and no file', async () => {
    const output = join(work, 'refused.tar.gz');
    const result = await download(tokenKubeconfig(readerToken), 'r', '-o', output);
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      `mustgather download: HTTP 403 from https://127.0.0.1:${port}/must-gather.tar.gz: user "system:serviceaccount:${namespace}:reader" may not * * (group *) cluster-wide; ` +
        'downloading a report takes a cluster admin unless the operator says otherwise',
    );
    expect(readdirSync(work).filter((f) => f.startsWith('refused.tar.gz'))).toEqual([]);
  });

  it('presents --token to the report\'s server instead of the context\'s credentials', async () => {
    const output = join(work, 'by-flag.tar.gz');
    const result = await download(tokenKubeconfig(readerToken), 'r', '-o', output, '--token', adminToken);
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(output)).toBe(true);
  });

  it('port-forwards through the API server to an in-cluster URL, and says why it could not reach the pod', async () => {
    // No node here to run the pod: the API server refuses the port-forward, and the message says so (the lead's
    // end-to-end suite downloads through a real one).
    await readyReport('in-cluster', archive.sha256, `https://must-gather.${namespace}.svc/must-gather.tar.gz`);
    const output = join(work, 'in-cluster.tar.gz');
    const result = await download(tokenKubeconfig(adminToken), 'in-cluster', '-o', output);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is an in-cluster name: downloading through a port-forward to pod must-gather-\S+\/must-gather port 8443\n/);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^mustgather download: port-forward to pod must-gather-\S+\/must-gather port 8443: no such pod; was the report deleted, or is its pod not created yet\? \(HTTP 404\)$/);
    expect(readdirSync(work).filter((f) => f.startsWith('in-cluster.tar.gz'))).toEqual([]);
  });
});
