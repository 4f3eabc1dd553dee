/**
 * The report's gather options end to end on a real node, with the operator as its own process: a custom command in
 * the demo image, nodeName (a node that is there, and one that is not), allImages from a ClusterOperator and a
 * ClusterServiceVersion carrying the must-gather-image annotation (and OLM's copy of it elsewhere, which must not
 * run), the default image from the cluster's image stream, the registry allow-list, the summary file in the archive
 * that `mustgather download` fetches, and `mustgather gather` (oc adm must-gather on the operator) with the demo image.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport, type MustGatherReportSpec } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { Informer } from '../../kube/informer.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { COPIED_CSV_LABEL, MUST_GATHER_IMAGE_ANNOTATION } from '../../reconciler/image-resolution.js';
import { EXISTING, NODE_UNAVAILABLE, nodeSuite, startNodeCluster, type NodeCluster } from './cluster.js';
import { eventually, mustgather, type OperatorProcess, readyOf, startOperator, tarEntries } from './helpers.js';

const NEVER_LOADED = 'localhost/mustgather/never-loaded:v1';

/** What the redacting report's gather writes, and must not be in its archive, status or events. */
const PLANTED = {
  secretYaml: 'aHVudGVyMg==', stringData: 'plain-text-password', secretJson: 'dG9rZW4tdmFsdWU=', kubeconfigToken: 'sha256~e2eTokenValue',
  privateKey: 'MIIEe2eKeyBody', ipv4: '10.77.0.1', ipv4Gzip: '10.77.0.2', ipv6: 'fd00:77::5', mac: '52:54:00:77:00:01',
} as const;

/**
 * A gather (bash, no other tool) that writes Secrets in YAML and JSON, a kubeconfig, a private key, addresses in a
 * log and in a gzip file, then fails saying an address: a must-gather's worth of what redaction must catch. The
 * script holds every byte it writes as printf escapes: the gather wrapper logs its command into gather.log, and the
 * values must reach the archive only through the files the gather writes.
 */
function redactingGather(): string[] {
  const p = PLANTED;
  const hidden = (text: string) => [...Buffer.from(text, 'latin1')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  const write = (path: string, lines: string[]) => `printf '%b\\n' ${lines.map((line) => `'${hidden(line)}'`).join(' ')} > $o/${path}`;
  const script = [
    'set -e', 'o=/must-gather', 'mkdir -p $o/namespaces/app/core $o/host',
    write('namespaces/app/core/secrets.yaml', [
      'apiVersion: v1', 'items:', '- apiVersion: v1', '  data:', `    password: ${p.secretYaml}`, '  kind: Secret', '  metadata:', '    name: db',
      '  stringData:', `    admin: ${p.stringData}`, '- apiVersion: v1', '  data:', `    server: ${p.ipv4}`, '  kind: ConfigMap', '  metadata:',
      '    name: settings', 'kind: List',
    ]),
    write('namespaces/app/core/sa-token.json', ['{', '    "apiVersion": "v1",', `    "data": {"token": "${p.secretJson}"},`, '    "kind": "Secret",', '    "metadata": {"name": "sa-token"}', '}']),
    write('host/kubeconfig', ['users:', '- name: admin', '  user:', `    token: ${p.kubeconfigToken}`]),
    write('host/tls.key', ['-----BEGIN RSA PRIVATE KEY-----', p.privateKey, '-----END RSA PRIVATE KEY-----']),
    write('host/ip-addr.log', [1, 2, 3].map((i) => `eth0 ${p.ipv4}/24 ${p.ipv6} link/ether ${p.mac} try ${i}`)),
    `printf '${hidden(gzipSync(`kubelet: dial ${p.ipv4Gzip}:10250 ok\n`).toString('latin1'))}' > $o/host/journal.gz`,
    `printf '%b\\n' '${hidden(`cannot reach ${p.ipv4}: giving up`)}'`, 'exit 3',
  ].join('\n');
  return ['/bin/bash', '-c', script];
}

describe.runIf(!NODE_UNAVAILABLE)(nodeSuite('gather options on a real node'), () => {
  let cluster: NodeCluster;
  let admin: KubeClient;
  let operator: OperatorProcess | undefined;
  let namespace: string;
  let nodeName: string;
  let informer: Informer<MustGatherReport & KubeObject>;
  const lastSeen = new Map<string, MustGatherReport>();
  const reasons = new Map<string, Map<string, string>>();
  const work = mkdtempSync(path.join(os.tmpdir(), 'mustgather-options-'));
  const suffix = Date.now().toString(36);
  /** Cluster-scoped and other-namespace objects this suite made (an existing cluster keeps nothing). */
  const made: { kind: string; namespace?: string; name: string }[] = [];

  const kubeEnv = () => ({ KUBECONFIG: cluster.kubeconfig });
  const create = (name: string, spec: MustGatherReportSpec) =>
    admin.create({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec } as unknown as KubeObject);
  const describeReport = (name: string) => `${name}: ${JSON.stringify(readyOf(lastSeen.get(name)))}, images ${JSON.stringify(lastSeen.get(name)?.status?.images)}, gathers ${JSON.stringify(lastSeen.get(name)?.status?.gathers)}; operator log:\n${operator?.log().slice(-2000)}`;
  const waitReason = (name: string, reason: string, timeoutMs = 180_000) =>
    eventually(() => `report ${describeReport(name)} to be ${reason}`, timeoutMs, async () => reasons.get(name)?.has(reason) && lastSeen.get(name));
  const makeObject = async (object: Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string; [field: string]: unknown } }) => {
    await admin.create(object as unknown as KubeObject);
    made.push({ kind: object.kind, name: object.metadata.name, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}) });
  };
  const makeNamespace = (name: string) => makeObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

  beforeAll(async () => {
    cluster = await startNodeCluster();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    admin = new KubeClient(kc);
    namespace = `options-${suffix}`;
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    nodeName = (await admin.list(RESOURCES.Node)).items[0]!.metadata.name;

    // allImages: a ClusterOperator and an operator's own CSV name test images; OLM's copy elsewhere names one never loaded.
    const { images } = cluster;
    await makeObject({ apiVersion: 'config.openshift.io/v1', kind: 'ClusterOperator', metadata: { name: `e2e-storage-${suffix}`, annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: images.ok } }, spec: {} });
    const operatorNamespace = `e2e-operator-${suffix}`;
    const watched = `e2e-watched-${suffix}`;
    await makeNamespace(operatorNamespace);
    await makeNamespace(watched);
    const csv = (ns: string, image: string, labels?: Record<string, string>) => ({
      apiVersion: 'operators.coreos.com/v1alpha1', kind: 'ClusterServiceVersion',
      metadata: { namespace: ns, name: `e2e-operator.v1.0.${suffix}`, annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: image }, ...(labels ? { labels } : {}) },
      spec: { displayName: 'e2e operator' },
    });
    await makeObject(csv(operatorNamespace, images.fail));
    await makeObject(csv(watched, NEVER_LOADED, { [COPIED_CSV_LABEL]: operatorNamespace }));
    if (cluster.local) {
      // The cluster's default must-gather image, as OpenShift publishes it: openshift/must-gather:latest.
      await makeNamespace('openshift');
      await makeObject({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { namespace: 'openshift', name: 'must-gather' }, spec: { tags: [{ name: 'latest' }] } });
      await admin.patch({ kind: 'ImageStream', namespace: 'openshift', name: 'must-gather' }, {
        status: { dockerImageRepository: '', tags: [{ tag: 'latest', items: [{ dockerImageReference: images.ok, image: `sha256:${'0'.repeat(64)}`, created: new Date().toISOString() }] }] },
      }, { subresource: 'status' });
    }

    informer = new Informer(admin, RESOURCES.MustGatherReport, { namespace });
    informer.addHandlers({
      onEvent: (e) => {
        const name = e.object.metadata.name;
        if (e.type !== 'delete') lastSeen.set(name, e.object);
        const { reason, message } = readyOf(e.object);
        if (reason) reasons.set(name, (reasons.get(name) ?? new Map()).set(reason, message ?? ''));
      },
    });
    informer.start();
    await informer.waitForSync();
    operator = startOperator(cluster, [
      '--start-timeout', '40s', '-v', '--default-gather-image', images.demo,
      // The local test images all come from localhost/mustgather; an existing cluster's may come from anywhere.
      ...(cluster.local ? ['--allowed-registries', 'localhost/mustgather'] : []),
    ]);

    await Promise.all([
      create('custom-command', {
        images: [images.demo], since: '1h',
        // Like `oc adm must-gather -- /usr/bin/gather_audit_logs`: one script of the image instead of its whole gather.
        command: ['/bin/bash', '-c', 'mkdir -p /must-gather/custom && printf "%s\\n" "$MUST_GATHER_SINCE" "$NODE_NAME" "$*" > /must-gather/custom/env && kubectl get nodes -o name > /must-gather/custom/nodes', 'gather', 'one', 'two words'],
      }),
      create('on-node', { images: [images.ok], nodeName }),
      create('no-such-node', { images: [images.ok], nodeName: 'no-such-node.example' }),
      create('all-images', { allImages: true }),
      create('redacted', { images: [images.ok], command: redactingGather(), redact: { secrets: true, ipAddresses: true, macAddresses: true } }),
      ...(cluster.local ? [create('default-from-stream', {}), create('not-allowed', { images: ['quay.io/elsewhere/must-gather:v1'] })] : []),
    ]);
  });

  afterAll(async () => {
    if (cluster && !cluster.local && admin) {
      for (const r of informer.list()) await admin.delete({ kind: KIND, namespace, name: r.metadata.name }).catch(() => undefined);
      await eventually('the test reports to go', 120_000, async () => informer.list().length === 0).catch(() => undefined);
      for (const object of made.reverse()) await admin.delete(object).catch(() => undefined);
      await admin.delete({ kind: 'Namespace', name: namespace }).catch(() => undefined);
    }
    operator?.process.kill('SIGTERM');
    await informer?.stop();
    admin?.close();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Downloads a Ready report's archive with `mustgather download` and unpacks it; returns the unpacked directory. */
  async function downloaded(name: string): Promise<{ dir: string; entries: string[] }> {
    const out = path.join(work, `${name}.tar.gz`);
    const result = await mustgather(['download', name, '-n', namespace, '-o', out, '--timeout', '2m'], kubeEnv());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const dir = path.join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', out, '-C', dir]);
    return { dir, entries: await tarEntries(out) };
  }

  it('runs a custom command in the demo image, instead of its gather, with its arguments, MUST_GATHER_SINCE and the gather token', async () => {
    const ready = await waitReason('custom-command', 'ArchiveReady');
    expect(ready.status?.gathers?.map((g) => g.state)).toEqual(['Succeeded']);
    const { dir, entries } = await downloaded('custom-command');
    const gatherDir = readdirSync(path.join(dir, 'must-gather')).find((d) => d.startsWith('01-'))!;
    expect(readFileSync(path.join(dir, 'must-gather', gatherDir, 'custom', 'env'), 'utf8')).toBe(`1h\n${nodeName}\none two words\n`);
    // The image's kubectl, with the gather's cluster-admin token, reached the API server.
    expect(readFileSync(path.join(dir, 'must-gather', gatherDir, 'custom', 'nodes'), 'utf8')).toBe(`node/${nodeName}\n`);
    // Instead of /usr/bin/gather, not beside it: the demo image's own gather (its version file) did not run.
    expect(entries.some((e) => e.endsWith(`${gatherDir}/version`))).toBe(false);
    expect(entries.some((e) => e.endsWith(`${gatherDir}/gather.log`))).toBe(true);
  });

  it('redacts Secrets, keys, credentials and addresses before the archive leaves the pod, consistently, and says what it did', async () => {
    const ready = await waitReason('redacted', 'ArchiveReady');
    const published = JSON.stringify(ready.status);
    // The gather failed saying an address: status carries its message as the archive step redacted it.
    const [gather] = ready.status!.gathers!;
    expect(gather).toMatchObject({ state: 'Failed', exitCode: 3, message: expect.stringMatching(/cannot reach x-ipv4-[0-9a-f]{8}-x: giving up/) });
    const ipToken = /x-ipv4-[0-9a-f]{8}-x/.exec(gather!.message!)![0];

    const { dir, entries } = await downloaded('redacted');
    const root = path.join(dir, 'must-gather');
    const gatherDir = readdirSync(root).find((d) => d.startsWith('01-'))!;
    const read = (...parts: string[]) => readFileSync(path.join(root, gatherDir, ...parts), 'utf8');
    // Every file (the gzip one unpacked) holds none of the planted values.
    const texts = entries.filter((e) => !e.endsWith('/')).map((e) => {
      const bytes = readFileSync(path.join(dir, e));
      return e.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    });
    for (const value of Object.values(PLANTED)) {
      expect(texts.filter((t) => t.includes(value)), value).toEqual([]);
      expect(published).not.toContain(value);
    }
    // Keys and structure stay; the same address is the same token in the YAML, the log and the gather's message.
    expect(read('namespaces', 'app', 'core', 'secrets.yaml')).toMatch(/\n {4}password: x-secret-[0-9a-f]{8}-x\n {2}kind: Secret\n/);
    expect(read('namespaces', 'app', 'core', 'secrets.yaml')).toContain(`    server: ${ipToken}\n`);
    expect(JSON.parse(read('namespaces', 'app', 'core', 'sa-token.json')).data.token).toMatch(/^x-secret-[0-9a-f]{8}-x$/);
    const log = read('host', 'ip-addr.log').split('\n').filter(Boolean);
    expect(new Set(log.map((line) => line.replace(/ try \d$/, '')))).toEqual(new Set([expect.stringMatching(new RegExp(`^eth0 ${ipToken}/24 x-ipv6-[0-9a-f]{8}-x link/ether x-mac-[0-9a-f]{8}-x$`))]));
    expect(gunzipSync(readFileSync(path.join(root, gatherDir, 'host', 'journal.gz'))).toString()).toMatch(/^kubelet: dial x-ipv4-[0-9a-f]{8}-x:10250 ok\n$/);
    expect(read('host', 'tls.key')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\nx-secret-[0-9a-f]{8}-x\n-----END RSA PRIVATE KEY-----\n$/);

    // What was redacted, counted the same in the archive's record and in status; never the values.
    const record = JSON.parse(readFileSync(path.join(root, 'redaction.json'), 'utf8'));
    expect(record.replaced).toEqual({ secrets: ready.status!.redaction!.secrets, ipAddresses: ready.status!.redaction!.ipAddresses, macAddresses: ready.status!.redaction!.macAddresses });
    // 2 Secret values in YAML, 1 in JSON, the token, the key; the addresses in the ConfigMap, log (3 lines, 2 each),
    // gzip, and the failure (in the gather's output, its result and the summary).
    expect(ready.status!.redaction).toMatchObject({ secrets: 5, macAddresses: 3, filesOmitted: 0 });
    expect(ready.status!.redaction!.ipAddresses).toBeGreaterThanOrEqual(8);
    const events = await admin.list<{ involvedObject: { name: string }; message: string }>(RESOURCES.Event, { namespace });
    const mine = events.items.filter((e) => e.involvedObject.name === 'redacted');
    expect(mine.map((e) => e.message).join('\n')).toContain('Image');
    for (const value of Object.values(PLANTED)) expect(mine.filter((e) => e.message.includes(value)), value).toEqual([]);
  });

  it('runs the report pod on the node named by nodeName', async () => {
    const ready = await waitReason('on-node', 'ArchiveReady');
    const names = reportObjectNames(ready.metadata);
    const pod = await admin.get<{ spec: { nodeName?: string } }>({ kind: 'Pod', namespace: names.namespace, name: names.main });
    expect(pod?.spec.nodeName).toBe(nodeName);
  });

  it('a nodeName no node has leaves the report Unschedulable, saying why, until it gives up', async () => {
    const unschedulable = await waitReason('no-such-node', 'Unschedulable', 120_000);
    expect(reasons.get('no-such-node')!.get('Unschedulable')).toMatch(/cannot be scheduled: .*(affinity|selector)/i);
    expect(unschedulable.status?.gathers?.map((g) => g.state)).toEqual(['Pending']);
    await waitReason('no-such-node', 'StartTimedOut', 120_000);
  });

  it('allImages: the default image first, then the ClusterOperator\'s and the operator CSV\'s images, never the copy\'s; the summary leads the archive', async () => {
    const ready = await waitReason('all-images', 'ArchiveReady', 240_000);
    const { images } = cluster;
    // The default first (the local cluster's openshift/must-gather:latest names the ok image, as the ClusterOperator
    // does: it runs once), then the annotated images sorted by reference; the copied CSV's image is nowhere.
    const defaultImage = cluster.local ? images.ok : images.demo;
    expect(ready.status?.images).toEqual([...new Set([defaultImage, ...[images.fail, images.ok].sort()])]);
    expect(ready.status?.gathers?.map((g) => [g.image, g.state])).toEqual(ready.status!.images!.map((image) => [image, image === images.fail ? 'Failed' : 'Succeeded']));
    expect(JSON.stringify(ready.status)).not.toContain(NEVER_LOADED);

    const kubeSystem = await admin.get({ kind: 'Namespace', name: 'kube-system' });
    const version = await admin.request<{ gitVersion: string }>('GET', '/version');
    expect(ready.status?.cluster).toMatchObject({ id: kubeSystem!.metadata.uid, version: version.gitVersion, nodes: { total: 1, notReady: [] } });

    const { dir, entries } = await downloaded('all-images');
    expect(entries.slice(0, 2)).toEqual(['must-gather/', 'must-gather/summary']);
    const summary = readFileSync(path.join(dir, 'must-gather', 'summary'), 'utf8');
    expect(summary).toContain(`Report: ${namespace}/all-images`);
    expect(summary).toContain(`ClusterID: ${kubeSystem!.metadata.uid}`);
    expect(summary).toContain(`Kubernetes: ${version.gitVersion}`);
    expect(summary).toContain('Nodes (1):\n  All Ready\n');
    expect(summary).toMatch(/ClusterOperators \(\d+\):/);
    expect(summary).toContain(`1. ${defaultImage}\n     Succeeded,`);
    expect(summary).toMatch(new RegExp(`\\d\\. ${images.fail.replace(/[.]/g, '\\.')}\\n {5}Failed \\(exit code 3\\)`));
    expect(summary).not.toContain(NEVER_LOADED);
  });

  it.runIf(!EXISTING)('takes the default image from openshift/must-gather:latest where the cluster has it', async () => {
    const ready = await waitReason('default-from-stream', 'ArchiveReady');
    expect(ready.status?.images).toEqual([cluster.images.ok]);
  });

  it.runIf(!EXISTING)('refuses an image outside --allowed-registries before anything runs, naming it', async () => {
    const refused = await waitReason('not-allowed', 'ImageNotAllowed', 60_000);
    expect(readyOf(refused).message).toContain('quay.io/elsewhere/must-gather:v1 is not from an allowed registry');
    expect(refused.status?.images).toBeUndefined();
    expect(await admin.get({ kind: 'Namespace', name: reportObjectNames(refused.metadata).namespace })).toBeUndefined();
  });

  it('mustgather gather: creates the report, shows its progress, downloads and unpacks the demo image\'s data, then deletes the report', async () => {
    const dest = path.join(work, 'gather-dest');
    const result = await mustgather(['gather', '--image', cluster.images.demo, '-n', namespace, '--name', 'cli-gather', '--dest-dir', dest, '--since', '2h'], kubeEnv());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toContain(`image 1/1 ${cluster.images.demo}: Succeeded`);
    expect(result.stderr).toMatch(/cli-gather: Ready/);
    expect(existsSync(path.join(dest, 'must-gather.tar.gz'))).toBe(true);
    const summary = readFileSync(path.join(dest, 'must-gather', 'summary'), 'utf8');
    expect(summary).toContain(`Report: ${namespace}/cli-gather`);
    const gatherDir = readdirSync(path.join(dest, 'must-gather')).find((d) => d.startsWith('01-'))!;
    expect(readFileSync(path.join(dest, 'must-gather', gatherDir, 'version'), 'utf8')).toContain('demo-must-gather');
    await eventually('the gather report to be deleted', 60_000, async () => (await admin.get({ kind: KIND, namespace, name: 'cli-gather' })) === undefined);
  }, 600_000); // the demo image's whole gather: every namespace of a cluster holding this suite's reports
});
