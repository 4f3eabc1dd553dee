import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { ExtractError, extractArchive } from './extract.js';

const work = mkdtempSync(join(tmpdir(), 'extract-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Entry { path: string; type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice'; linkpath?: string; body?: string }

/** A .tar.gz written entry by entry, so it can hold what no honest tar would write. */
function tarGz(name: string, entries: Entry[]): string {
  const blocks: Buffer[] = [];
  for (const { path, type = 'File', linkpath, body = '' } of entries) {
    const data = Buffer.from(type === 'File' ? body : '');
    const header = new Header({ path, type, size: data.length, mode: type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0), ...(linkpath ? { linkpath } : {}) });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const file = join(work, name);
  writeFileSync(file, gzipSync(Buffer.concat(blocks)));
  return file;
}

describe('extractArchive', () => {
  it('unpacks files, directories and links that stay inside', async () => {
    const archive = tarGz('good.tar.gz', [
      { path: 'must-gather/', type: 'Directory' },
      { path: 'must-gather/a/pods.yaml', body: 'kind: PodList\n' },
      { path: 'must-gather/latest', type: 'SymbolicLink', linkpath: 'a' },
      { path: 'must-gather/copy.yaml', type: 'Link', linkpath: 'must-gather/a/pods.yaml' },
    ]);
    const dir = join(work, 'good');
    const skipped: string[] = [];
    expect(await extractArchive({ archive, dir, onSkip: (line) => skipped.push(line) })).toEqual({ skipped: 0 });
    expect(skipped).toEqual([]);
    expect(readFileSync(join(dir, 'must-gather/a/pods.yaml'), 'utf8')).toBe('kind: PodList\n');
    expect(readFileSync(join(dir, 'must-gather/latest/pods.yaml'), 'utf8')).toBe('kind: PodList\n');
    expect(readFileSync(join(dir, 'must-gather/copy.yaml'), 'utf8')).toBe('kind: PodList\n');
  });

  it('leaves out every entry that would land or point outside the directory, and says which', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    const archive = tarGz('evil.tar.gz', [
      { path: '../outside/dotdot.txt', body: 'x' },
      { path: `${outside}/absolute.txt`, body: 'x' },
      { path: 'up', type: 'SymbolicLink', linkpath: '../outside' },
      { path: 'etc', type: 'SymbolicLink', linkpath: '/etc' },
      { path: 'deep/up', type: 'SymbolicLink', linkpath: '../../outside' },
      { path: 'hard', type: 'Link', linkpath: '../outside/secret' },
      { path: 'tty', type: 'CharacterDevice' },
      { path: 'ok.txt', body: 'fine' },
    ]);
    const dir = join(work, 'evil');
    const skipped: string[] = [];
    const result = await extractArchive({ archive, dir, onSkip: (line) => skipped.push(line) });
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(join(dir, 'ok.txt'), 'utf8')).toBe('fine');
    expect(existsSync(join(dir, outside, 'absolute.txt'))).toBe(false);
    for (const link of ['up', 'etc', 'deep/up', 'hard', 'tty']) expect(existsSync(join(dir, link)) && lstatSync(join(dir, link))).toBe(false);
    expect(result.skipped).toBe(7);
    expect(skipped).toEqual(expect.arrayContaining([
      expect.stringMatching(/^skipped \.\.\/outside\/dotdot\.txt: /),
      `skipped ${outside}/absolute.txt: its path leaves the directory`,
      'skipped up: its link target ../outside is outside the directory',
      'skipped etc: its link target /etc is outside the directory',
      'skipped deep/up: its link target ../../outside is outside the directory',
      'skipped hard: its link target ../outside/secret is outside the directory',
      'skipped tty: a CharacterDevice entry is not extracted',
    ]));
  });

  it('fails naming the archive when it is not a tar.gz', async () => {
    const archive = join(work, 'junk.tar.gz');
    writeFileSync(archive, 'not gzip at all');
    await expect(extractArchive({ archive, dir: join(work, 'junk') })).rejects.toThrow(ExtractError);
    await expect(extractArchive({ archive, dir: join(work, 'junk') })).rejects.toThrow(`extract ${archive} into `);
  });
});
