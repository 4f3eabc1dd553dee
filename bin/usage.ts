import { parseArgs, type ParseArgsConfig } from 'node:util';

/** An error in how a command was called or in its input: printed as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` in strict mode with `-h/--help` added; a bad flag becomes a UsageError. Returns `undefined` after
 * printing `help` when help was asked for, so a command can `return 0`.
 */
export function parseCommandArgs<O extends Options>(args: string[], options: O, help: string, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } } as O, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    return undefined;
  }
  return parsed;
}
