/**
 * `mustgather gather` end to end, as a person runs it: the CLI in a child process with a kubeconfig holding a
 * cluster admin's token, creating a real report on the real API server. The test plays the operator: it writes the
 * report's gathers and Ready condition, and at the end publishes the URL of a real file server (TLS, TokenReview and
 * SubjectAccessReview against that API server), its CA and the archive's sha256, as download.test.ts does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArchive } from '../../datapath/archive.js';
import type { FileServer } from '../../datapath/serve.js';
import { type GatherStatus, resolveSpec } from '../../constructs/report-api.js';
import type { KubeClient } from '../../kube/client.js';
import { serviceAccountToken, startFileServer } from './file-server.js';
import { adminClient, eventually, getReport, kubeconfigFile, testNamespace } from './helpers.js';

const IMAGES = ['quay.io/a/must-gather:v1', 'quay.io/b/must-gather:v2'];
const PODS = 'kind: PodList\nitems: []\n';
let admin: KubeClient;
let serverClient: KubeClient;
let work: string;
let files: FileServer;
let port: number;
let servingCa: string;
let archive: { sha256: string; sizeBytes: number };
let namespace: string;
let kubeconfig: string;

/** The CLI in a child process; its standard error as it comes, and its exit. */
function gather(...args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', 'gather', '--kubeconfig', kubeconfig, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'], timeout: 50_000,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return { child, stderr: () => stderr, exit: new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null)))) };
}

/** Plays the operator: writes the report's status. */
async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await admin.patch({ kind: 'MustGatherReport', namespace, name }, { status }, { subresource: 'status' });
}

const gathers = (...states: GatherStatus['state'][]): GatherStatus[] => states.map((state, i) => ({ index: i + 1, image: IMAGES[i]!, state }));
const ready = (status: 'True' | 'False', reason: string, message: string) => [{ type: 'Ready', status, reason, message, lastTransitionTime: new Date().toISOString() }];

/** Waits until the CLI created report `name` (and said so). */
async function created(run: ReturnType<typeof gather>, name: string): Promise<void> {
  await eventually(async () => run.stderr().includes(`MustGatherReport ${namespace}/${name} created`), `the CLI to create ${name}: ${run.stderr()}`);
}

beforeAll(async () => {
  admin = adminClient();
  namespace = await testNamespace(admin, 'gather');
  work = mkdtempSync(join(tmpdir(), 'gather-e2e-'));
  kubeconfig = kubeconfigFile(work, namespace, { token: await serviceAccountToken(admin, namespace, 'admin-user', { clusterRole: 'cluster-admin', clusterWide: true }) });

  for (const [i, image] of IMAGES.entries()) {
    const dir = join(work, `volume/gathers/0${i + 1}-${image.replace(/[/:]/g, '-')}/namespaces`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pods.yaml'), PODS);
  }
  archive = await createArchive({ source: join(work, 'volume/gathers'), output: join(work, 'volume/must-gather.tar.gz'), onWarning: () => undefined });

  ({ files, port, servingCa, serverClient } = await startFileServer(admin, namespace, work));
});

afterAll(async () => {
  await files?.shutdown(1000);
  serverClient?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Plays the operator through two gathers to Ready, waiting for the CLI to show each step. */
async function playToReady(run: ReturnType<typeof gather>, name: string): Promise<void> {
  const ref = `${namespace}/${name}`;
  await created(run, name);
  await setStatus(name, { gathers: gathers('Running', 'Pending'), conditions: ready('False', 'Gathering', `image 1/2 ${IMAGES[0]} is gathering`) });
  await eventually(async () => run.stderr().includes(`${ref}: Gathering: image 1/2`), `the Gathering line: ${run.stderr()}`);
  await setStatus(name, { gathers: gathers('Succeeded', 'Failed'), conditions: ready('False', 'Compressing', 'compressing') });
  await eventually(async () => run.stderr().includes(`${ref}: Compressing`), `the Compressing line: ${run.stderr()}`);
  await setStatus(name, {
    gathers: gathers('Succeeded', 'Failed'), report_url: `https://127.0.0.1:${port}/must-gather.tar.gz`, caBundle: servingCa,
    archive: { sha256: archive.sha256, sizeBytes: archive.sizeBytes }, conditions: ready('True', 'ArchiveReady', 'the archive is served'),
  });
}

describe('mustgather gather', () => {
  it('creates the report from flags, shows each change once, downloads, verifies and unpacks the archive, then deletes the report', async () => {
    const dest = join(work, 'out');
    const run = gather('--name', 'mg', '--image', IMAGES[0]!, '--image', IMAGES[1]!, '--since', '2h', '--dest-dir', dest, '--', '/bin/sh', '-c', 'gather');
    await created(run, 'mg');
    // What the API server stores: the flags, and the CRD's defaults for the rest.
    expect((await getReport(admin, namespace, 'mg'))?.spec).toEqual(resolveSpec({ images: IMAGES, since: '2h', command: ['/bin/sh', '-c', 'gather'] }));
    await playToReady(run, 'mg');
    expect(await run.exit, run.stderr()).toBe(0);

    const ref = `${namespace}/mg`;
    const lines = run.stderr().trim().split('\n');
    expect(lines[0]).toBe(`MustGatherReport ${ref} created`);
    // In order, and each change once, though the CLI read the report many times.
    const progress = lines.filter((line) => line.startsWith(`${ref}: `) && !/Pending: the operator/.test(line));
    expect(progress).toEqual([
      `${ref}: image 1/2 ${IMAGES[0]}: Running`,
      `${ref}: image 2/2 ${IMAGES[1]}: Pending`,
      `${ref}: Gathering: image 1/2 ${IMAGES[0]} is gathering`,
      `${ref}: image 1/2 ${IMAGES[0]}: Succeeded`,
      `${ref}: image 2/2 ${IMAGES[1]}: Failed`,
      `${ref}: Compressing: compressing`,
      `${ref}: Ready`,
      `${ref}: extracted into ${dest}`,
      `${ref}: deleted`,
    ]);
    expect(run.stderr()).toContain(`saved ${join(dest, 'must-gather.tar.gz')} (${archive.sizeBytes} bytes, sha256 ${archive.sha256} verified)`);
    expect(readFileSync(join(dest, 'must-gather.tar.gz')).equals(readFileSync(join(work, 'volume/must-gather.tar.gz')))).toBe(true);
    for (const [i, image] of IMAGES.entries()) {
      expect(readFileSync(join(dest, `must-gather/0${i + 1}-${image.replace(/[/:]/g, '-')}/namespaces/pods.yaml`), 'utf8')).toBe(PODS);
    }
    expect(await getReport(admin, namespace, 'mg')).toBeUndefined();
  });

  it('keeps the report with --keep, and names it with generateName must-gather- in the context\'s namespace', async () => {
    const dest = join(work, 'kept');
    const run = gather('--keep', '--dest-dir', dest);
    const name = await eventually(async () => /MustGatherReport \S+\/(must-gather-\w+) created/.exec(run.stderr())?.[1], `a generated name: ${run.stderr()}`);
    await playToReady(run, name);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stderr()).toContain(`${namespace}/${name}: kept (--keep)`);
    expect((await getReport(admin, namespace, name))?.spec).toEqual(resolveSpec({}));
    expect(existsSync(join(dest, 'must-gather'))).toBe(true);
  });

  it('deletes the report it made on Ctrl-C and exits 130', async () => {
    const run = gather('--name', 'interrupted', '--dest-dir', join(work, 'interrupted'));
    await created(run, 'interrupted');
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(130);
    expect(run.stderr()).toContain(`${namespace}/interrupted: SIGINT: stopping\n${namespace}/interrupted: deleted`);
    expect(await getReport(admin, namespace, 'interrupted')).toBeUndefined();
  });

  it('reports a terminal failure in one line, deletes the report and exits 1', async () => {
    const run = gather('--name', 'failed', '--dest-dir', join(work, 'failed'));
    await created(run, 'failed');
    await setStatus('failed', { gathers: gathers('Running'), conditions: ready('False', 'PodFailed', 'the gather container was killed') });
    expect(await run.exit, run.stderr()).toBe(1);
    expect(run.stderr().trim().split('\n').at(-1)).toBe(`mustgather gather: report ${namespace}/failed failed: PodFailed: the gather container was killed`);
    expect(await getReport(admin, namespace, 'failed')).toBeUndefined();
    expect(existsSync(join(work, 'failed/must-gather.tar.gz'))).toBe(false);
  });

  it('refuses an invalid flag in one line naming it, exit code 2, and creates nothing', async () => {
    const run = gather('--name', 'invalid', '--image', 'quay.io/a/mg:v1', '--image', 'Not An Image');
    expect(await run.exit).toBe(2);
    expect(run.stderr().trim().split('\n')).toEqual([expect.stringMatching(/^mustgather gather: --image "Not An Image": must be an image reference/)]);
    expect(await getReport(admin, namespace, 'invalid')).toBeUndefined();
  });
});
