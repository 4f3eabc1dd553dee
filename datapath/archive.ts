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
import { type ArchivedGather, type GatherResult, parseGatherResult, REDACTION_FILE, type RedactionResult } from '../constructs/pod-contract.js';
import type { Redactor } from './redact.js';
import { redactFile, type RedactFileOptions } from './redact-file.js';

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
  /**
   * Redacts every file while it is archived (see redact-file.ts), the extra files and failed gathers' messages too,
   * and ends the archive with {@link REDACTION_FILE}: what was redacted (counts), which files were not rewritten and
   * which were left out.
   * @default - nothing is redacted
   */
  redactor?: Redactor;
  /** How files are redacted (sizes up to which they are redacted whole, in one pass, ...). @default REDACT_FILE_DEFAULTS */
  redactFile?: RedactFileOptions;
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
  /** With {@link ArchiveOptions.redactor}. */
  redaction?: RedactionResult;
}

/** A redacted failed gather's message in the archive result: its end, where the last output lines are. */
const GATHER_MESSAGE_LIMIT = 300;
/** File names listed in {@link REDACTION_FILE}, per list; the counts say how many there were in all. */
const REDACTION_LIST_LIMIT = 1000;

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
    const redactor = options.redactor;
    const tar = new TarWriter(new Chunks(sink), settings.onWarning, redactor, options.redactFile);
    const results = readGatherResults(settings.source);
    const extra = options.extraFiles?.(new Map(results.map((r) => [r.index, r]))) ?? [];
    const content = (text: string) => Buffer.from(redactor ? redactor.redactString(text, { count: true }) : text, 'utf8');
    await tar.addTree(settings.source, settings.prefix, extra.map((f) => ({ name: f.name, content: content(f.content) })));
    const redaction = tar.redaction && redactor ? { ...redactor.counts, ...tar.redaction.counts } : undefined;
    if (redaction) await tar.addGenerated(`${settings.prefix}/${REDACTION_FILE}`, Buffer.from(redactionRecord(redaction, tar.redaction!, redactor!), 'utf8'));
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
      gathers: results.map(({ index, state, exitCode, message }) => ({
        index, state, exitCode,
        ...(redactor && state !== 'Succeeded' && message ? { message: redactor.redactString(message).slice(-GATHER_MESSAGE_LIMIT) } : {}),
      })),
      ...(redaction ? { redaction } : {}),
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
 * buffers come back to a free list once compressed: a fresh 4 MiB buffer per chunk costs a page fault per 4 KiB (the
 * kernel zeroes each page before the read copies into it) and garbage collection, about 5% of the CPU time.
 *
 * A chunk can be held ({@link hold}): queued in its place but compressed only once released, after its content was
 * changed. The chunks after it compress meanwhile, and wait, compressed, to be written after it: that is how a tar
 * header is written after the content whose size it states (a redacted file's size is known only at its end).
 */
class GzipMembers {
  readonly hash = createHash('sha256');
  bytesOut = 0;
  members = 0;
  /** In output order: compressing, compressed (`parts`) or held. */
  readonly #queue: Member[] = [];
  readonly #compressing = new Set<Promise<void>>();
  readonly #free: Buffer[] = [];

  constructor(private readonly fd: number, private readonly level: number, private readonly parallelism: number, readonly chunkBytes: number) {}

  /** An empty chunk buffer of `chunkBytes`: a recycled one when there is one. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
  }

  /**
   * Queues the first `length` bytes of `buffer` (from {@link take}; it must not be modified afterwards, it comes back
   * from {@link take} once compressed); waits while `parallelism` chunks are compressing.
   */
  async push(buffer: Buffer, length: number): Promise<void> {
    const member: Member = { buffer, length };
    this.#queue.push(member);
    this.#compress(member);
    await this.#settle(this.parallelism);
  }

  /** Queues `buffer` like {@link push} but compresses it only on {@link release}: until then it may be changed. */
  hold(buffer: Buffer, length: number): Member {
    const member: Member = { buffer, length, held: true };
    this.#queue.push(member);
    return member;
  }

  async release(member: Member): Promise<void> {
    member.held = false;
    this.#compress(member);
    await this.#settle(this.parallelism);
  }

  async finish(): Promise<void> {
    if (this.#queue.some((m) => m.held)) throw new Error('a held gzip member was never released');
    await this.#settle(1);
  }

  #compress(member: Member): void {
    const done = gzipMember(member.buffer.subarray(0, member.length), this.level).then((parts) => {
      member.parts = parts;
      this.#free.push(member.buffer); // compressed: zlib is done with it
    }, (err: unknown) => {
      member.error = err;
    }).finally(() => this.#compressing.delete(done));
    this.#compressing.add(done);
  }

  /** Writes what is compressed and next in order; waits until fewer than `limit` chunks are compressing. */
  async #settle(limit: number): Promise<void> {
    for (;;) {
      while (this.#queue.length > 0 && (this.#queue[0]!.parts || this.#queue[0]!.error !== undefined)) this.#writeOldest();
      if (this.#compressing.size < limit) return;
      await Promise.race(this.#compressing);
    }
  }

  #writeOldest(): void {
    const { parts, error } = this.#queue.shift()!;
    if (error !== undefined) throw error;
    for (const part of parts!) {
      this.hash.update(part);
      for (let offset = 0; offset < part.length;) offset += writeSync(this.fd, part, offset);
      this.bytesOut += part.length;
    }
    this.members++;
  }
}

/** One chunk on its way through {@link GzipMembers}. */
interface Member {
  readonly buffer: Buffer;
  readonly length: number;
  held?: boolean;
  parts?: Buffer[];
  error?: unknown;
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

  /**
   * Writes `bytes` into a chunk of their own that is held back (see {@link GzipMembers.hold}): `rewrite` puts other
   * bytes of the same length in their place and lets the chunk go. What is written in between follows it.
   */
  async holdBack(bytes: Buffer): Promise<{ rewrite: (bytes: Buffer) => Promise<void> }> {
    if (this.window().length < bytes.length) await this.flush();
    const offset = this.#used;
    bytes.copy(this.#buffer, offset);
    const held = this.sink.hold(this.#buffer, offset + bytes.length);
    this.#buffer = this.sink.take();
    this.#used = 0;
    return {
      rewrite: async (replacement) => {
        if (replacement.length !== bytes.length) throw new Error(`a held-back tar header changed length (${bytes.length} to ${replacement.length} bytes)`);
        replacement.copy(held.buffer, offset);
        await this.sink.release(held);
      },
    };
  }
}

const BLOCK = 512;
/** ustar's size field: 11 octal digits. */
const USTAR_MAX_SIZE = 8 ** 11;

type EntryFields = { path: string; type: 'File' | 'Directory' | 'SymbolicLink'; stat: Pick<Stats, 'mode' | 'uid' | 'gid' | 'size' | 'mtimeMs'>; linkpath?: string };

/** Names in the order `Array.prototype.sort` gives strings (by UTF-16 code units). */
function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Walks a tree depth-first in name order and writes it as tar entries. Hard links are archived as separate files. */
class TarWriter {
  readonly counts = { files: 0, directories: 0, symlinks: 0, bytesIn: 0, warnings: 0 };
  /** With a redactor: the files rewritten, archived as they are, and left out (archive paths). */
  readonly redaction: RedactionLists | undefined;

  constructor(
    private readonly chunks: Chunks,
    private readonly onWarning: (message: string) => void,
    private readonly redactor?: Redactor,
    private readonly redactFileOptions?: RedactFileOptions,
  ) {
    if (redactor) this.redaction = { counts: { filesRedacted: 0, filesNotRedacted: 0, filesOmitted: 0 }, notRedacted: [], omitted: [] };
  }

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
        for (const file of extra) await this.addGenerated(`${name}/${file.name}`, file.content, stat);
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
      if (this.redactor && stat.size > 0) {
        await this.#redacted(fd, absolute, name, stat);
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

  /** A file made in memory, owned like `owner` (the directory it is in) or by this process. */
  async addGenerated(path: string, content: Buffer, owner: Pick<Stats, 'uid' | 'gid'> = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): Promise<void> {
    await this.#entry({ path, type: 'File', stat: { mode: 0o100644, uid: owner.uid, gid: owner.gid, size: content.length, mtimeMs: Date.now() } });
    await this.chunks.write(content);
    await this.chunks.zeros((BLOCK - (content.length % BLOCK)) % BLOCK);
    this.counts.files++;
    this.counts.bytesIn += content.length;
  }

  /**
   * A regular file through the redactor: its redacted content under its own name and metadata (and size), or as it
   * is (binary), or nothing (left out); the last two are listed in the redaction record.
   */
  async #redacted(fd: number, absolute: string, name: string, stat: Stats): Promise<void> {
    const lists = this.redaction!;
    let file;
    try {
      file = redactFile(fd, stat.size, this.redactor!, this.redactFileOptions);
    } catch (err) {
      throw new Error(`redact ${absolute}: ${(err as Error).message}`, { cause: err });
    }
    if (file.kind === 'omitted') {
      lists.counts.filesOmitted++;
      if (lists.omitted.length < REDACTION_LIST_LIMIT) lists.omitted.push({ path: name, reason: file.reason });
      return;
    }
    if (file.kind === 'binary') {
      lists.counts.filesNotRedacted++;
      if (lists.notRedacted.length < REDACTION_LIST_LIMIT) lists.notRedacted.push({ path: name, reason: file.reason });
      await this.#entry({ path: name, type: 'File', stat });
      const read = await this.#content(fd, absolute, stat.size);
      await this.chunks.zeros((BLOCK - (stat.size % BLOCK)) % BLOCK);
      this.counts.files++;
      this.counts.bytesIn += read;
      return;
    }
    const fields = { path: name, type: 'File' as const, stat: { mode: stat.mode, uid: stat.uid, gid: stat.gid, mtimeMs: stat.mtimeMs, size: 0 } };
    let size: number;
    if (file.kind === 'stream') {
      // Written as it is redacted, its header held back until its size is known.
      const header = await this.chunks.holdBack(this.#header(fields));
      size = 0;
      for (const piece of file.pieces()) {
        await this.chunks.write(piece);
        size += piece.length;
      }
      await header.rewrite(this.#header({ ...fields, stat: { ...fields.stat, size } }));
    } else {
      size = file.kind === 'content' ? file.content.length : file.size;
      await this.#entry({ ...fields, stat: { ...fields.stat, size } });
      let written = 0;
      for (const piece of file.kind === 'content' ? [file.content] : file.pieces()) {
        // A file that changed between the two passes: cut at, or padded to, the size the header promised.
        const part = piece.length > size - written ? piece.subarray(0, size - written) : piece;
        await this.chunks.write(part);
        written += part.length;
      }
      if (written < size) this.#warn(absolute, `changed while archived: ${size - written} missing bytes archived as zeros`);
      await this.chunks.zeros(size - written);
    }
    await this.chunks.zeros((BLOCK - (size % BLOCK)) % BLOCK);
    if (file.kind === 'content' ? file.changed : file.changed()) lists.counts.filesRedacted++;
    this.counts.files++;
    this.counts.bytesIn += stat.size;
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
  async #entry(entry: EntryFields): Promise<void> {
    await this.chunks.write(this.#header(entry));
  }

  /**
   * The bytes of {@link #entry}. The pax header holds the size only when ustar cannot (8 GiB and more), so that a
   * held-back header has the same length whatever size it states in the end.
   */
  #header({ path, type, stat, linkpath }: EntryFields): Buffer {
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
    if (!header.encode()) return header.block!;
    return Buffer.concat([new Pax({ ...fields, size: fields.size >= USTAR_MAX_SIZE ? fields.size : undefined }).encode(), header.block!]);
  }

  #warn(path: string, what: string, cause?: unknown): void {
    this.counts.warnings++;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    this.onWarning(`${path} ${what}${code ? ` (${code})` : ''}`);
  }
}

/** What {@link TarWriter} did with files under a redactor. */
interface RedactionLists {
  counts: Pick<RedactionResult, 'filesRedacted' | 'filesNotRedacted' | 'filesOmitted'>;
  notRedacted: { path: string; reason: string }[];
  omitted: { path: string; reason: string }[];
}

/** The text of {@link REDACTION_FILE}: counts and file names, never a value. */
function redactionRecord(result: RedactionResult, lists: RedactionLists, redactor: Redactor): string {
  return `${JSON.stringify({
    kinds: [...redactor.kinds],
    note: 'Values were replaced by tokens x-<kind>-<hex>-x: the same value is the same token everywhere in this archive; ' +
      'the key that made them was random and not kept. Files under notRedacted were archived as they are.',
    replaced: { secrets: result.secrets, ipAddresses: result.ipAddresses, macAddresses: result.macAddresses },
    filesRedacted: result.filesRedacted,
    filesNotRedacted: result.filesNotRedacted,
    filesOmitted: result.filesOmitted,
    notRedacted: lists.notRedacted,
    omitted: lists.omitted,
  }, null, 2)}\n`;
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
