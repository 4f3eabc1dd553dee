/**
 * The compress step of the report pod: every gathered directory into one `must-gather.tar.gz`, its checksum beside it
 * and the facts the reconciler publishes in the termination message.
 *
 * Throughput is the point (gathers can write gigabytes, and the report is not Ready until this ends), memory is capped
 * (the container has 512Mi): the tar stream is cut into chunks of `chunkBytes`, each compressed on its own as a
 * separate gzip member by zlib's asynchronous API, which runs in libuv's threadpool, so every core compresses while the
 * main thread reads the next chunk. Concatenated gzip members are one valid gzip file (RFC 1952 section 2.2; GNU tar,
 * gzip, zcat, Python and Go readers all accept them). Each member starts with an empty dictionary: with 4 MiB chunks
 * that costs about 0.1% of size.
 *
 * The tar format is node-tar's ({@link Header}, {@link Pax}: ustar with pax extended headers for long or non-ASCII
 * names and big sizes); the walk and the reads are ours because a tar entry must not promise a size it cannot keep:
 * a file that vanishes before it is opened is skipped, one that shrinks while read is padded with zeros, one that grows
 * is cut at the size it had when opened (what GNU tar does), and each case is a warning, counted, not a failure.
 * Reads are synchronous and go straight into the chunk buffer: no per-file promise round trips and no extra copy, while
 * the compression runs in other threads. The main thread's share is small (about 4 s of CPU for 1 GiB in 34,660 files,
 * against about 20 s of compression), so it does as few system calls as it can: regular files are known from the
 * directory listing's types (no lstat; open + fstat decide), chunk buffers are recycled (no page faults, no garbage),
 * and members are written as zlib produced them (no concatenation copy).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, type Dirent, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, renameSync, type Stats, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';
import { type ArchivedGather, type GatherResult, parseGatherResult } from '../constructs/pod-contract.js';

/** Options of {@link createArchive}. */
export interface ArchiveOptions {
  /** Directory holding one sub-directory per gather (`<volume>/gathers`). */
  source: string;
  /** The archive to write (`<volume>/must-gather.tar.gz`); `<output>.sha256` is written beside it. */
  output: string;
  /** Top directory of every entry, as `oc adm must-gather` names its output. @default 'must-gather' */
  prefix?: string;
  /** Bytes of tar stream per gzip member. @default 4 MiB */
  chunkBytes?: number;
  /** gzip level. @default 6, gzip's own default */
  level?: number;
  /**
   * Members compressed at once. Twice the cores keeps them busy while the main thread reads and writes (measured: 4
   * in flight on 2 cores is 1.5x faster than 2), at most libuv's default threadpool size. @default min(4, 2 * cores)
   */
  parallelism?: number;
  /** A file that vanished or changed while archived, an unreadable directory, ... @default print to stderr */
  onWarning?: (message: string) => void;
  /**
   * Files made here rather than gathered, written right after the top directory (the first a person sees when
   * listing the archive), by name under it; given the gathers' results, by index.
   * @default - none
   */
  extraFiles?: (results: ReadonlyMap<number, GatherResult>) => { name: string; content: string }[];
}

export const ARCHIVE_DEFAULTS = {
  prefix: 'must-gather',
  chunkBytes: 4 * 1024 * 1024,
  level: 6,
  parallelism: Math.min(4, 2 * availableParallelism()),
} as const;

/** What {@link createArchive} did. */
export interface ArchiveSummary {
  sizeBytes: number;
  sha256: string;
  /** Regular files archived. */
  files: number;
  directories: number;
  symlinks: number;
  /** Bytes of file content read. */
  bytesIn: number;
  /** Gzip members written (1 per chunk). */
  members: number;
  /** Files or directories that vanished, changed or could not be read while archived. */
  warnings: number;
  /** From each gather directory's `gather-result.json`, by index; gathers without one are left out. */
  gathers: ArchivedGather[];
}

/**
 * Writes `options.output` atomically (a temporary file renamed into place once complete and synced), then
 * `<output>.sha256` in `sha256sum -c` format. Never holds more than `(parallelism + 1) * chunkBytes` of data.
 */
export async function createArchive(options: ArchiveOptions): Promise<ArchiveSummary> {
  const settings = {
    ...options,
    prefix: options.prefix ?? ARCHIVE_DEFAULTS.prefix,
    chunkBytes: options.chunkBytes ?? ARCHIVE_DEFAULTS.chunkBytes,
    level: options.level ?? ARCHIVE_DEFAULTS.level,
    parallelism: options.parallelism ?? ARCHIVE_DEFAULTS.parallelism,
    onWarning: options.onWarning ?? ((message: string) => console.error(`warning: ${message}`)),
  };
  const temporary = `${settings.output}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', 0o644);
    const sink = new GzipMembers(fd, settings.level, settings.parallelism, settings.chunkBytes);
    const tar = new TarWriter(new Chunks(sink), settings.onWarning);
    const results = readGatherResults(settings.source);
    const extra = options.extraFiles?.(new Map(results.map((r) => [r.index, r]))) ?? [];
    await tar.addTree(settings.source, settings.prefix, extra.map((f) => ({ name: f.name, content: Buffer.from(f.content, 'utf8') })));
    await tar.finish();
    await sink.finish();
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, settings.output);
    const sha256 = sink.hash.digest('hex');
    writeAtomically(`${settings.output}.sha256`, `${sha256}  ${basename(settings.output)}\n`);
    syncDirectory(dirname(settings.output));
    return {
      sizeBytes: sink.bytesOut,
      sha256,
      ...tar.counts,
      members: sink.members,
      gathers: results.map(({ index, state, exitCode }) => ({ index, state, exitCode })),
    };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or already renamed
    }
    throw new Error(`archive ${settings.source} into ${settings.output}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Compresses chunks as independent gzip members, `parallelism` at a time, and appends them to `fd` in order. Chunk
 * buffers come back to a free list once their member is written: a fresh 4 MiB buffer per chunk costs a page fault per
 * 4 KiB (the kernel zeroes each page before the read copies into it) and garbage collection, about 5% of the CPU time.
 */
class GzipMembers {
  readonly hash = createHash('sha256');
  bytesOut = 0;
  members = 0;
  readonly #pending: { member: Promise<Buffer[]>; buffer: Buffer }[] = [];
  readonly #free: Buffer[] = [];

  constructor(private readonly fd: number, private readonly level: number, private readonly parallelism: number, readonly chunkBytes: number) {}

  /** An empty chunk buffer of `chunkBytes`: a recycled one when there is one. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
  }

  /**
   * Queues the first `length` bytes of `buffer` (from {@link take}; it must not be modified afterwards, it comes back
   * from {@link take} once its member is written); waits while `parallelism` chunks are in the works.
   */
  async push(buffer: Buffer, length: number): Promise<void> {
    const member = gzipMember(buffer.subarray(0, length), this.level);
    member.catch(() => undefined); // awaited in order below; until then a failure must not count as unhandled
    this.#pending.push({ member, buffer });
    while (this.#pending.length >= this.parallelism) await this.#writeOldest();
  }

  async finish(): Promise<void> {
    while (this.#pending.length > 0) await this.#writeOldest();
  }

  async #writeOldest(): Promise<void> {
    const { member, buffer } = this.#pending.shift()!;
    const parts = await member;
    this.#free.push(buffer); // compressed: zlib is done with it
    for (const part of parts) {
      this.hash.update(part);
      for (let offset = 0; offset < part.length;) offset += writeSync(this.fd, part, offset);
      this.bytesOut += part.length;
    }
    this.members++;
  }
}

/**
 * One gzip member of `input`, as the buffers zlib wrote it into: `zlib.gzip` without its final `Buffer.concat`, a copy
 * of every output byte into a fresh buffer (measured: 2 ms of main-thread time per 4 MiB member).
 */
function gzipMember(input: Buffer, level: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    // An output buffer as large as the worst case makes each member one threadpool job: no main-thread round trips.
    const engine = createGzip({ level, chunkSize: input.length + (input.length >> 10) + 1024 });
    engine.on('data', (part: Buffer) => parts.push(part));
    engine.once('error', reject);
    engine.once('end', () => resolve(parts));
    engine.end(input);
  });
}

/** The tar stream cut into fixed-size chunks; callers write into {@link window} directly to avoid a copy. */
class Chunks {
  #buffer: Buffer;
  #used = 0;
  readonly #size: number;

  constructor(private readonly sink: GzipMembers) {
    this.#size = sink.chunkBytes;
    this.#buffer = sink.take();
  }

  /** Free space of the current chunk (never empty). */
  window(): { buffer: Buffer; offset: number; length: number } {
    return { buffer: this.#buffer, offset: this.#used, length: this.#size - this.#used };
  }

  /** Marks `count` bytes of the window as written. */
  async advance(count: number): Promise<void> {
    this.#used += count;
    if (this.#used === this.#size) await this.flush();
  }

  async write(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length;) {
      const copied = data.copy(this.#buffer, this.#used, offset);
      offset += copied;
      await this.advance(copied);
    }
  }

  async zeros(count: number): Promise<void> {
    while (count > 0) {
      const { buffer, offset, length } = this.window();
      const n = Math.min(count, length);
      buffer.fill(0, offset, offset + n);
      count -= n;
      await this.advance(n);
    }
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const full = this.#buffer;
    const used = this.#used;
    this.#buffer = this.sink.take(); // the old one belongs to the compressor now
    this.#used = 0;
    await this.sink.push(full, used);
  }
}

const BLOCK = 512;

/** Names in the order `Array.prototype.sort` gives strings (by UTF-16 code units). */
function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Walks a tree depth-first in name order and writes it as tar entries. Hard links are archived as separate files. */
class TarWriter {
  readonly counts = { files: 0, directories: 0, symlinks: 0, bytesIn: 0, warnings: 0 };

  constructor(private readonly chunks: Chunks, private readonly onWarning: (message: string) => void) {}

  /** Archives `root` as `prefix`, with `first` (made in memory) right after the top directory's entry. */
  async addTree(root: string, prefix: string, first: readonly { name: string; content: Buffer }[] = []): Promise<void> {
    const rootStat = lstatSync(root);
    if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);
    let extra = first;
    // `file`: the directory listing said regular file, so skip the lstat (open and fstat tell the same and more).
    const stack: { absolute: string; name: string; file: boolean }[] = [{ absolute: root, name: prefix, file: false }];
    while (stack.length > 0) {
      const { absolute, name, file } = stack.pop()!;
      if (file && (await this.#file(absolute, name, true))) continue;
      let stat: Stats;
      try {
        stat = lstatSync(absolute);
      } catch (err) {
        this.#warn(absolute, 'vanished before it was archived', err);
        continue;
      }
      if (stat.isDirectory()) {
        await this.#entry({ path: `${name}/`, type: 'Directory', stat });
        this.counts.directories++;
        for (const file of extra) await this.#memoryFile(`${name}/${file.name}`, file.content, stat);
        extra = [];
        let children: Dirent[];
        try {
          // With the types the listing has anyway (d_type; Node lstats itself where a file system gives none).
          children = readdirSync(absolute, { withFileTypes: true });
        } catch (err) {
          this.#warn(absolute, 'could not be listed', err);
          continue;
        }
        children.sort(byName);
        for (let i = children.length - 1; i >= 0; i--) {
          const child = children[i]!;
          stack.push({ absolute: join(absolute, child.name), name: `${name}/${child.name}`, file: child.isFile() });
        }
      } else if (stat.isSymbolicLink()) {
        let linkpath: string;
        try {
          linkpath = readlinkSync(absolute);
        } catch (err) {
          this.#warn(absolute, 'vanished before it was archived', err);
          continue;
        }
        await this.#entry({ path: name, type: 'SymbolicLink', stat, linkpath });
        this.counts.symlinks++;
      } else if (stat.isFile()) {
        await this.#file(absolute, name, false);
      } else {
        this.#warn(absolute, 'skipped: not a regular file, directory or symbolic link');
      }
    }
  }

  /** The end-of-archive marker and the last partial chunk. */
  async finish(): Promise<void> {
    await this.chunks.zeros(2 * BLOCK);
    await this.chunks.flush();
  }

  /**
   * Archives a regular file. `listed`: known as a file from the directory listing only; then, if it is no longer a
   * regular file when opened (replaced since), returns false without a warning so that the caller looks at it again.
   */
  async #file(absolute: string, name: string, listed: boolean): Promise<boolean> {
    let fd: number;
    try {
      // O_NOFOLLOW: if it was replaced by a symbolic link since it was listed, do not archive what the link points to;
      // O_NONBLOCK: if it was replaced by a FIFO, do not wait for a writer (no effect on regular files).
      fd = openSync(absolute, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (listed && (err as NodeJS.ErrnoException).code === 'ELOOP') return false; // now a symbolic link
      this.#warn(absolute, 'vanished or became unreadable before it was archived', err);
      return true;
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) {
        if (listed) return false;
        this.#warn(absolute, 'skipped: no longer a regular file');
        return true;
      }
      await this.#entry({ path: name, type: 'File', stat });
      const read = await this.#content(fd, absolute, stat.size);
      await this.chunks.zeros((BLOCK - (stat.size % BLOCK)) % BLOCK);
      this.counts.files++;
      this.counts.bytesIn += read;
      const after = fstatSync(fd);
      if (read < stat.size) this.#warn(absolute, `shrank while archived: ${stat.size - read} missing bytes archived as zeros`);
      else if (after.size !== stat.size || after.mtimeMs !== stat.mtimeMs) this.#warn(absolute, `changed while archived: kept as its first ${stat.size} bytes`);
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /** A file made in memory, owned like the directory it is in. */
  async #memoryFile(path: string, content: Buffer, directory: Stats): Promise<void> {
    await this.#entry({ path, type: 'File', stat: { mode: 0o100644, uid: directory.uid, gid: directory.gid, size: content.length, mtimeMs: Date.now() } });
    await this.chunks.write(content);
    await this.chunks.zeros((BLOCK - (content.length % BLOCK)) % BLOCK);
    this.counts.files++;
    this.counts.bytesIn += content.length;
  }

  /** Reads up to `size` bytes straight into the chunks; pads with zeros if the file ends early. */
  async #content(fd: number, absolute: string, size: number): Promise<number> {
    let position = 0;
    while (position < size) {
      const { buffer, offset, length } = this.chunks.window();
      let n: number;
      try {
        n = readSync(fd, buffer, offset, Math.min(length, size - position), position);
      } catch (err) {
        throw new Error(`read ${absolute}: ${(err as Error).message}`, { cause: err });
      }
      if (n === 0) break;
      position += n;
      await this.chunks.advance(n);
    }
    await this.chunks.zeros(size - position);
    return position;
  }

  /** A header block, preceded by a pax extended header when a field does not fit ustar (node-tar decides). */
  async #entry({ path, type, stat, linkpath }: { path: string; type: 'File' | 'Directory' | 'SymbolicLink'; stat: Pick<Stats, 'mode' | 'uid' | 'gid' | 'size' | 'mtimeMs'>; linkpath?: string }): Promise<void> {
    const fields = {
      path,
      type,
      linkpath,
      mode: stat.mode & 0o7777,
      uid: stat.uid,
      gid: stat.gid,
      size: type === 'File' ? stat.size : 0,
      mtime: new Date(Math.floor(stat.mtimeMs / 1000) * 1000),
    };
    const header = new Header(fields);
    if (header.encode()) await this.chunks.write(new Pax(fields).encode());
    await this.chunks.write(header.block!);
  }

  #warn(path: string, what: string, cause?: unknown): void {
    this.counts.warnings++;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    this.onWarning(`${path} ${what}${code ? ` (${code})` : ''}`);
  }
}

function writeAtomically(path: string, content: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode: 0o644, flush: true });
  renameSync(temporary, path);
}

/** Makes the renames durable: the pod may be deleted right after the step reports success. */
function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Each gather directory's recorded result, by index. */
function readGatherResults(source: string): GatherResult[] {
  const gathers: GatherResult[] = [];
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    let text: string;
    try {
      text = readFileSync(join(source, entry.name, 'gather-result.json'), 'utf8');
    } catch {
      continue;
    }
    const result = parseGatherResult(text);
    if (result) gathers.push(result);
  }
  return gathers.sort((a, b) => a.index - b.index);
}
