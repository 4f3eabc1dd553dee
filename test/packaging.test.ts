/**
 * What the image holds, proven without a container engine: the package `npm pack` makes (the Containerfile's build
 * stage does the same), installed into an empty directory with production dependencies only (its final stage), runs
 * `mustgather --help`, `mustgather archive` and `mustgather serve`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
    for (const dev of ['vitest', 'typescript', 'tsx', 'cdk8s-cli', '@peculiar']) expect(installed).not.toContain(dev);
    expect(installed).toContain('cdk8s');
  });

  it('runs --help', () => {
    const help = execFileSync(mustgather, ['--help'], { encoding: 'utf8' });
    for (const command of ['run', 'archive', 'serve', 'download', 'synth']) expect(help).toContain(`  ${command}`);
  });

  it('archives a gathered tree and serves the archive', async () => {
    const volume = join(work, 'volume');
    mkdirSync(join(volume, 'gathers', '01-image', 'namespaces'), { recursive: true });
    writeFileSync(join(volume, 'gathers', '01-image', 'namespaces', 'pods.yaml'), 'kind: PodList\n');
    execFileSync(mustgather, ['archive', '--source', join(volume, 'gathers'), '--output', join(volume, 'must-gather.tar.gz'), '--termination-log', join(work, 'termination-log')], { stdio: 'pipe' });
    expect(execFileSync('tar', ['-tzf', join(volume, 'must-gather.tar.gz')], { encoding: 'utf8' })).toContain('must-gather/01-image/namespaces/pods.yaml');

    const server = spawn(mustgather, ['serve', '--dir', volume, '--address', '127.0.0.1', '--port', '0', '--report', 'ns/r'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk;
          const match = /http:\/\/127\.0\.0\.1:\d+/.exec(output);
          if (match) resolve(match[0]);
        };
        server.stdout.on('data', onData);
        server.stderr.on('data', onData);
        server.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const archive = await fetch(`${url}/must-gather.tar.gz`);
      expect(archive.status).toBe(200);
      expect(Number(archive.headers.get('content-length'))).toBeGreaterThan(0);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
