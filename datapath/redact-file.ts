/**
 * One gathered file through the {@link Redactor}, for the archive step: what to archive instead of its bytes.
 *
 * Text (no NUL byte in its first 8000 bytes, git's test) is redacted whole when it is at most `wholeLimit` bytes,
 * which covers the YAML and JSON dumps whose Secrets need the whole structure. A larger text (logs) is redacted in
 * pieces cut at line ends, in one pass as the archive writes it (its tar header, which must promise the size, is
 * written last: see archive.ts), or in two above `streamBytes`. A large text with a Secret object in it is left out
 * rather than archived with a value the pieces could not see whole. Gzip files are
 * decompressed (up to `wholeLimit`), redacted and compressed again; binary files are archived as they are.
 */
import { readSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redactor } from './redact.js';

/** What to archive for one file. */
export type RedactedFile =
  /** The content to archive (`changed`: it differs from the file's). */
  | { kind: 'content'; content: Buffer; changed: boolean }
  /** A large text of `size` bytes, produced piece by piece by `pieces` (`changed` is known once they were). */
  | { kind: 'pieces'; size: number; changed: () => boolean; pieces: () => Iterable<Buffer> }
  /** The same, its size known only once every piece was produced: the caller writes its header last. */
  | { kind: 'stream'; changed: () => boolean; pieces: () => Iterable<Buffer> }
  /** Archived as it is, not rewritten: binary (or a gzip file holding binary or not decompressible). */
  | { kind: 'binary'; reason: string }
  /** Left out of the archive. */
  | { kind: 'omitted'; reason: string };

export interface RedactFileOptions {
  /** Texts (and decompressed gzip files) up to this size are redacted whole. @default 32 MiB */
  readonly wholeLimit?: number;
  /** Piece size of larger texts. @default 4 MiB */
  readonly pieceBytes?: number;
  /** A larger text up to this size is redacted once, as a `stream` (above, twice). @default 256 MiB */
  readonly streamBytes?: number;
  /** gzip level of rewritten gzip files. @default 6 */
  readonly level?: number;
}

export const REDACT_FILE_DEFAULTS = { wholeLimit: 32 * 1024 * 1024, pieceBytes: 4 * 1024 * 1024, streamBytes: 256 * 1024 * 1024, level: 6 } as const;

const SNIFF_BYTES = 8000;

/** Redacts the open file `fd` of `size` bytes (as fstat said when it was opened). */
export function redactFile(fd: number, size: number, redactor: Redactor, options: RedactFileOptions = {}): RedactedFile {
  const wholeLimit = options.wholeLimit ?? REDACT_FILE_DEFAULTS.wholeLimit;
  const head = Buffer.allocUnsafe(Math.min(size, SNIFF_BYTES));
  const headLength = readSync(fd, head, 0, head.length, 0);
  const sniffed = head.subarray(0, headLength);
  if (sniffed.length >= 2 && sniffed[0] === 0x1f && sniffed[1] === 0x8b) return gzipFile(fd, size, redactor, wholeLimit, options.level ?? REDACT_FILE_DEFAULTS.level);
  if (sniffed.includes(0)) return { kind: 'binary', reason: 'binary' };
  if (size <= wholeLimit) {
    const content = readAll(fd, size);
    const redacted = redactor.redact(content, true);
    return { kind: 'content', content: redacted, changed: redacted !== content };
  }
  return largeText(fd, size, redactor, {
    wholeLimit,
    pieceBytes: options.pieceBytes ?? REDACT_FILE_DEFAULTS.pieceBytes,
    streamBytes: options.streamBytes ?? REDACT_FILE_DEFAULTS.streamBytes,
  });
}

function gzipFile(fd: number, size: number, redactor: Redactor, wholeLimit: number, level: number): RedactedFile {
  const compressed = readAll(fd, size);
  let content: Buffer;
  try {
    content = gunzipSync(compressed, { maxOutputLength: wholeLimit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      return { kind: 'omitted', reason: `gzip file larger than ${wholeLimit} bytes once decompressed: too large to redact` };
    }
    return { kind: 'binary', reason: `gzip file that cannot be decompressed (${(err as Error).message})` };
  }
  if (content.subarray(0, SNIFF_BYTES).includes(0)) return { kind: 'binary', reason: 'gzip file holding binary data' };
  const redacted = redactor.redact(content, true);
  if (redacted === content) return { kind: 'content', content: compressed, changed: false };
  return { kind: 'content', content: gzipSync(redacted, { level }), changed: true };
}

/** The first `size` bytes (fewer if the file shrank). */
function readAll(fd: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, buffer, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return read === size ? buffer : buffer.subarray(0, read);
}

/**
 * A large text in pieces. First a cheap look for a Secret object (the bytes `Secret`, rarely there, before any text
 * is made); then, up to `streamBytes`, one pass that the caller writes as it goes (`stream`: the size is known only at
 * the end); above, two: one to learn the size, one to write (the tokens are a function of the values, so both passes
 * give the same bytes), memory staying at one piece whatever the size.
 */
function largeText(fd: number, size: number, redactor: Redactor, { wholeLimit, pieceBytes, streamBytes }: Required<Pick<RedactFileOptions, 'wholeLimit' | 'pieceBytes' | 'streamBytes'>>): RedactedFile {
  for (const piece of textPieces(fd, size, redactor, pieceBytes)) {
    if (redactor.mayHoldSecretObject(piece)) {
      return { kind: 'omitted', reason: `holds a Secret and is larger than ${wholeLimit} bytes: too large to redact whole` };
    }
  }
  const state = { changed: false };
  const redacted = function* (): Generator<Buffer> {
    for (const piece of textPieces(fd, size, redactor, pieceBytes)) {
      const out = redactor.redact(piece, false);
      state.changed ||= out !== piece;
      yield out;
    }
  };
  if (size <= streamBytes) return { kind: 'stream', pieces: redacted, changed: () => state.changed };
  const counts = { ...redactor.counts };
  let total = 0;
  for (const piece of redacted()) total += piece.length;
  Object.assign(redactor.counts, counts); // counted once, when written
  return { kind: 'pieces', size: total, pieces: redacted, changed: () => state.changed };
}

/** The file in pieces of about `pieceBytes`, each ending at a line end (where the redactor may cut). */
function* textPieces(fd: number, size: number, redactor: Redactor, pieceBytes: number): Generator<Buffer> {
  let carry = Buffer.alloc(0);
  for (let position = 0; ;) {
    const chunk = Buffer.allocUnsafe(carry.length + pieceBytes);
    carry.copy(chunk);
    const n = position < size ? readSync(fd, chunk, carry.length, Math.min(pieceBytes, size - position), position) : 0;
    position += n;
    let piece = chunk.subarray(0, carry.length + n);
    carry = Buffer.alloc(0);
    if (n > 0 && position < size) {
      // Cut after the last line end (if there is one), and before an unfinished private key; the rest goes next.
      const newline = piece.lastIndexOf(0x0a) + 1;
      const cut = newline > 0 ? redactor.safeCut(piece.subarray(0, newline)) : piece.length;
      if (cut > 0 && cut < piece.length && piece.length - cut <= pieceBytes) {
        carry = piece.subarray(cut);
        piece = piece.subarray(0, cut);
      }
    }
    if (piece.length === 0) return;
    yield piece;
    if (n === 0) return; // the end, or a file that shrank
  }
}
