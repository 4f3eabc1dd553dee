import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as archiveCommand } from '../bin/commands/archive.js';
import { UsageError } from '../bin/usage.js';
import { type ArchiveSummary, createArchive } from './archive.js';
import { formatArchiveResult, formatSummaryInput, parseArchiveResult, SUMMARY_ENV } from '../constructs/pod-contract.js';
import { formatSummary } from './summary.js';
import { Redactor } from './redact.js';
import { REDACT_KINDS, REDACTION_FILE } from '../constructs/pod-contract.js';
import { gzipSync } from 'node:zlib';

const root = mkdtempSync(join(tmpdir(), 'archive-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function freshDir(name: string): string {
  const dir = join(root, `${++dirs}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Text that compresses like logs do, but not to nothing. */
function logText(lines: number, seed: string): string {
  let text = '';
  for (let i = 0; i < lines; i++) text += `2024-05-0${i % 9 + 1}T10:${String(i % 60).padStart(2, '0')}:00Z I ${seed} reconcile ${createHash('md5').update(`${seed}${i}`).digest('hex').slice(0, 12)} took ${i % 977}ms\n`;
  return text;
}

const OLD = new Date('2021-03-04T05:06:07Z');

/** A tree with what must-gather output can hold, and what trips tar writers up. */
function makeTree(source: string): void {
  const a = join(source, '01-quay.io-kubevirt-must-gather');
  const b = join(source, '02-quay.io-openshift-origin-must-gather');
  let deep = join(a, 'namespaces');
  for (let i = 0; i < 12; i++) deep = join(deep, `level-${i}-${'d'.repeat(10)}`); // a path far beyond 255 bytes
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, `${'long-name-'.repeat(20)}.yaml`), 'kind: Pod\n'); // a name beyond 100 bytes
  writeFileSync(join(a, 'データ-é-😀.yaml'), 'unicode: ✓\n');
  mkdirSync(join(a, 'empty-dir'));
  mkdirSync(join(b, 'empty', 'nested'), { recursive: true });
  writeFileSync(join(a, 'app.log'), logText(20_000, 'a'));
  writeFileSync(join(b, 'empty-file'), '');
  writeFileSync(join(b, 'secret.txt'), 'only the owner\n');
  chmodSync(join(b, 'secret.txt'), 0o600);
  writeFileSync(join(b, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(b, 'run.sh'), 0o755);
  mkdirSync(join(b, 'private'), { mode: 0o700 });
  writeFileSync(join(b, 'private', 'x'), 'x');
  symlinkSync('/etc/hostname', join(a, 'absolute-link'));
  symlinkSync('../02-quay.io-openshift-origin-must-gather/run.sh', join(a, 'relative-link'));
  symlinkSync('does/not/exist', join(a, 'dangling-link'));
  // Sparse-ish: 16 MiB, mostly holes, with random (incompressible) islands.
  const sparse = join(b, 'core.sparse');
  const fd = openSync(sparse, 'w');
  for (const offset of [0, 5, 9, 14]) writeSync(fd, randomBytes(256 * 1024), 0, 256 * 1024, offset * 1024 * 1024);
  closeSync(fd);
  truncateSync(sparse, 16 * 1024 * 1024);
  utimesSync(join(a, 'app.log'), OLD, OLD);
  utimesSync(join(b, 'private'), OLD, OLD);
  writeFileSync(join(a, 'gather-result.json'), `${JSON.stringify({ index: 1, image: 'quay.io/kubevirt/must-gather', state: 'Succeeded', exitCode: 0, startedAt: '2024-01-01T00:00:00Z', finishedAt: '2024-01-01T00:01:00Z', message: 'ok' })}\n`);
  writeFileSync(join(b, 'gather-result.json'), `${JSON.stringify({ index: 2, image: 'quay.io/openshift/origin-must-gather', state: 'TimedOut', exitCode: 124, startedAt: '2024-01-01T00:01:00Z', finishedAt: '2024-01-01T00:11:00Z', message: 'timeout' })}\n`);
}

/** Everything tar should keep, path by path: type, mode, mtime (seconds), size, content or link target. */
function describeTree(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const visit = (absolute: string, relative: string): void => {
    const stat = lstatSync(absolute);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isDirectory()) {
      entries[`${relative}/`] = `dir ${mode} ${Math.floor(stat.mtimeMs / 1000)}`;
      for (const name of readdirSync(absolute)) visit(join(absolute, name), relative ? `${relative}/${name}` : name);
    } else if (stat.isSymbolicLink()) {
      entries[relative] = `link -> ${readlinkSync(absolute)}`;
    } else {
      const digest = createHash('sha256').update(readFileSync(absolute)).digest('hex');
      entries[relative] = `file ${mode} ${Math.floor(stat.mtimeMs / 1000)} ${stat.size} ${digest}`;
    }
  };
  visit(dir, '');
  return entries;
}

/** Gzip members in a file, by their header (our members are all written by zlib with the same 10 bytes). */
function countMembers(file: string): number {
  const data = readFileSync(file);
  const header = Buffer.from('1f8b0800000000000003', 'hex');
  let count = 0;
  for (let i = data.indexOf(header); i !== -1; i = data.indexOf(header, i + 1)) count++;
  return count;
}

describe('createArchive', () => {
  it('round-trips a gathered tree through GNU tar exactly, in several gzip members, with a checksum sha256sum accepts', async () => {
    const dir = freshDir('roundtrip');
    const source = join(dir, 'gathers');
    makeTree(source);
    const output = join(dir, 'must-gather.tar.gz');
    const warnings: string[] = [];
    const summary = await createArchive({ source, output, chunkBytes: 1024 * 1024, onWarning: (w) => warnings.push(w) });

    expect(warnings).toEqual([]);
    expect(summary.warnings).toBe(0);
    expect(summary.files).toBe(10);
    expect(summary.symlinks).toBe(3);
    expect(summary.members).toBeGreaterThan(10);
    expect(countMembers(output)).toBe(summary.members);
    expect(summary.sizeBytes).toBe(lstatSync(output).size);
    expect(summary.sha256).toBe(createHash('sha256').update(readFileSync(output)).digest('hex'));
    expect(summary.gathers).toEqual([{ index: 1, state: 'Succeeded', exitCode: 0 }, { index: 2, state: 'TimedOut', exitCode: 124 }]);
    expect(readdirSync(dir).sort()).toEqual(['gathers', 'must-gather.tar.gz', 'must-gather.tar.gz.sha256']); // no temporary left

    expect(readFileSync(`${output}.sha256`, 'utf8')).toBe(`${summary.sha256}  must-gather.tar.gz\n`);
    expect(execFileSync('sha256sum', ['-c', 'must-gather.tar.gz.sha256'], { cwd: dir, encoding: 'utf8' })).toBe('must-gather.tar.gz: OK\n');

    const extracted = freshDir('extracted');
    execFileSync('tar', ['-xzf', output, '-C', extracted]);
    expect(readdirSync(extracted)).toEqual(['must-gather']);
    expect(describeTree(join(extracted, 'must-gather'))).toEqual(describeTree(source));
  });

  it('keeps going when files vanish or shrink while archived, and the archive stays valid', async () => {
    const dir = freshDir('changing');
    const source = join(dir, 'gathers');
    const gather = join(source, '01-image');
    mkdirSync(gather, { recursive: true });
    const big = join(gather, 'a-big.log');
    writeFileSync(big, randomBytes(8 * 1024 * 1024));
    for (let i = 0; i < 20; i++) writeFileSync(join(gather, `z-${i}.yaml`), `item: ${i}\n`);
    writeFileSync(join(gather, 'z-kept'), 'kept\n');
    const warnings: string[] = [];
    // The first time the archiver yields (the first member compressed, while it reads a-big.log), the gather "changes".
    setImmediate(() => {
      truncateSync(big, 1024 * 1024);
      for (let i = 0; i < 20; i++) unlinkSync(join(gather, `z-${i}.yaml`));
    });
    const output = join(dir, 'must-gather.tar.gz');
    const summary = await createArchive({ source, output, chunkBytes: 256 * 1024, parallelism: 1, onWarning: (w) => warnings.push(w) });

    expect(summary.warnings).toBe(21);
    expect(warnings.filter((w) => w.includes('vanished'))).toHaveLength(20);
    expect(warnings.find((w) => w.includes('a-big.log'))).toMatch(/shrank while archived: 7340032 missing bytes archived as zeros/);
    const listing = execFileSync('tar', ['-tzf', output], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual(['must-gather/', 'must-gather/01-image/', 'must-gather/01-image/a-big.log', 'must-gather/01-image/z-kept']);
    const extracted = freshDir('changing-extracted');
    execFileSync('tar', ['-xzf', output, '-C', extracted]);
    expect(readFileSync(join(extracted, 'must-gather/01-image/z-kept'), 'utf8')).toBe('kept\n');
    const content = readFileSync(join(extracted, 'must-gather/01-image/a-big.log'));
    expect(content.length).toBe(8 * 1024 * 1024);
    expect(content.subarray(0, 1024 * 1024).equals(readFileSync(big))).toBe(true);
    expect(content.subarray(1024 * 1024).every((byte) => byte === 0)).toBe(true);
  });

  it('looks again at a listed file that became a symbolic link or a FIFO before it was opened, and does not hang', async () => {
    const dir = freshDir('replaced');
    const source = join(dir, 'gathers');
    const gather = join(source, '01-image');
    mkdirSync(gather, { recursive: true });
    writeFileSync(join(gather, 'a-big.log'), randomBytes(2 * 1024 * 1024));
    writeFileSync(join(gather, 'b-link'), 'was a file\n');
    writeFileSync(join(gather, 'c-fifo'), 'was a file\n');
    const warnings: string[] = [];
    // Listed as regular files; replaced while the archiver reads a-big.log (its first yield).
    setImmediate(() => {
      unlinkSync(join(gather, 'b-link'));
      symlinkSync('a-big.log', join(gather, 'b-link'));
      unlinkSync(join(gather, 'c-fifo'));
      execFileSync('mkfifo', [join(gather, 'c-fifo')]);
    });
    const output = join(dir, 'must-gather.tar.gz');
    const summary = await createArchive({ source, output, chunkBytes: 256 * 1024, parallelism: 1, onWarning: (w) => warnings.push(w) });

    expect(warnings).toEqual([`${join(gather, 'c-fifo')} skipped: not a regular file, directory or symbolic link`]);
    expect(summary).toMatchObject({ files: 1, symlinks: 1, warnings: 1 });
    const listing = execFileSync('tar', ['-tvzf', output], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.map((line) => line.split(/\s+/).slice(5).join(' '))).toEqual(['must-gather/', 'must-gather/01-image/', 'must-gather/01-image/a-big.log', 'must-gather/01-image/b-link -> a-big.log']);
  });

  it('fails on a missing source without leaving a temporary file', async () => {
    const dir = freshDir('missing');
    await expect(createArchive({ source: join(dir, 'nope'), output: join(dir, 'out.tar.gz') })).rejects.toThrow(/archive .*nope into .*out\.tar\.gz: ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('createArchive with a redactor', () => {
  const SECRET = 'c3VwZXJzZWNyZXQ=';
  /** A gather with what redaction must find: a Secret, addresses in a log (one large), a gzip log, a binary file. */
  function makeRedactTree(source: string): void {
    const gather = join(source, '01-quay.io-x-gather');
    const deep = join(gather, 'namespaces', `${'n'.repeat(120)}`, 'core');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'secrets.yaml'), `apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    password: ${SECRET}\n  kind: Secret\n  metadata:\n    name: db\nkind: List\n`);
    let log = '';
    for (let i = 0; log.length < 300_000; i++) log += `I${i} pod 10.128.${i % 200}.${i % 250} on node 52:54:00:00:${(i % 256).toString(16).padStart(2, '0')}:01\n`;
    writeFileSync(join(deep, 'big.log'), log); // larger than wholeLimit below: redacted in pieces, its header last
    writeFileSync(join(gather, 'journal.gz'), gzipSync('kubelet: 192.168.7.7 ready\n'));
    writeFileSync(join(gather, 'core.bin'), Buffer.from([0, 1, 2, 10, 0, 0, 49, 48, 46, 48]));
    writeFileSync(join(gather, 'gather-result.json'), `${JSON.stringify({ index: 1, image: 'quay.io/x/gather', state: 'Failed', exitCode: 2, startedAt: 's', finishedAt: 'f', message: 'cannot reach 10.128.0.0' })}\n`);
  }

  it('redacts every text file (gzip ones too) as it archives, ends with the redaction record, and reports counts', async () => {
    const dir = freshDir('redact');
    const source = join(dir, 'gathers');
    makeRedactTree(source);
    const summary = await createArchive({
      source, output: join(dir, 'out.tar.gz'), chunkBytes: 64 * 1024, redactor: new Redactor(REDACT_KINDS),
      redactFile: { wholeLimit: 100_000, pieceBytes: 32 * 1024 },
      extraFiles: (results) => [{ name: 'summary', content: `last words: ${results.get(1)?.message}\n` }],
    });
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', join(dir, 'out.tar.gz'), '-C', out]); // GNU tar accepts the held-back header
    const root = join(out, 'must-gather');
    const gather = join(root, '01-quay.io-x-gather');
    const deep = join(gather, 'namespaces', 'n'.repeat(120), 'core');
    const secrets = readFileSync(join(deep, 'secrets.yaml'), 'utf8');
    expect(secrets).not.toContain(SECRET);
    expect(secrets).toMatch(/ {4}password: x-secret-[0-9a-f]{8}-x\n {2}kind: Secret\n/);
    const big = readFileSync(join(deep, 'big.log'), 'utf8');
    expect(big).not.toMatch(/10\.128\.|52:54:00/);
    const first = /^I0 pod (x-ipv4-[0-9a-f]{8}-x) on node (x-mac-[0-9a-f]{8}-x)$/m.exec(big)!;
    expect(first).not.toBeNull();
    expect(big).toContain(`I1000 pod ${first[1]} on node`); // 10.128.0.0 again, the same token
    expect(execFileSync('gzip', ['-dc', join(gather, 'journal.gz')], { encoding: 'utf8' })).toMatch(/^kubelet: x-ipv4-[0-9a-f]{8}-x ready\n$/);
    expect(readFileSync(join(gather, 'core.bin')).equals(Buffer.from([0, 1, 2, 10, 0, 0, 49, 48, 46, 48]))).toBe(true);
    expect(readFileSync(join(root, 'summary'), 'utf8')).toBe(`last words: cannot reach ${first[1]}\n`);
    const lines = big.split('\n').length - 1;
    const record = JSON.parse(readFileSync(join(root, REDACTION_FILE), 'utf8'));
    expect(record).toMatchObject({
      kinds: ['secrets', 'ipAddresses', 'macAddresses'],
      // The summary's address, the gather-result's, the gzip's and one per log line; each log line's MAC.
      replaced: { secrets: 1, ipAddresses: lines + 3, macAddresses: lines },
      filesRedacted: 4, filesNotRedacted: 1, filesOmitted: 0, // secrets.yaml, big.log, journal.gz, gather-result.json
      notRedacted: [{ path: 'must-gather/01-quay.io-x-gather/core.bin', reason: 'binary' }],
      omitted: [],
    });
    expect(summary.redaction).toEqual({ secrets: 1, ipAddresses: lines + 3, macAddresses: lines, filesRedacted: 4, filesNotRedacted: 1, filesOmitted: 0 });
    expect(summary.gathers).toEqual([{ index: 1, state: 'Failed', exitCode: 2, message: `cannot reach ${first[1]}` }]);
    expect(JSON.stringify(record)).not.toMatch(/10\.128|c3Vw/);
    const listing = execFileSync('tar', ['-tzf', join(dir, 'out.tar.gz')], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.at(-1)).toBe(`must-gather/${REDACTION_FILE}`);
    expect(summary.files).toBe(listing.filter((p) => !p.endsWith('/')).length);
  });

  it('puts the redaction counts in the termination message (mustgather archive --redact)', async () => {
    const dir = freshDir('redact-cli');
    makeRedactTree(join(dir, 'gathers'));
    expect(await archiveCommand(['--source', join(dir, 'gathers'), '--output', join(dir, 'out.tar.gz'), '--termination-log', join(dir, 'log'), '--redact', 'ipAddresses'])).toBe(0);
    const result = parseArchiveResult(readFileSync(join(dir, 'log'), 'utf8'))!;
    expect(result.redaction).toMatchObject({ secrets: 0, macAddresses: 0, filesNotRedacted: 1 });
    expect(result.redaction!.ipAddresses).toBeGreaterThan(1000);
    expect(result.gathers[0]!.message).toMatch(/^cannot reach x-ipv4-[0-9a-f]{8}-x$/);
    await expect(archiveCommand(['--source', '/x', '--output', '/y', '--redact', 'ipAddresses,names'])).rejects.toThrow('--redact: unknown redaction "names"');
  });
});

describe('the archive termination message', () => {
  const summary = (gathers: number): ArchiveSummary => ({
    sizeBytes: 123456789,
    sha256: 'ab'.repeat(32),
    files: 4242,
    directories: 10,
    symlinks: 1,
    bytesIn: 1e9,
    members: 300,
    warnings: 2,
    gathers: Array.from({ length: gathers }, (_, i) => ({ index: i + 1, state: i % 2 ? 'Failed' : 'Succeeded', exitCode: i % 2 ? 255 : 0 })),
  });

  it('round-trips through parseArchiveResult', () => {
    const text = formatArchiveResult(summary(3));
    expect(parseArchiveResult(`log line\n${text}\n`)).toEqual({ sizeBytes: 123456789, sha256: 'ab'.repeat(32), files: 4242, warnings: 2, gathers: summary(3).gathers });
    const redaction = { secrets: 1, ipAddresses: 2, macAddresses: 3, filesRedacted: 4, filesNotRedacted: 5, filesOmitted: 6 };
    const gathers = [{ index: 1, state: 'Failed' as const, exitCode: 1, message: 'x-ipv4-01234567-x down' }];
    expect(parseArchiveResult(formatArchiveResult({ ...summary(0), gathers, redaction }))).toMatchObject({ redaction, gathers });
    expect(parseArchiveResult(formatArchiveResult({ ...summary(0), redaction: { ...redaction, secrets: -1 } }))!.redaction).toBeUndefined();
  });

  it('stays under 4096 bytes with many gathers, saying how many it left out', () => {
    const text = formatArchiveResult(summary(500));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(text)).toBeGreaterThan(3900);
    const parsed = parseArchiveResult(text)!;
    expect(parsed.gathers.length + parsed.gathersOmitted!).toBe(500);
    expect(parsed.gathers[0]).toEqual({ index: 1, state: 'Succeeded', exitCode: 0 });
  });

  it('rejects garbage and truncated messages, drops malformed gathers', () => {
    const text = formatArchiveResult(summary(2));
    for (const bad of ['', 'x', text.slice(0, 50), '{"sizeBytes":1}', text.replace('"ab', '"zz')]) expect(parseArchiveResult(bad), bad).toBeUndefined();
    const odd = JSON.stringify({ ...JSON.parse(text), gathers: [{ index: 1, state: 'Succeeded', exitCode: 0 }, { index: 'x' }, 'junk'] });
    expect(parseArchiveResult(odd)!.gathers).toEqual([{ index: 1, state: 'Succeeded', exitCode: 0 }]);
  });
});

describe('mustgather archive', () => {
  it('writes the archive, its checksum and the termination message', async () => {
    const dir = freshDir('cli');
    mkdirSync(join(dir, 'gathers', '01-x'), { recursive: true });
    writeFileSync(join(dir, 'gathers', '01-x', 'f.yaml'), 'a: 1\n');
    const termination = join(dir, 'termination-log');
    const code = await archiveCommand(['--source', join(dir, 'gathers'), '--output', join(dir, 'must-gather.tar.gz'), '--termination-log', termination]);
    expect(code).toBe(0);
    const result = parseArchiveResult(readFileSync(termination, 'utf8'))!;
    expect(result).toMatchObject({ files: 1, sizeBytes: lstatSync(join(dir, 'must-gather.tar.gz')).size, gathers: [] });
    expect(readFileSync(join(dir, 'must-gather.tar.gz.sha256'), 'utf8')).toBe(`${result.sha256}  must-gather.tar.gz\n`);
  });

  it('with the operator\'s summary input, starts the archive with must-gather/summary: the facts and each image\'s result', async () => {
    const dir = freshDir('summary');
    const gather = join(dir, 'gathers', '01-quay.io-x-a-v1');
    mkdirSync(gather, { recursive: true });
    writeFileSync(join(gather, 'f.yaml'), 'a: 1\n');
    writeFileSync(join(gather, 'gather-result.json'), `${JSON.stringify({ index: 1, image: 'quay.io/x/a:v1', state: 'Failed', exitCode: 3, startedAt: 's', finishedAt: 'f', message: 'boom' })}\n`);
    const input = { report: 'ns/r', images: ['quay.io/x/a:v1', 'quay.io/x/b:v1'], cluster: { id: 'uid-1', version: 'v1.36.3', platform: 'Kubernetes', kubernetesVersion: 'v1.36.3', observedAt: 't' } };
    process.env[SUMMARY_ENV] = formatSummaryInput(input);
    try {
      expect(await archiveCommand(['--source', join(dir, 'gathers'), '--output', join(dir, 'out.tar.gz'), '--termination-log', join(dir, 'log')])).toBe(0);
    } finally {
      delete process.env[SUMMARY_ENV];
    }
    const listing = execFileSync('tar', ['-tzf', join(dir, 'out.tar.gz')], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.slice(0, 3)).toEqual(['must-gather/', 'must-gather/summary', 'must-gather/01-quay.io-x-a-v1/']);
    const text = execFileSync('tar', ['-xzOf', join(dir, 'out.tar.gz'), 'must-gather/summary'], { encoding: 'utf8' });
    expect(text).toBe(formatSummary(input, new Map([[1, { index: 1, image: 'quay.io/x/a:v1', state: 'Failed', exitCode: 3, startedAt: 's', finishedAt: 'f', message: 'boom' }]])));
    expect(text).toContain('ClusterID: uid-1');
    expect(text).toContain('Failed (exit code 3)');
    expect(parseArchiveResult(readFileSync(join(dir, 'log'), 'utf8'))).toMatchObject({ files: 3, gathers: [{ index: 1, state: 'Failed', exitCode: 3 }] });
  });

  it('rejects bad flags as usage errors', async () => {
    await expect(archiveCommand(['--source', '/x'])).rejects.toThrow(UsageError);
    await expect(archiveCommand(['--bogus'])).rejects.toThrow(UsageError);
    await expect(archiveCommand(['--source', '/x', '--output', '/y', '--level', '11'])).rejects.toThrow(/--level must be 1-9/);
  });
});
