import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { UsageError } from './usage.js';

/** Reads a file, or standard input for `-`. */
export function readText(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path === '-' ? 'standard input' : path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Every non-empty YAML (or JSON) document in `text`; a syntax error is a one-line UsageError with its line. */
export function parseDocuments(text: string, source: string): unknown[] {
  const documents = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    const [error] = document.errors;
    if (error) {
      const line = error.linePos?.[0]?.line;
      throw new UsageError(`${source}${line ? `:${line}` : ''}: invalid YAML: ${error.message.split('\n')[0]}`);
    }
  }
  return list.map((document) => document.toJS()).filter((value) => value !== null && value !== undefined);
}
