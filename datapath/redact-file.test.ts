import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { Redactor } from './redact.js';
import { type RedactedFile, type RedactFileOptions, redactFile } from './redact-file.js';
import { REDACT_KINDS } from '../constructs/pod-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'redact-file-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = Buffer.alloc(64, 3);
let files = 0;

/** `content` written to a file and redacted by a redactor of every kind (with `KEY`), and that redactor. */
function redactContent(content: Buffer | string, options: RedactFileOptions = {}): { file: RedactedFile; redactor: Redactor; bytes: () => Buffer } {
  const path = join(dir, `f${++files}`);
  writeFileSync(path, content);
  const fd = openSync(path, 'r');
  afterAll(() => closeSync(fd));
  const redactor = new Redactor(REDACT_KINDS, KEY);
  const size = Buffer.byteLength(content);
  const file = redactFile(fd, size, redactor, options);
  const bytes = () => {
    if (file.kind === 'content') return file.content;
    if (file.kind === 'pieces' || file.kind === 'stream') return Buffer.concat([...file.pieces()]);
    throw new Error(`no content: ${file.kind}`);
  };
  return { file, redactor, bytes };
}

function logLines(count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += `2024-05-01T10:00:${String(i % 60).padStart(2, '0')}Z I node-${i % 7} dial 10.0.${i % 3}.${i % 250}:443 mac 52:54:00:00:00:${(i % 256).toString(16).padStart(2, '0')}\n`;
  return text;
}

describe('redactFile', () => {
  it('rewrites a text file whole, and says when nothing changed', () => {
    const { file, bytes } = redactContent('node 10.0.0.1 up\n');
    expect(file).toMatchObject({ kind: 'content', changed: true });
    expect(bytes().toString()).toMatch(/^node x-ipv4-[0-9a-f]{8}-x up\n$/);
    expect(redactContent('nothing here\n').file).toMatchObject({ kind: 'content', changed: false });
  });

  it('archives binary files as they are', () => {
    expect(redactContent(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 10, 0, 0, 1])).file).toEqual({ kind: 'binary', reason: 'binary' });
  });

  it('redacts a gzip file inside and compresses it again; keeps one with nothing to redact byte for byte', () => {
    const { file, bytes } = redactContent(gzipSync('journal: 10.1.2.3 up\n'));
    expect(file).toMatchObject({ kind: 'content', changed: true });
    expect(gunzipSync(bytes()).toString()).toMatch(/^journal: x-ipv4-[0-9a-f]{8}-x up\n$/);
    const plain = gzipSync('nothing to see\n');
    const unchanged = redactContent(plain);
    expect(unchanged.file).toMatchObject({ kind: 'content', changed: false });
    expect(unchanged.bytes().equals(plain)).toBe(true);
  });

  it('says why a gzip file is not rewritten or left out', () => {
    expect(redactContent(gzipSync(Buffer.from([1, 0, 2, 0]))).file).toEqual({ kind: 'binary', reason: 'gzip file holding binary data' });
    expect(redactContent(Buffer.concat([gzipSync('10.0.0.1\n').subarray(0, 12), Buffer.from('garbage')])).file).toMatchObject({ kind: 'binary', reason: expect.stringMatching(/^gzip file that cannot be decompressed/) });
    expect(redactContent(gzipSync(logLines(100)), { wholeLimit: 1024 }).file).toEqual({ kind: 'omitted', reason: 'gzip file larger than 1024 bytes once decompressed: too large to redact' });
  });

  it('redacts a large text in pieces cut at line ends, to what redacting it whole gives, counting each value once', () => {
    const text = logLines(2000);
    const whole = new Redactor(REDACT_KINDS, KEY);
    const expected = whole.redactText(text, false);
    const { file, redactor, bytes } = redactContent(text, { wholeLimit: 1024, pieceBytes: 4096 });
    expect(file.kind).toBe('stream');
    const pieces = file.kind === 'stream' ? [...file.pieces()] : [];
    expect(pieces.length).toBeGreaterThan(10);
    for (const piece of pieces) expect(piece.at(-1)).toBe(0x0a);
    expect(Buffer.concat(pieces).toString('latin1')).toBe(expected);
    expect(redactor.counts).toEqual(whole.counts);
    expect(file.kind === 'stream' && file.changed()).toBe(true);
    expect(bytes().toString('latin1')).toBe(expected); // a stream can be produced again
  });

  it('above streamBytes, knows the size first (two passes) and still counts each value once', () => {
    const text = logLines(500);
    const { file, redactor, bytes } = redactContent(text, { wholeLimit: 1024, pieceBytes: 4096, streamBytes: 8192 });
    expect(file.kind).toBe('pieces');
    expect(redactor.counts).toEqual({ secrets: 0, ipAddresses: 0, macAddresses: 0 }); // pass one does not count
    const out = bytes();
    expect(file.kind === 'pieces' && file.size).toBe(out.length);
    expect(redactor.counts).toEqual({ secrets: 0, ipAddresses: 500, macAddresses: 500 });
  });

  it('keeps a private key that straddles two pieces in one piece, and redacts it', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\n' + 'MIIEowIBAAKCAQEA\n'.repeat(40) + '-----END RSA PRIVATE KEY-----\n';
    const text = logLines(30) + key + logLines(30);
    const { bytes } = redactContent(text, { wholeLimit: 1024, pieceBytes: 4096 });
    const out = bytes().toString();
    expect(out).not.toContain('MIIEowIBAAKCAQEA');
    expect(out).toMatch(/-----BEGIN RSA PRIVATE KEY-----\nx-secret-[0-9a-f]{8}-x\n-----END RSA PRIVATE KEY-----\n/);
  });

  it('leaves out a large text that holds a Secret object it cannot see whole', () => {
    const yaml = `${logLines(100)}items:\n- apiVersion: v1\n  data:\n    password: aHVudGVy\n  kind: Secret\n`;
    expect(redactContent(yaml, { wholeLimit: 1024, pieceBytes: 4096 }).file).toEqual({
      kind: 'omitted', reason: 'holds a Secret and is larger than 1024 bytes: too large to redact whole',
    });
  });
});
