/**
 * How a Ready report's reconcile avoids writes, measured against the alternatives on a real kube-apiserver (the
 * embedded control plane), for the apply phase of an unchanged report: our subset check of desired against live
 * (GETs only), a server-side dry-run apply of every object followed by a comparison, and a plain server-side apply
 * of every object each time. A whole reconcile (report, pod, route, claim reads, prune lists) is printed for scale.
 * Prints time per reconcile-equivalent pass and requests by verb; ratios are ours / alternative.
 */
import { startControlPlane } from '../controlplane/index.js';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport } from '../constructs/report-api.js';
import { reportObjectNames } from '../constructs/report-identity.js';
import { renderReport } from '../constructs/render.js';
import { applyStage } from '../reconciler/apply.js';
import { KubeClient, type KubeObject } from '../kube/client.js';
import { FIELD_MANAGER, Reconciler, reportKey } from '../reconciler/reconcile.js';
import { refOf } from '../kube/resources.js';
import { podStatus } from '../test/kubelet-states.js';

const PASSES = 40;

const cp = await startControlPlane({ log: () => undefined });
try {
  const client = new KubeClient(cp.kubeConfig());
  const counts = new Map<string, number>();
  client.observe((method) => counts.set(method, (counts.get(method) ?? 0) + 1));
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
  const created = await client.create({
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name: 'r', namespace: 'bench' }, spec: { images: ['quay.io/a/must-gather:v1'] },
  } as unknown as KubeObject) as unknown as MustGatherReport;
  const names = reportObjectNames(created.metadata);
  const reconciler = new Reconciler({ client, pollAfterMs: 100 });
  const key = reportKey(created);
  for (let i = 0; i < 100 && !(await client.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' })); i++) {
    await reconciler.reconcile(key);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await client.patch({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }, { status: podStatus(['quay.io/a/must-gather:v1'], { ended: ['Succeeded'], archive: 'done', serving: true }) }, { subresource: 'status' });
  await client.patch({ kind: 'Route', namespace: names.namespace, name: 'must-gather' }, { status: { ingress: [{ host: 'b.example.com', conditions: [{ type: 'Admitted', status: 'True' }] }] } }, { subresource: 'status' });
  for (let i = 0; i < 3; i++) await reconciler.reconcile(key);

  const report = (await client.get({ kind: KIND, namespace: 'bench', name: 'r' })) as unknown as MustGatherReport;
  const cookie = await client.get({ kind: 'Secret', namespace: names.namespace, name: names.proxyCookieSecret }) as { data: Record<string, string> };
  const desired = (renderReport(report, { cookieSecret: Buffer.from(cookie.data.session_secret!, 'base64').toString(), gathering: false }) as unknown as KubeObject[])
    .filter((o) => o.kind !== 'Pod');

  const strategies: Record<string, () => Promise<void>> = {
    'GET + subset check (ours)': async () => void (await applyStage(client, desired, { fieldManager: FIELD_MANAGER })),
    'dry-run apply + compare': async () => {
      await Promise.all(desired.map(async (object) => {
        const [live, dry] = await Promise.all([client.get(refOf(object)), client.apply(object, { fieldManager: FIELD_MANAGER, dryRun: true })]);
        if (JSON.stringify(live) !== JSON.stringify(dry)) await client.apply(object, { fieldManager: FIELD_MANAGER });
      }));
    },
    'apply everything': async () => void (await Promise.all(desired.map((object) => client.apply(object, { fieldManager: FIELD_MANAGER })))),
    'whole reconcile (info)': async () => void (await reconciler.reconcile(key)),
  };
  const results: { name: string; msPerPass: number; requests: Record<string, number> }[] = [];
  for (const [name, pass] of Object.entries(strategies)) {
    await pass();
    counts.clear();
    const started = performance.now();
    for (let i = 0; i < PASSES; i++) await pass();
    const msPerPass = (performance.now() - started) / PASSES;
    results.push({ name, msPerPass, requests: Object.fromEntries([...counts].map(([verb, n]) => [verb, +(n / PASSES).toFixed(1)])) });
  }
  console.log(`\nreconcile of a Ready report (${desired.length} applied objects), ${PASSES} passes each, real kube-apiserver ${cp.version}`);
  for (const r of results) console.log(`  ${r.name.padEnd(32)} ${r.msPerPass.toFixed(1).padStart(7)} ms/pass   requests/pass ${JSON.stringify(r.requests)}`);
  const ours = results[0]!;
  for (const other of results.slice(1, 3)) console.log(`  time, ours / ${other.name}: ${(ours.msPerPass / other.msPerPass).toFixed(2)}x`);
  const writes = (r: typeof ours) => Object.entries(r.requests).filter(([verb]) => verb !== 'GET').reduce((sum, [, n]) => sum + n, 0);
  console.log(`  write requests per pass: ${results.map((r) => `${r.name} ${writes(r)}`).join(', ')} (dry-run PATCHes store nothing but are PATCH requests)`);
  // Its own watch caches would keep the process alive.
  await reconciler.stop();
} finally {
  await cp.stop();
}
