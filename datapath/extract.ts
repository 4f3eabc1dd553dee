/**
 * Unpacks a downloaded must-gather archive into a directory, refusing anything that would land outside it. The archive
 * was verified against the report's sha256, but its contents come from gather images, which may be anyone's: an entry
 * is not trusted to stay in its directory.
 *
 * node-tar (with `preservePaths` off) already strips leading `/` from entry paths, refuses entries with `..` and does
 * not write through a symbolic link an earlier entry made; on top of that only files, directories and links whose
 * target stays inside the directory are extracted, and ownership is never taken from the archive.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { extract, type ReadEntry } from 'tar';

/** Options of {@link extractArchive}. */
export interface ExtractOptions {
  /** The `.tar.gz` to unpack. */
  archive: string;
  /** Where; created when missing. */
  dir: string;
  /** Told about each entry left out, one line each. @default - ignored */
  onSkip?: (line: string) => void;
}

/** Raised when the archive cannot be read; names the archive and wraps tar's error. */
export class ExtractError extends Error {
  override readonly name = 'ExtractError';
}

const CONTENT_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Whether `target`, resolved from `from` (a directory), stays inside `dir`. */
function inside(dir: string, from: string, target: string): boolean {
  if (isAbsolute(target)) return false;
  const rel = relative(dir, resolve(from, target));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Why an entry is left out, or undefined when it is safe to extract. */
export function unsafeEntry(dir: string, entry: Pick<ReadEntry, 'path' | 'type' | 'linkpath'>): string | undefined {
  if (isAbsolute(entry.path) || !inside(dir, dir, entry.path)) return 'its path leaves the directory';
  if (CONTENT_TYPES.has(entry.type)) return undefined;
  if (entry.type !== 'SymbolicLink' && entry.type !== 'Link') return `a ${entry.type} entry is not extracted`;
  // A symbolic link's target is relative to its own directory; a hard link's to the top of the archive.
  const from = entry.type === 'SymbolicLink' ? dirname(resolve(dir, entry.path)) : dir;
  return inside(dir, from, entry.linkpath ?? '') ? undefined : `its link target ${entry.linkpath} is outside the directory`;
}

/** Extracts `archive` into `dir`; returns how many entries were left out (each told to `onSkip`). */
export async function extractArchive(options: ExtractOptions): Promise<{ skipped: number }> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  let skipped = 0;
  const skip = (path: string, why: string) => {
    skipped++;
    options.onSkip?.(`skipped ${path}: ${why}`);
  };
  // A broken archive is only a warning to node-tar outside strict mode: the first one fails the extraction.
  let broken: { message: string; cause: unknown } | undefined;
  try {
    await extract({
      file: options.archive,
      cwd: dir,
      preservePaths: false,
      // As root node-tar would chown to the archive's owners; the files belong to whoever runs the command.
      preserveOwner: false,
      filter: (path, entry) => {
        const why = unsafeEntry(dir, entry as ReadEntry);
        if (why !== undefined) skip(path, why);
        return why === undefined;
      },
      // node-tar's own refusals of an entry (a path with "..", a write through a symbolic link) leave it out.
      onwarn: (code, message, data) => {
        const entry = (data as { entry?: ReadEntry }).entry;
        if (entry) skip(entry.path, message);
        else if (code !== 'TAR_ENTRY_INFO') broken ??= { message, cause: data };
      },
    });
  } catch (err) {
    throw new ExtractError(`extract ${options.archive} into ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (broken) throw new ExtractError(`extract ${options.archive} into ${dir}: ${broken.message}`, { cause: broken.cause });
  return { skipped };
}
