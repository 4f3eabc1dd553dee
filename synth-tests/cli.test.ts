import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_GATHER_IMAGE } from '../constructs/operator-config.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/** Runs the real CLI in a child process, as a person would. */
function mustgather(args: string[], input?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', ...args], { input, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const report = (spec: string) => `apiVersion: mustgather.openshift.io/v1alpha1
kind: MustGatherReport
metadata: {name: r, namespace: ns}
spec: ${spec}
`;

describe('mustgather synth', () => {
  it('prints the example report\'s manifests', () => {
    const { code, stdout, stderr } = mustgather(['synth', '-f', 'examples/report.yaml']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const kinds = parseAllDocuments(stdout).map((d: any) => d.toJS().kind);
    expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'PersistentVolumeClaim', 'Pod', 'Service', 'Route', 'ServiceAccount', 'ClusterRoleBinding']));
    const pod = parseAllDocuments(stdout).map((d: any) => d.toJS()).find((m) => m.kind === 'Pod');
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(['gather-1', 'gather-2', 'archive']);
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['file-server', 'oauth-proxy']);
  });

  it.each(['openshift', 'kubernetes'])('prints the same bytes every time, leaving out and naming what only the operator may make (%s)', (platform) => {
    const first = mustgather(['synth', '-f', 'examples/report.yaml', '--platform', platform]);
    const second = mustgather(['synth', '-f', 'examples/report.yaml', '--platform', platform]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const documents = parseAllDocuments(first.stdout);
    expect(documents.flatMap((d: any) => d.errors)).toEqual([]);
    const objects = documents.map((d: any) => d.toJS());
    expect(objects.every((o) => typeof o.kind === 'string')).toBe(true);
    const omitted = platform === 'openshift' ? 'must-gather-proxy-cookie' : 'must-gather-tls';
    // Every Secret of a report is the operator's to make: the gather token, and the cookie secret or serving key.
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(first.stdout).not.toMatch(/session_secret:|tls\.key:|PRIVATE KEY|^ +token: /m);
    const comment = first.stdout.split('\n').filter((line) => line.startsWith('#'));
    expect(comment[0]).toMatch(/^# Left out: made by the operator/);
    for (const name of [omitted, 'must-gather-admin-token']) {
      expect(comment.some((line) => line.startsWith(`#   Secret must-gather-default-example-`) && line.includes(`/${name}: `)), name).toBe(true);
    }
    // The pod still refers to the omitted Secrets: they are left out, not renamed.
    const pod = objects.find((o) => o.kind === 'Pod');
    expect(pod.spec.volumes.map((v: any) => v.secret?.secretName)).toContain(omitted);
    expect(pod.spec.volumes.flatMap((v: any) => v.projected?.sources.map((s: any) => s.secret?.name) ?? [])).toContain('must-gather-admin-token');
  });

  it('says that imageStreams and allImages resolve on the cluster, and renders the default image offline', () => {
    const { code, stdout } = mustgather(['synth'], report('{allImages: true, imageStreams: [openshift/must-gather:latest]}'));
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('# imageStreams and allImages: resolved by the operator when the report starts; offline the pod runs spec.images or the default image only');
    const pod = parseAllDocuments(stdout).map((d: any) => d.toJS()).find((m) => m?.kind === 'Pod');
    expect(pod.spec.initContainers.filter((c: any) => c.name.startsWith('gather-')).map((c: any) => c.image)).toEqual([DEFAULT_GATHER_IMAGE]);
    expect(mustgather(['synth'], report('{images: [quay.io/a/b]}')).stdout.startsWith('# Left out:')).toBe(true);
  });

  it('reads the report from standard input and writes files with -o', () => {
    const dir = mkdtempSync(join(tmpdir(), 'synth-'));
    try {
      const { code } = mustgather(['synth', '-o', dir], report('{images: [quay.io/a/b]}'));
      expect(code).toBe(0);
      expect(readdirSync(dir).some((f) => f.includes('-pod-'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['unknown field', '{images: [quay.io/a], imagez: []}', 'spec.imagez: unknown field'],
    ['wrong type', '{images: [quay.io/a], volumePercentage: "high"}', 'spec.volumePercentage: must be a whole number'],
    ['an empty images list', '{images: []}', 'spec.images: must not be an empty list'],
    ['since and sinceTime', '{since: 1h, sinceTime: "2025-01-31T08:00:00Z"}', 'spec: since and sinceTime are mutually exclusive'],
    ['bad duration', '{images: [quay.io/a], deleteAfter: soon}', 'spec.deleteAfter: must be a duration'],
    ['broken YAML', '{images: [quay.io/a}', 'invalid YAML'],
  ])('rejects a report with a %s in one line, exit code 2', (_, spec, message) => {
    const { code, stdout, stderr } = mustgather(['synth'], report(spec));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('rejects an unknown flag and an unreadable file with exit code 2', () => {
    expect(mustgather(['synth', '--bogus']).code).toBe(2);
    const missing = mustgather(['synth', '-f', '/nonexistent/report.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });
});

describe('mustgather install', () => {
  it('prints the install manifests with the images given', () => {
    const { code, stdout } = mustgather(['install', '--operator-image', 'r.io/op:v9']);
    expect(code).toBe(0);
    const objects = parseAllDocuments(stdout).map((d: any) => d.toJS());
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['CustomResourceDefinition', 'ClusterRole', 'Deployment', 'Service']));
    expect(objects.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].image).toBe('r.io/op:v9');
  });
});

describe('npx cdk8s synth', () => {
  it('renders every example report and the install chart through cdk8s.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdk8s-'));
    try {
      const synth = (out: string) => {
        const result = spawnSync('npx', ['cdk8s', 'synth', '--output', out], { encoding: 'utf8' });
        expect(result.status, result.stderr).toBe(0);
        return result;
      };
      const { stderr } = synth(join(dir, 'a'));
      synth(join(dir, 'b'));
      const files = readdirSync(join(dir, 'a')).sort();
      expect(files).toEqual(['install.k8s.yaml', 'report-local-report.k8s.yaml', 'report-report.k8s.yaml']);
      for (const file of files) {
        const content = readFileSync(join(dir, 'a', file), 'utf8');
        expect(readFileSync(join(dir, 'b', file), 'utf8'), `${file} differs between two runs`).toBe(content);
        expect(content, file).not.toContain('session_secret:');
      }
      expect(stderr).toMatch(/report\.yaml: left out Secret must-gather-default-example-\w+\/must-gather-proxy-cookie/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
