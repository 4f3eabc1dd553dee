/**
 * `npm run bench:node`: create -> Ready of the demo report on the local node (root, Linux), median of N runs (default
 * 5, BENCH_RUNS), split by phase: apply (report created -> its pod exists), scheduling, container start, gather,
 * archive, serving ready. The alternative measured in the same run: a bare Pod that runs the same demo gather image
 * to completion (no operator, no volume claim, no archive, no server), so the ratio is what the operator's whole job
 * costs over the gather alone. Also prints the cluster's start-up time (binaries cached).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_GROUP, API_VERSION, KIND } from '../constructs/report-api.js';
import { DEFAULT_IMAGES } from '../constructs/operator-config.js';
import { repoRoot } from '../controlplane/binaries.js';
import { startControlPlane } from '../controlplane/controlplane.js';
import { nodeSupport } from '../controlplane/host.js';
import { DEMO_GATHER_IMAGE, demoGatherImage, loadImage, projectImage } from '../controlplane/images.js';
import { followReport, PHASES, type PhaseTimes } from '../controlplane/report-phases.js';
import { KubeClient, type KubeObject } from '../kube/client.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const why = nodeSupport();
if (why) {
  console.error(`bench:node needs a local node, and ${why}.`);
  process.exit(1);
}

const t0 = Date.now();
const cp = await startControlPlane({ node: true, log: () => undefined });
const startup = Date.now() - t0;
const operator = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'bin', 'mustgather.ts'), 'run', '--kubeconfig', cp.kubeconfigPath, '--listen', '127.0.0.1:0'], {
  cwd: repoRoot(),
  stdio: 'ignore',
});
try {
  const target = { ctr: cp.node!.binaries.ctr, address: cp.node!.containerdAddress };
  for (const image of [await projectImage(DEFAULT_IMAGES.operator), await demoGatherImage()]) await loadImage(target, image.name, image.archive);
  const client = new KubeClient(cp.kubeConfig());
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
  // The bare pods gather with the same rights as a report's gather: cluster-admin.
  await client.create({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'bench-gather' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'bench' }],
  } as KubeObject);

  const reports: PhaseTimes[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const created = Date.now();
    await client.create({
      apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name: `demo-${i}`, namespace: 'bench' },
      spec: { images: [DEMO_GATHER_IMAGE], deleteAfter: '30m', storage: { size: '1Gi' } },
    } as unknown as KubeObject);
    reports.push((await followReport(client, { namespace: 'bench', name: `demo-${i}` }, created)).times);

    // The alternative: the same gather in a bare pod.
    const podCreated = Date.now();
    await client.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: `bare-${i}`, namespace: 'bench' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'gather', image: DEMO_GATHER_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['/usr/bin/gather'], volumeMounts: [{ name: 'out', mountPath: '/must-gather' }] }],
        volumes: [{ name: 'out', emptyDir: {} }],
      },
    } as KubeObject);
    for (;;) {
      const pod = await client.get<{ status?: { phase?: string } }>({ kind: 'Pod', namespace: 'bench', name: `bare-${i}` });
      if (pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed') break;
      await sleep(100);
    }
    bare.push(Date.now() - podCreated);
  }

  console.log(`cluster with a node: up in ${startup} ms (binaries cached), ${RUNS} runs, medians:`);
  let previous = 0;
  const labels: Record<(typeof PHASES)[number], string> = {
    applied: 'apply (report -> pod)', scheduled: 'scheduling', started: 'container start', gathered: 'gather', archived: 'archive', serving: 'serving ready',
  };
  for (const phase of PHASES) {
    const at = median(reports.map((r) => r[phase]));
    console.log(`  ${labels[phase].padEnd(22)} ${String(at - previous).padStart(6)} ms   (at ${at} ms)`);
    previous = at;
  }
  const ready = median(reports.map((r) => r.serving));
  console.log(`  create -> Ready        ${String(ready).padStart(6)} ms`);
  console.log(`  bare pod, same gather  ${String(median(bare)).padStart(6)} ms   ratio report/bare pod: ${(ready / median(bare)).toFixed(2)}x`);
  client.close();
} finally {
  operator.kill('SIGTERM');
  await cp.stop();
}
