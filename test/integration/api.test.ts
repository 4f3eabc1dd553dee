/**
 * The MustGatherReport API on the real server: what is accepted and defaulted, what is refused and the exact words a
 * user sees, what kubectl shows, who may create reports, and that every rendered manifest is valid.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBinaries } from '../../controlplane/index.js';
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../../constructs/report-api.js';
import { renderInstall, renderReport } from '../../constructs/render.js';
import { stages } from '../../reconciler/apply.js';
import { KubeApiError, KubeClient, type KubeObject } from '../../kube/client.js';
import { collectionPath, RESOURCES } from '../../kube/resources.js';
import { serviceAccountToken } from './file-server.js';
import { adminClient, testNamespace, tokenKubeConfig } from './helpers.js';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient();
  namespace = await testNamespace(admin, 'api');
});

const reportObject = (name: string, spec: unknown) =>
  ({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec }) as unknown as KubeObject;

/** Creates a report with strict field validation (what `kubectl create` does), returning the error if refused. */
async function create(client: KubeClient, name: string, spec: unknown): Promise<{ created?: KubeObject; error?: KubeApiError }> {
  try {
    const created = await client.request('POST', collectionPath(RESOURCES.MustGatherReport, namespace), {
      body: reportObject(name, spec), query: { fieldValidation: 'Strict' },
    });
    return { created };
  } catch (err) {
    if (err instanceof KubeApiError) return { error: err };
    throw err;
  }
}

const ok = ['quay.io/openshift/origin-must-gather'];

describe('the MustGatherReport CRD on a real API server', () => {
  it('accepts a valid report and fills in the defaults', async () => {
    const { created, error } = await create(admin, 'valid', { images: ok });
    expect(error).toBeUndefined();
    expect(created!.spec).toEqual({ images: ok, deleteAfter: '30m', timeout: '10m', storage: { size: '10Gi' }, volumePercentage: 70 });
  });

  it('accepts odd but valid image references and durations', async () => {
    const images = [
      'localhost:5000/mg@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      '[fd00::1]:5000/team/must-gather:latest', 'must-gather', 'quay.io/org/must_gather__x-y.z:1.0',
    ];
    const { error } = await create(admin, 'odd', { images, deleteAfter: '1h30m', timeout: '90s', since: '1.5h', storage: { size: '1Gi' } });
    expect(error?.message).toBeUndefined();
  });

  it.each([
    ['no images', { images: [] }, 'spec.images: Invalid value: 0: spec.images in body should have at least 1 items'],
    ['missing images', {}, 'spec.images: Required value'],
    ['an empty image', { images: [''] }, 'spec.images[0]: Invalid value: "": spec.images[0] in body should be at least 1 chars long'],
    ['a malformed image', { images: ['Quay.io/UPPER/x y'] }, 'spec.images[0]: Invalid value: "Quay.io/UPPER/x y": must be an image reference such as quay.io/org/must-gather:tag'],
    ['too many images', { images: Array.from({ length: 17 }, (_, i) => `quay.io/i${i}`) }, 'spec.images: Too many: 17: must have at most 16 items'],
    ['a repeated image', { images: ['quay.io/a', 'quay.io/a'] }, 'spec.images: Invalid value: must not list the same image twice'],
    ['deleteAfter "soon"', { images: ok, deleteAfter: 'soon' }, 'spec.deleteAfter: Invalid value: "soon": must be a duration such as 30s, 10m or 1h30m'],
    ['a negative deleteAfter', { images: ok, deleteAfter: '-5m' }, 'spec.deleteAfter: Invalid value: "-5m": must be a duration such as'],
    ['a huge deleteAfter', { images: ok, deleteAfter: '100000h' }, 'spec.deleteAfter: Invalid value: "100000h": must be between 1m and 720h'],
    ['volumePercentage 0', { images: ok, volumePercentage: 0 }, 'spec.volumePercentage: Invalid value: 0: spec.volumePercentage in body should be greater than or equal to 1'],
    ['volumePercentage 101', { images: ok, volumePercentage: 101 }, 'spec.volumePercentage: Invalid value: 101: spec.volumePercentage in body should be less than or equal to 100'],
    ['an unknown field', { images: ok, imagez: ['x'] }, 'unknown field "spec.imagez"'],
    ['a bad storage size', { images: ok, storage: { size: 'lots' } }, 'spec.storage.size: Invalid value: "lots": must be a quantity such as 10Gi'],
  ])('refuses %s, naming the field', async (_, spec, message) => {
    const { created, error } = await create(admin, `bad-${Math.random().toString(36).slice(2, 8)}`, spec);
    expect(created).toBeUndefined();
    expect(error?.statusCode).toBeGreaterThanOrEqual(400);
    expect(error?.apiMessage).toContain(message);
  });

  it('refuses a spec change after creation', async () => {
    await create(admin, 'immutable', { images: ok });
    const change = admin.patch({ kind: KIND, namespace, name: 'immutable' }, { spec: { deleteAfter: '1h' } });
    await expect(change).rejects.toThrow('spec is immutable: delete the report and create a new one');
  });

  it('lets a cluster admin create reports and forbids other users', async () => {
    // Some authenticated user without a grant: a service account's token (works on an existing cluster too).
    const token = await serviceAccountToken(admin, namespace, 'jane');
    const { error } = await create(new KubeClient(tokenKubeConfig(token, 'jane')), 'by-jane', { images: ok });
    expect(error?.statusCode).toBe(403);
    expect(error?.apiMessage).toContain(`User "system:serviceaccount:${namespace}:jane" cannot create resource "${PLURAL}"`);
  });

  it('shows the printer columns and explains every field with kubectl', async () => {
    const { kubectl } = await ensureBinaries();
    const run = (...args: string[]) => execFileSync(kubectl!, ['--kubeconfig', inject('kubeconfig'), ...args], { encoding: 'utf8' });
    await create(admin, 'columns', { images: ok });
    const table = run('get', 'mgr', '-n', namespace, 'columns');
    expect(table.split('\n')[0]).toMatch(/^NAME\s+READY\s+REASON\s+URL\s+EXPIRES\s+AGE$/);
    // An expiry in the future reads as a timestamp (a `date` column would show <invalid>).
    await admin.patch({ kind: KIND, namespace, name: 'columns' }, { status: { expiresAt: '2099-01-02T03:04:05Z' } }, { subresource: 'status' });
    const row = run('get', 'mgr', '-n', namespace, 'columns', '--no-headers');
    expect(row.trim().split(/\s+/)).toEqual(['columns', '2099-01-02T03:04:05Z', expect.stringMatching(/^\d+s$/)]);
    const explained = run('explain', 'mustgatherreport.spec.images');
    expect(explained).toContain('Must-gather images, run one after the other in this order');
    expect(run('explain', 'mustgatherreport.spec.deleteAfter')).toContain('How long a finished report (Ready, or ended for good) is kept');
    expect(run('explain', 'mustgatherreport.status.finishedAt')).toContain('Set once, never moved');
    expect(run('explain', 'mustgatherreport.status.report_url')).toContain('only cluster admins may download it');
  });

  it('accepts every manifest `mustgather synth` renders, in a server-side dry run', async () => {
    const report = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name: 'dry', namespace, uid: 'dry-run-uid' }, spec: { images: ok } };
    const manifests = renderReport(report as never) as unknown as KubeObject[];
    // Dry-run objects need their namespace and service accounts to exist for real.
    for (const object of manifests.filter((m) => m.kind === 'Namespace' || m.kind === 'ServiceAccount')) await admin.apply(object, { fieldManager: 'test' });
    for (const stage of stages(manifests)) {
      for (const object of stage) await expect(admin.apply(object, { fieldManager: 'test', dryRun: true }), `${object.kind}/${object.metadata.name}`).resolves.toBeDefined();
    }
    const install = renderInstall({ operatorNamespace: `${namespace}-operator` }) as unknown as KubeObject[];
    await admin.apply(install.find((m) => m.kind === 'Namespace')!, { fieldManager: 'test' });
    for (const object of install) await expect(admin.apply(object, { fieldManager: 'test', dryRun: true }), `${object.kind}/${object.metadata.name}`).resolves.toBeDefined();
    await admin.delete({ kind: 'Namespace', name: manifests[0]!.metadata.name });
    await admin.delete({ kind: 'Namespace', name: `${namespace}-operator` });
  });
});
