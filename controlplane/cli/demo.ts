/**
 * `npm start`: the main job, for real, on this machine. Starts the local cluster with a node and the operator (the
 * real `mustgather run`, as its own process), creates the local example report (examples/local-report.yaml, the
 * demo must-gather image), shows each phase as it happens, downloads the archive to ./must-gather.tar.gz with
 * `mustgather download` (port-forward, the kubeconfig's own credentials, sha256 checked), prints a summary and stops
 * everything. `mustgather synth` stays the offline path.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { MustGatherReport } from '../../constructs/report-api.js';
import { DEFAULT_IMAGES } from '../../constructs/operator-config.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { repoRoot } from '../binaries.js';
import { startControlPlane } from '../controlplane.js';
import { nodeSupport } from '../host.js';
import { demoGatherImage, loadImage, projectImage } from '../images.js';
import { followReport } from '../report-phases.js';
import { formatBytes } from '../../constructs/quantity.js';

const EXAMPLE = 'examples/local-report.yaml';
const OUTPUT = 'must-gather.tar.gz';

function say(line: string): void {
  process.stdout.write(line + '\n');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const why = nodeSupport();
  if (why) {
    console.error(`npm start runs a real must-gather on a local node, and ${why}: run it as root on Linux, or use \`npm run mustgather -- synth -f examples/report.yaml\` to see a report's manifests offline.`);
    return 1;
  }
  const t0 = Date.now();
  const root = repoRoot();
  const quiet = (line: string) => {
    if (/build|install|error|Ready at/i.test(line)) say(`  ${line.replace(/^\[[^\]]+\] /, '')}`);
  };
  say('Starting a local cluster with a node (the first run builds Kubernetes and containerd from Go modules) ...');
  const cp = await startControlPlane({ node: true, log: quiet });
  const cleanUp: (() => Promise<void>)[] = [() => cp.stop()];
  try {
    const target = { ctr: cp.node!.binaries.ctr, address: cp.node!.containerdAddress };
    say('Building and loading the images (operator, demo must-gather) ...');
    for (const image of [await projectImage(DEFAULT_IMAGES.operator), await demoGatherImage()]) await loadImage(target, image.name, image.archive);
    say(`Cluster ready in ${seconds(Date.now() - t0)}; starting the operator (mustgather run).`);

    const operator = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin', 'mustgather.ts'), 'run', '--kubeconfig', cp.kubeconfigPath, '--listen', '127.0.0.1:0'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let operatorLog = '';
    operator.stderr!.setEncoding('utf8').on('data', (d: string) => (operatorLog = (operatorLog + d).slice(-20_000)));
    cleanUp.unshift(async () => {
      operator.kill('SIGTERM');
      await new Promise((r) => (operator.exitCode !== null ? r(undefined) : operator.once('exit', r)));
    });

    const client = new KubeClient(cp.kubeConfig());
    const manifest = YAML.parse(readFileSync(path.join(root, EXAMPLE), 'utf8')) as MustGatherReport;
    const ref = { namespace: manifest.metadata.namespace ?? 'default', name: manifest.metadata.name };
    const created = Date.now();
    await client.create(manifest as unknown as KubeObject);
    say(`Created MustGatherReport ${ref.namespace}/${ref.name} (${EXAMPLE}); following it:`);
    const { report, times } = await followReport(client, ref, created, {
      onPhase: (phase, ms) => say(`  ${seconds(ms).padStart(7)}  ${phase}`),
      onReason: (reason, message) => say(`           ${reason}: ${message}`),
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nlast operator log lines:\n${operatorLog.split('\n').slice(-10).join('\n')}`);
    });
    client.close();

    say(`Downloading to ./${OUTPUT} (mustgather download: port-forward, your kubeconfig's credentials, sha256 check) ...`);
    const download = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin', 'mustgather.ts'), 'download', ref.name, '-n', ref.namespace, '-o', OUTPUT], {
      cwd: process.cwd(),
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
    });
    const code = await new Promise<number>((r) => download.once('exit', (c) => r(c ?? 1)));
    if (code !== 0) throw new Error(`mustgather download exited with ${code}`);

    const status = report.status!;
    say('');
    say(`must-gather.tar.gz: ${formatBytes(statSync(OUTPUT).size)}, sha256 ${status.archive?.sha256} (verified)`);
    for (const g of status.gathers ?? []) say(`  ${g.image}: ${g.state}${g.exitCode !== undefined ? ` (exit ${g.exitCode})` : ''}`);
    say(`create -> Ready ${seconds(times.serving)}; whole run ${seconds(Date.now() - t0)}`);
    return 0;
  } finally {
    say('Stopping the operator and the cluster ...');
    for (const step of cleanUp) await step().catch((err: Error) => console.error(`clean-up: ${err.message}`));
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`npm start: ${(err as Error).message}`);
  process.exitCode = 1;
}
