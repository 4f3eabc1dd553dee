/**
 * Locates the oauth-proxy binary for the integration tests: OAUTH_PROXY_BINARY when set, otherwise the cache filled by
 * hack/oauth-proxy/build.sh (built from the Go module proxy on first use, reused afterwards).
 */
import path from 'node:path';
import { isExecutable, repoRoot } from './binaries.js';
import { runBuildScript } from './build-script.js';

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

async function runBuild(opts: EnsureOAuthProxyOptions): Promise<string> {
  const script = path.join(repoRoot(), 'hack', 'oauth-proxy', 'build.sh');
  const binary = await runBuildScript(script, 'oauth-proxy', opts.log ?? ((line: string) => process.stderr.write(line + '\n')));
  if (!binary || !isExecutable(binary)) throw new Error(`hack/oauth-proxy/build.sh reported ${JSON.stringify(binary)}, which is not an executable`);
  return binary;
}
