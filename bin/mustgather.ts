#!/usr/bin/env node
/**
 * `mustgather`: one binary for the operator, the steps inside the report pod and the tools people use.
 * Each subcommand lives in `bin/commands/<name>.ts` and exports `run(args): Promise<number>` (the exit code);
 * they are imported lazily so `mustgather serve` does not load the Kubernetes client or cdk8s.
 */
import { UsageError } from './usage.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  synth: { summary: 'print the manifests a MustGatherReport would create', load: () => import('./commands/synth.js') },
  install: { summary: 'print the operator install manifests (CRD, RBAC, Deployment)', load: () => import('./commands/install.js') },
  run: { summary: 'run the operator', load: () => import('./commands/run.js') },
  controlplane: { summary: 'start/stop a local kube-apiserver + etcd for development', load: () => import('./commands/controlplane.js') },
  archive: { summary: '(in the report pod) compress the gathered data into must-gather.tar.gz', load: () => import('./commands/archive.js') },
  serve: { summary: '(in the report pod) serve the archive behind oauth-proxy', load: () => import('./commands/serve.js') },
  download: { summary: 'wait for a report and download its archive', load: () => import('./commands/download.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['Usage: mustgather <command> [options]', '', 'Commands:', ...lines, '', 'Run `mustgather <command> --help` for a command\'s options.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`mustgather: unknown command "${name}"\n\n${usage()}`);
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

process.exitCode = await main(process.argv.slice(2));
