/**
 * `mustgather`'s command table and dispatcher: one binary for the operator, the steps inside the report pod and the
 * tools people use. Each subcommand lives in `bin/commands/<name>.ts` and exports `run(args): Promise<number>` (the
 * exit code); they are imported lazily so `mustgather serve` does not load the Kubernetes client or cdk8s.
 * A checkout adds development commands (the local cluster) through `extra`: see controlplane/cli/dev-cli.ts.
 */
import { UsageError } from './usage.js';

/** One subcommand: a line for the usage text and its module, loaded on demand. */
export interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(args: string[]): Promise<number> }>;
}

export const COMMANDS: Record<string, Command> = {
  synth: { summary: 'print the manifests a MustGatherReport would create', load: () => import('./commands/synth.js') },
  install: { summary: 'print the operator install manifests (CRD, RBAC, Deployment)', load: () => import('./commands/install.js') },
  run: { summary: 'run the operator', load: () => import('./commands/run.js') },
  archive: { summary: '(in the report pod) compress the gathered data into must-gather.tar.gz', load: () => import('./commands/archive.js') },
  serve: { summary: '(in the report pod) serve the archive over TLS, to permitted callers only', load: () => import('./commands/serve.js') },
  gather: { summary: 'gather like oc adm must-gather: create a report, follow it, download and unpack its archive', load: () => import('./commands/gather.js') },
  download: { summary: 'wait for a report and download its archive', load: () => import('./commands/download.js') },
};

function usage(commands: Record<string, Command>): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['Usage: mustgather <command> [options]', '', 'Commands:', ...lines, '', 'Run `mustgather <command> --help` for a command\'s options.'].join('\n');
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], extra: Record<string, Command> = {}): Promise<number> {
  const commands = { ...COMMANDS, ...extra };
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command && name === 'controlplane') {
    console.error('mustgather: "controlplane" (the local development cluster) is available in a checkout only: npm run mustgather -- controlplane --help');
    return 2;
  }
  if (!command) {
    console.error(`mustgather: unknown command "${name}"\n\n${usage(commands)}`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mustgather ${name}: ${err.message}`);
      return 2;
    }
    console.error(`mustgather ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.MUSTGATHER_DEBUG) console.error(err);
    return 1;
  }
}
