/**
 * The MustGatherReport API on the real server: what is accepted and defaulted, what is refused and the exact words a
 * user sees, what kubectl shows, who may create reports, and that every rendered manifest is valid.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBinaries } from '../../controlplane/index.js';
import { REPORT_SCHEMA } from '../../constructs/crd.js';
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../../constructs/report-api.js';
import { renderInstall, renderReport } from '../../constructs/render.js';
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
    expect(created!.spec).toEqual({ images: ok, allImages: false, deleteAfter: '30m', timeout: '10m', storage: { size: '10Gi' }, volumePercentage: 70 });
  });

  it('accepts a report without images, leaving them to the operator', async () => {
    const { created, error } = await create(admin, 'no-images', {});
    expect(error?.message).toBeUndefined();
    expect(created!.spec).toEqual({ allImages: false, deleteAfter: '30m', timeout: '10m', storage: { size: '10Gi' }, volumePercentage: 70 });
  });

  it('accepts every new field at its bounds', async () => {
    const spec = {
      allImages: true,
      imageStreams: [...Array.from({ length: 15 }, (_, i) => `openshift/must-gather-${i}:v4.20`), `n/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}:${'t'.repeat(128)}`],
      command: ['/bin/bash', '-c', 'x'.repeat(4096), ...Array.from({ length: 29 }, () => '')],
      sinceTime: '2025-01-31T08:00:00.123456789+05:30',
      nodeName: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
      nodeSelector: {
        ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`example.com/k${i}`, ''])),
        [`${'p'.repeat(63)}.${'q'.repeat(63)}.${'r'.repeat(63)}.${'s'.repeat(61)}/${'n'.repeat(63)}`]: 'v'.repeat(63),
      },
    };
    const { created, error } = await create(admin, 'new-fields', spec);
    expect(error?.message).toBeUndefined();
    expect(created!.spec).toMatchObject(spec);
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
    ['an empty images list', { images: [] }, 'spec.images: Invalid value: must not be an empty list: omit images to gather with the default must-gather image'],
    ['an empty image', { images: [''] }, 'spec.images[0]: Invalid value: "": spec.images[0] in body should be at least 1 chars long'],
    ['a malformed image', { images: ['Quay.io/UPPER/x y'] }, 'spec.images[0]: Invalid value: "Quay.io/UPPER/x y": must be an image reference such as quay.io/org/must-gather:tag'],
    ['too many images', { images: Array.from({ length: 17 }, (_, i) => `quay.io/i${i}`) }, 'spec.images: Too many: 17: must have at most 16 items'],
    ['a repeated image', { images: ['quay.io/a', 'quay.io/a'] }, 'spec.images: Invalid value: must not list the same image twice'],
    ['deleteAfter "soon"', { images: ok, deleteAfter: 'soon' }, 'spec.deleteAfter: Invalid value: "soon": must be a duration such as 30s, 10m or 1h30m'],
    ['a negative deleteAfter', { images: ok, deleteAfter: '-5m' }, 'spec.deleteAfter: Invalid value: "-5m": must be a duration such as'],
    ['a huge deleteAfter', { images: ok, deleteAfter: '100000h' }, 'spec.deleteAfter: Invalid value: "100000h": must be between 1m and 720h'],
    ['a timeout below 10s', { images: ok, timeout: '5s' }, 'spec.timeout: Invalid value: "5s": must be between 10s and 24h'],
    ['a since of 0s', { images: ok, since: '0s' }, 'spec.since: Invalid value: "0s": must be between 1s and 8760h'],
    ['volumePercentage 0', { images: ok, volumePercentage: 0 }, 'spec.volumePercentage: Invalid value: 0: spec.volumePercentage in body should be greater than or equal to 1'],
    ['volumePercentage 101', { images: ok, volumePercentage: 101 }, 'spec.volumePercentage: Invalid value: 101: spec.volumePercentage in body should be less than or equal to 100'],
    ['an unknown field', { images: ok, imagez: ['x'] }, 'unknown field "spec.imagez"'],
    ['a bad storage size', { images: ok, storage: { size: 'lots' } }, 'spec.storage.size: Invalid value: "lots": must be a quantity such as 10Gi'],
    ['allImages "yes"', { allImages: 'yes' }, 'spec.allImages: Invalid value: "string": spec.allImages in body must be of type boolean'],
    ['redact "all"', { redact: 'all' }, 'spec.redact: Invalid value: "string": spec.redact in body must be of type object'],
    ['redact secrets "yes"', { redact: { secrets: 'yes' } }, 'spec.redact.secrets: Invalid value: "string": spec.redact.secrets in body must be of type boolean'],
    ['an unknown redaction', { redact: { emails: true } }, 'unknown field "spec.redact.emails"'],
    ['an image stream without a tag', { imageStreams: ['openshift/must-gather'] }, 'spec.imageStreams[0]: Invalid value: "openshift/must-gather": must be an image stream tag namespace/name:tag'],
    ['an image stream with an uppercase name', { imageStreams: ['openshift/Must-Gather:latest'] }, 'spec.imageStreams[0]: Invalid value: "openshift/Must-Gather:latest": must be an image stream tag'],
    ['an image stream with a 254-character name', { imageStreams: [`openshift/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}:v1`] }, 'spec.imageStreams[0]: Invalid value: "openshift/aaaa'],
    ['a repeated image stream', { imageStreams: ['a/b:c', 'a/b:c'] }, 'spec.imageStreams: Invalid value: must not list the same image stream tag twice'],
    ['too many image streams', { imageStreams: Array.from({ length: 17 }, (_, i) => `ns/is${i}:t`) }, 'spec.imageStreams: Too many: 17: must have at most 16 items'],
    ['an empty command', { command: [] }, 'spec.command: Invalid value: must not be an empty list: omit command to run /usr/bin/gather'],
    ['a command without a program', { command: ['', 'x'] }, 'spec.command: Invalid value: the first element is the program to run and must not be empty'],
    ['a command with too many strings', { command: Array.from({ length: 33 }, () => 'x') }, 'spec.command: Too many: 33: must have at most 32 items'],
    ['a command with a huge argument', { command: ['/bin/bash', '-c', 'x'.repeat(4097)] }, 'spec.command[2]: Too long: may not be more than 4096 bytes'],
    ['a sinceTime without a time zone', { sinceTime: '2025-01-31T08:00:00' }, 'spec.sinceTime: Invalid value: "2025-01-31T08:00:00": must be an RFC 3339 timestamp with a time zone'],
    ['since and sinceTime', { since: '1h', sinceTime: '2025-01-31T08:00:00Z' }, 'spec: Invalid value: since and sinceTime are mutually exclusive: set one of them, not both'],
    ['a nodeName with uppercase', { nodeName: 'Node-1' }, 'spec.nodeName: Invalid value: "Node-1": must be a node name: a DNS subdomain'],
    ['a nodeSelector key with a space', { nodeSelector: { 'node role': 'x' } }, 'spec.nodeSelector: Invalid value: keys must be label keys such as kubernetes.io/hostname'],
    ['a nodeSelector key with a 254-character prefix', { nodeSelector: { [`${'p'.repeat(63)}.${'q'.repeat(63)}.${'r'.repeat(63)}.${'s'.repeat(62)}/n`]: 'x' } }, 'spec.nodeSelector: Invalid value: keys must be label keys'],
    ['a nodeSelector value with "/"', { nodeSelector: { zone: 'a/b' } }, 'spec.nodeSelector[zone]: Invalid value: "a/b": must be a label value'],
    ['too many nodeSelector labels', { nodeSelector: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'spec.nodeSelector: Too many: 17: must have at most 16 items'],
  ])('refuses %s, naming the field', async (_, spec, message) => {
    const { created, error } = await create(admin, `bad-${Math.random().toString(36).slice(2, 8)}`, spec);
    expect(created).toBeUndefined();
    expect(error?.statusCode).toBeGreaterThanOrEqual(400);
    expect(error?.apiMessage).toContain(message);
  });

  describe('after creation, only deleteAfter may change', () => {
    const base = { images: ok, command: ['/usr/bin/gather'], since: '1h', nodeSelector: { zone: 'a' } };
    /** A merge patch per spec field: a change of a set or defaulted field, a field added, or one removed. */
    const changes: Record<string, Record<string, unknown>> = {
      images: { images: ['quay.io/other/must-gather'] },
      allImages: { allImages: true },
      imageStreams: { imageStreams: ['openshift/must-gather:latest'] },
      command: { command: null },
      timeout: { timeout: '20m' },
      since: { since: '2h' },
      sinceTime: { since: null, sinceTime: '2025-01-31T08:00:00Z' },
      nodeName: { nodeName: 'node-1' },
      nodeSelector: { nodeSelector: { zone: 'b' } },
      storage: { storage: { size: '20Gi' } },
      volumePercentage: { volumePercentage: 50 },
      redact: { redact: { ipAddresses: true } },
    };
    const patch = (name: string, spec: Record<string, unknown>) => admin.patch({ kind: KIND, namespace, name }, { spec });

    it('covers every spec field but deleteAfter, so a new field needs its case here', () => {
      const fields = Object.keys((REPORT_SCHEMA.properties as Record<string, { properties: object }>).spec.properties);
      expect(Object.keys(changes).sort()).toEqual(fields.filter((f) => f !== 'deleteAfter').sort());
    });

    it('lets deleteAfter change', async () => {
      await create(admin, 'mutable', base);
      const patched = await patch('mutable', { deleteAfter: '2h' });
      expect(patched.spec).toMatchObject({ ...base, deleteAfter: '2h' });
    });

    it.each(Object.entries(changes))('refuses a change of %s, naming it', async (field, change) => {
      const name = `immutable-${field.toLowerCase()}`;
      await create(admin, name, base);
      const refused = await patch(name, change).then(() => undefined, (err: unknown) => err);
      expect(refused).toBeInstanceOf(KubeApiError);
      expect((refused as KubeApiError).apiMessage).toContain(`spec.${field}: Forbidden: is immutable (only deleteAfter may change): delete the report and create a new one`);
      // With deleteAfter in the same patch, still refused: nothing else slips through beside it.
      await expect(patch(name, { ...change, deleteAfter: '3h' })).rejects.toThrow(`spec.${field}: Forbidden: is immutable`);
    });
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
    // kubectl wraps descriptions: compare words, not lines.
    const explain = (field: string) => run('explain', `mustgatherreport.${field}`).replace(/\s+/g, ' ');
    const explained = explain('spec.images');
    expect(explained).toContain('Must-gather images, run one after the other in this order');
    expect(explained).toContain('Omitted: the default must-gather image, the image of the image stream tag openshift/must-gather:latest where the cluster has it, else the operator\'s --default-gather-image (by default quay.io/openshift/origin-must-gather:4.20)');
    expect(explain('spec.allImages')).toContain('operators.openshift.io/must-gather-image annotation');
    expect(explain('spec.imageStreams')).toContain('Image stream tags, namespace/name:tag');
    expect(explain('spec.command')).toContain('instead of /usr/bin/gather');
    expect(explain('spec.sinceTime')).toContain('MUST_GATHER_SINCE_TIME. Not with since.');
    expect(explain('spec.nodeName')).toContain('The node the report pod');
    expect(explain('spec.nodeSelector')).toContain('Node labels (key: value)');
    expect(explain('spec.deleteAfter')).toContain('How long a finished report (Ready, or ended for good) is kept');
    expect(explain('status.finishedAt')).toContain('Set once, never moved');
    expect(explain('status.report_url')).toContain('only cluster admins may download it');
    expect(explain('status.images')).toContain('resolved once by the operator before anything ran');
    expect(explain('status.cluster.id')).toContain('the kube-system namespace\'s uid');
  });

  it('accepts every manifest `mustgather synth` renders, in a server-side dry run', async () => {
    const report = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name: 'dry', namespace, uid: 'dry-run-uid' },
      // No images (the default image) and every pod-shaping field, so the server checks what they render into.
      spec: { command: ['/usr/bin/gather', '--fast'], sinceTime: '2025-01-31T08:00:00Z', nodeName: 'node-1', nodeSelector: { zone: 'a' } } };
    const manifests = renderReport(report as never) as unknown as KubeObject[];
    // Dry-run objects need their namespace and service accounts to exist for real.
    for (const object of manifests.filter((m) => m.kind === 'Namespace' || m.kind === 'ServiceAccount')) await admin.apply(object, { fieldManager: 'test' });
    for (const object of manifests) await expect(admin.apply(object, { fieldManager: 'test', dryRun: true }), `${object.kind}/${object.metadata.name}`).resolves.toBeDefined();
    const install = renderInstall({ operatorNamespace: `${namespace}-operator` }) as unknown as KubeObject[];
    await admin.apply(install.find((m) => m.kind === 'Namespace')!, { fieldManager: 'test' });
    for (const object of install) await expect(admin.apply(object, { fieldManager: 'test', dryRun: true }), `${object.kind}/${object.metadata.name}`).resolves.toBeDefined();
    await admin.delete({ kind: 'Namespace', name: manifests[0]!.metadata.name });
    await admin.delete({ kind: 'Namespace', name: `${namespace}-operator` });
  });
});
