/** Structured logs: one JSON object per line on stderr, what log collectors parse without help. */
export type LogLevel = 'debug' | 'info' | 'error';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(options: { readonly verbose?: boolean; readonly write?: (line: string) => void } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (level === 'debug' && !options.verbose) return;
    const error = fields.error instanceof Error ? { error: fields.error.message } : {};
    write(JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...fields, ...error }));
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    error: (message, fields) => emit('error', message, fields),
    debug: (message, fields) => emit('debug', message, fields),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { info() {}, error() {}, debug() {} };
