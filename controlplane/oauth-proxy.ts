/**
 * Locates the oauth-proxy binary for the integration tests: OAUTH_PROXY_BINARY when set, otherwise the cache filled by
 * hack/oauth-proxy/build.sh (built from the Go module proxy on first use, reused afterwards).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './binaries.js';

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Options for {@link ensureOAuthProxy}. */
export interface EnsureOAuthProxyOptions {
  /** Where build progress goes (default: process.stderr). */
  log?: (line: string) => void;
}

let pending: Promise<string> | undefined;

/**
 * Returns the path of an oauth-proxy binary: `$OAUTH_PROXY_BINARY` if set (it must be executable: a wrong path is an
 * error, not a reason to build), otherwise the cached build of hack/oauth-proxy (built first if go.mod/go.sum/the
 * script changed; a no-op run takes well under a second). Rejects with the build script's one-sentence explanation
 * when Go or the module proxy cannot provide it.
 */
export function ensureOAuthProxy(opts: EnsureOAuthProxyOptions = {}): Promise<string> {
  const fromEnv = process.env.OAUTH_PROXY_BINARY;
  if (fromEnv) {
    const resolved = path.resolve(fromEnv);
    return isExecutable(resolved)
      ? Promise.resolve(resolved)
      : Promise.reject(new Error(`OAUTH_PROXY_BINARY=${fromEnv} is not an executable file`));
  }
  pending ??= runBuild(opts).finally(() => {
    pending = undefined;
  });
  return pending;
}

function runBuild(opts: EnsureOAuthProxyOptions): Promise<string> {
  const script = path.join(repoRoot(), 'hack', 'oauth-proxy', 'build.sh');
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let errTail: string[] = [];
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        log(l);
        errTail = [...errTail.slice(-19), l];
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) {
        log(partial);
        errTail.push(partial);
      }
      if (code !== 0) {
        const sentence = [...errTail].reverse().find((l) => l.includes('error:')) ?? errTail.slice(-5).join('\n');
        reject(new Error(`building oauth-proxy failed (exit ${code}): ${sentence.replace(/^\[oauth-proxy:build\] error: /, '')}`));
        return;
      }
      const binary = out.trim().split('\n').pop() ?? '';
      if (!binary || !isExecutable(binary)) reject(new Error(`hack/oauth-proxy/build.sh reported ${JSON.stringify(binary)}, which is not an executable`));
      else resolve(binary);
    });
  });
}
