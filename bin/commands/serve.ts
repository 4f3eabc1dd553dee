import { once } from 'node:events';
import { parseDuration } from '../../constructs/duration.js';
import { createFileServer } from '../../datapath/serve.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather serve --dir DIR [--address ADDR] [--port N] [--report NAMESPACE/NAME] [--shutdown-timeout D]

In the report pod, behind oauth-proxy: serves DIR/must-gather.tar.gz and its .sha256 read-only over HTTP (GET and
HEAD, byte ranges, ETag/Last-Modified), an index page at / and /healthz (200 once the archive exists).
  --dir DIR                  directory holding the archive
  --address ADDR             listen address (default 127.0.0.1)
  --port N                   listen port (default 8080; 0 picks a free one)
  --report NAMESPACE/NAME    the report, shown on the index page and in the download's file name
  --shutdown-timeout D       on SIGTERM/SIGINT, how long running downloads may finish (default 25s)`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    dir: { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    report: { type: 'string' },
    'shutdown-timeout': { type: 'string', default: '25s' },
  }, HELP);
  if (!parsed) return 0;
  const { dir, address, port, report } = parsed.values;
  if (!dir) throw new UsageError('--dir is required');
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`--port must be 0-65535, not "${port}"`);
  const deadline = parseDuration(parsed.values['shutdown-timeout']);
  if (deadline === undefined) throw new UsageError(`--shutdown-timeout must be a duration such as 25s, not "${parsed.values['shutdown-timeout']}"`);

  const { server, shutdown } = createFileServer({ dir, report, log: (line) => console.log(line) });
  server.listen(Number(port), address);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(new Error(`listen on ${address}:${port}: ${(err as Error).message}`, { cause: err })))]);
  const bound = server.address();
  console.log(`serving ${dir} on http://${typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : `${address}:${port}`}/`);

  const [signal] = await Promise.race([once(process, 'SIGTERM').then(() => ['SIGTERM']), once(process, 'SIGINT').then(() => ['SIGINT'])]);
  console.log(`${signal}: finishing running downloads (up to ${parsed.values['shutdown-timeout']})`);
  await shutdown(deadline);
  console.log('stopped');
  return 0;
}
