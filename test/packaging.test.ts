/**
 * What the image holds, proven without a container engine: the package `npm pack` makes (the Containerfile's build
 * stage does the same), installed into an empty directory with production dependencies only (its final stage), runs
 * `mustgather --help`, `mustgather archive` and `mustgather serve` (TLS, refusing a caller without credentials).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpsGet } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, issueServingCert } from '../controlplane/pki.js';

const work = mkdtempSync(join(tmpdir(), 'packaging-'));
const prefix = join(work, 'image');
let mustgather: string;

beforeAll(() => {
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { stdio: 'pipe' });
  const [tarball] = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  mkdirSync(prefix);
  execFileSync('npm', ['install', '--global', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', join(work, tarball!)], { stdio: 'pipe' });
  mustgather = join(prefix, 'bin', 'mustgather');
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packaged mustgather', () => {
  it('holds production dependencies only', () => {
    const installed = readdirSync(join(prefix, 'lib', 'node_modules', 'mustgather-report-operator', 'node_modules'));
    for (const dev of ['vitest', 'typescript', 'tsx', 'cdk8s-cli']) expect(installed).not.toContain(dev);
    // The operator renders charts at runtime: cdk8s is a runtime dependency.
    for (const runtime of ['cdk8s', 'cdk8s-plus-27']) expect(installed).toContain(runtime);
  });

  it('runs --help', () => {
    const help = execFileSync(mustgather, ['--help'], { encoding: 'utf8' });
    for (const command of ['run', 'archive', 'serve', 'download', 'synth']) expect(help).toContain(`  ${command}`);
    // The local cluster is a development tool: not in the package, and the package says where it is.
    expect(help).not.toContain('controlplane');
    const dev = spawnSync(mustgather, ['controlplane', 'up'], { encoding: 'utf8' });
    expect(dev.status).toBe(2);
    expect(dev.stderr).toContain('available in a checkout only: npm run mustgather -- controlplane');
  });

  it('archives a gathered tree and serves it over TLS, to no one without credentials', async () => {
    const volume = join(work, 'volume');
    mkdirSync(join(volume, 'gathers', '01-image', 'namespaces'), { recursive: true });
    writeFileSync(join(volume, 'gathers', '01-image', 'namespaces', 'pods.yaml'), 'kind: PodList\n');
    execFileSync(mustgather, ['archive', '--source', join(volume, 'gathers'), '--output', join(volume, 'must-gather.tar.gz'), '--termination-log', join(work, 'termination-log')], { stdio: 'pipe' });
    expect(execFileSync('tar', ['-tzf', join(volume, 'must-gather.tar.gz')], { encoding: 'utf8' })).toContain('must-gather/01-image/namespaces/pods.yaml');

    const ca = await createCA();
    const serving = await issueServingCert(ca);
    writeFileSync(join(work, 'tls.crt'), serving.cert);
    writeFileSync(join(work, 'tls.key'), serving.key);
    // No API server is needed to refuse a caller without credentials; this kubeconfig points nowhere.
    writeFileSync(join(work, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n');
    const server = spawn(mustgather, [
      'serve', '--dir', volume, '--address', '127.0.0.1', '--port', '0', '--report', 'ns/r', '--report-uid', 'u1',
      '--tls-cert-file', join(work, 'tls.crt'), '--tls-private-key-file', join(work, 'tls.key'), '--client-ca-file', '', '--kubeconfig', join(work, 'kubeconfig'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk;
          const match = /https:\/\/127\.0\.0\.1:\d+/.exec(output);
          if (match) resolve(match[0]);
        };
        server.stdout.on('data', onData);
        server.stderr.on('data', onData);
        server.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
      });
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          httpsGet(`${url}${path}`, { ca: ca.cert, servername: 'localhost' }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          }).on('error', reject);
        });
      expect((await get('/healthz')).status).toBe(200);
      const archive = await get('/must-gather.tar.gz');
      expect(archive.status).toBe(401);
      expect(archive.body).toMatch(/no credentials/);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
