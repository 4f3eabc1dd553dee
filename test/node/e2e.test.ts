/**
 * End to end on a real node: the operator (the real CLI, as a separate process) turns reports into pods that the
 * kubelet runs with containerd and runc; gathers write to a real loop-mounted volume, the archive step compresses
 * it, the file server serves it over TLS to permitted callers only, and `mustgather download` fetches it through a
 * port-forward with the kubeconfig's own credentials. Nothing here writes pod status by hand.
 *
 * The reports are created together at the start (they run side by side on the node, as they would on a cluster);
 * each test then checks one of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport, type MustGatherReportSpec } from '../../constructs/report-api.js';
import { reportObjectNames } from '../../constructs/report-identity.js';
import { ensureBinaries } from '../../controlplane/binaries.js';
import { mintUserFromDir } from '../../controlplane/controlplane.js';
import { createCA, issueClientCert, PKI_FILES } from '../../controlplane/pki.js';
import { expiredServiceAccountToken, serviceAccountToken } from '../integration/file-server.js';
import { nodeDir } from '../../controlplane/node.js';
import { Informer } from '../../kube/informer.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { EXISTING, NODE_UNAVAILABLE, nodeSuite, startNodeCluster, type NodeCluster } from './cluster.js';
import { eventually, mustgather, type OperatorProcess, readyOf, startOperator, tarEntries } from './helpers.js';

describe.runIf(!NODE_UNAVAILABLE)(nodeSuite('reports on a real node'), () => {
  let cluster: NodeCluster;
  let admin: KubeClient;
  let operator: OperatorProcess | undefined;
  let namespace: string;
  let informer: Informer<MustGatherReport & KubeObject>;
  /** Each report's Ready reasons in the order they were seen, with the message each came with. */
  const reasons = new Map<string, string[]>();
  const messages = new Map<string, Map<string, string>>();
  /** The last state seen of each report, kept after it is deleted (expiry can be quicker than a test's look). */
  const lastSeen = new Map<string, MustGatherReport>();
  const work = mkdtempSync(path.join(os.tmpdir(), 'mustgather-e2e-'));

  const report = (name: string) => informer.get(namespace, name) as MustGatherReport | undefined;
  const create = (name: string, spec: MustGatherReportSpec) =>
    admin.create({ apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, spec } as unknown as KubeObject) as unknown as Promise<MustGatherReport>;
  const waitReady = (name: string, timeoutMs = 180_000) =>
    eventually(
      () => `report ${name} to be Ready; it is ${JSON.stringify(readyOf(lastSeen.get(name)))}, gathers ${JSON.stringify(lastSeen.get(name)?.status?.gathers)}; operator log:\n${operator?.log().slice(-1500)}`,
      timeoutMs,
      async () => readyOf(lastSeen.get(name)).status === 'True' && lastSeen.get(name),
    );
  const kubeEnv = () => ({ KUBECONFIG: cluster.kubeconfig });

  beforeAll(async () => {
    cluster = await startNodeCluster();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    admin = new KubeClient(kc);
    namespace = `e2e-${Date.now().toString(36)}`;
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    informer = new Informer(admin, RESOURCES.MustGatherReport, { namespace });
    informer.addHandlers({
      onEvent: (e) => {
        const name = e.object.metadata.name;
        if (e.type !== 'delete') lastSeen.set(name, e.object);
        const { reason, message } = readyOf(e.object);
        const seen = reasons.get(name) ?? [];
        if (reason && seen.at(-1) !== reason) reasons.set(name, [...seen, reason]);
        if (reason) messages.set(name, (messages.get(name) ?? new Map()).set(reason, message ?? ''));
      },
    });
    informer.start();
    await informer.waitForSync();
    operator = startOperator(cluster, ['--start-timeout', '40s', '-v']);

    await Promise.all([
      create('two-images', { images: [cluster.images.demo, cluster.images.fail], deleteAfter: '30m' }),
      create('not-loaded', { images: ['localhost/mustgather/never-loaded:v1'], deleteAfter: '30m' }),
      create('times-out', { images: [cluster.images.sleep], timeout: '15s', deleteAfter: '1m' }),
      create('fills-volume', { images: [cluster.images.fill], storage: { size: '256Mi' }, deleteAfter: '30m' }),
      create('deleted-mid-gather', { images: [cluster.images.sleep], timeout: '10m', deleteAfter: '30m' }),
    ]);
  });

  afterAll(async () => {
    // On an existing cluster, leave nothing behind: the reports go while the operator still runs their finalizers.
    if (cluster && !cluster.local && admin) {
      for (const r of informer.list()) await admin.delete({ kind: KIND, namespace, name: r.metadata.name }).catch(() => undefined);
      await eventually('the test reports to go', 120_000, async () => informer.list().length === 0).catch(() => undefined);
      await admin.delete({ kind: 'Namespace', name: namespace }).catch(() => undefined);
      const bindings = await admin.request<{ items: KubeObject[] }>('GET', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings');
      for (const b of bindings.items.filter((b) => b.metadata.name.startsWith(`${namespace}-`))) await admin.delete({ kind: 'ClusterRoleBinding', name: b.metadata.name });
      await admin.delete({ kind: 'ClusterRole', name: `${namespace}-pods-only` }).catch(() => undefined);
    }
    operator?.process.kill('SIGTERM');
    await informer?.stop();
    admin?.close();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('gathers with two images, compresses and serves; download fetches and verifies the archive', async () => {
    const ready = await waitReady('two-images');
    // Every phase was visible in the report's status, in order.
    expect(reasons.get('two-images')).toEqual(expect.arrayContaining(['Pending', 'Gathering', 'Compressing', 'ArchiveReady']));
    const seen = reasons.get('two-images')!;
    expect(seen.indexOf('Gathering')).toBeLessThan(seen.indexOf('Compressing'));
    expect(seen.indexOf('Compressing')).toBeLessThan(seen.indexOf('ArchiveReady'));
    expect(ready.status?.gathers?.map((g) => [g.image, g.state, g.exitCode])).toEqual([
      [cluster.images.demo, 'Succeeded', 0],
      [cluster.images.fail, 'Failed', 3],
    ]);
    expect(ready.status?.report_url).toMatch(/^https:\/\/[^/]+\.svc\/must-gather\.tar\.gz$/);

    const out = path.join(work, 'two-images.tar.gz');
    const result = await mustgather(['download', 'two-images', '-n', namespace, '-o', out, '--timeout', '1m'], kubeEnv());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const bytes = readFileSync(out);
    expect(bytes.length).toBe(ready.status?.archive?.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(ready.status?.archive?.sha256);

    const entries = await tarEntries(out);
    // The demo image's real cluster state, its version file, and each gather's recorded result.
    expect(entries.some((e) => /\/version$/.test(e))).toBe(true);
    expect(entries.some((e) => /namespaces\//.test(e))).toBe(true);
    expect(entries.filter((e) => e.endsWith('gather-result.json'))).toHaveLength(2);
    expect(entries.filter((e) => e.endsWith('gather.log'))).toHaveLength(2);
  });

  it('removes the cluster-admin binding once gathering is over, while the pod keeps serving', async () => {
    const ready = await waitReady('two-images');
    const names = reportObjectNames(ready.metadata);
    expect(await admin.get({ kind: 'ClusterRoleBinding', name: names.gatherBinding })).toBeUndefined();
    const pod = await admin.get<{ status?: { phase?: string; conditions?: { type: string; status: string }[] } }>({ kind: 'Pod', namespace: names.namespace, name: names.main });
    expect(pod?.status?.phase).toBe('Running');
    expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('an image that was not loaded fails to pull for real, and the report ends after a bounded wait', async () => {
    // Seen on the way: the report may have given up already when this test looks.
    const failed = await eventually('ImagePullFailed', 120_000, async () => messages.get('not-loaded')?.get('ImagePullFailed'));
    expect(failed).toContain('localhost/mustgather/never-loaded:v1');
    // The sealed registry: the kubelet's own error, a refused connection to a closed loopback port.
    expect(failed).toMatch(/127\.0\.0\.1:1|connection refused/);
    const ended = await eventually('a terminal reason', 120_000, async () => (lastSeen.get('not-loaded')?.status?.expiresAt ? lastSeen.get('not-loaded') : undefined));
    expect(readyOf(ended).reason).toBe('StartTimedOut');
    expect(reasons.get('not-loaded')?.slice(-2)).toEqual(['ImagePullFailed', 'StartTimedOut']);
    expect(readyOf(ended).message).toContain('localhost/mustgather/never-loaded:v1');
    const names = reportObjectNames(ended.metadata);
    await eventually('the gather binding to go', 30_000, async () => (await admin.get({ kind: 'ClusterRoleBinding', name: names.gatherBinding })) === undefined);
  });

  it('a gather that outlives its timeout is TimedOut with its data kept, and the report still ends Ready', async () => {
    const ready = await waitReady('times-out');
    expect(ready.status?.gathers?.[0]?.state).toBe('TimedOut');
    expect(ready.status?.archive?.files).toBeGreaterThan(1);
  });

  it('a gather that fills a small real volume is VolumeFull with its data kept, and the report still ends Ready', async () => {
    const ready = await waitReady('fills-volume');
    expect(ready.status?.gathers?.[0]?.state).toBe('VolumeFull');
    expect(ready.status?.archive?.files).toBeGreaterThan(1);
  });

  it('deleting a report mid-gather leaves no namespace, pod, volume data or binding behind', async () => {
    await eventually('gathering', 120_000, async () => readyOf(report('deleted-mid-gather')).reason === 'Gathering');
    const names = reportObjectNames(report('deleted-mid-gather')!.metadata);
    await admin.delete({ kind: KIND, namespace, name: 'deleted-mid-gather' });
    await expectNothingLeft(names, 120_000);
  });

  it('deleteAfter expiry deletes the report and everything it made', async () => {
    const ready = await waitReady('times-out');
    const names = reportObjectNames(ready.metadata);
    await eventually('the report to expire', 150_000, async () => report('times-out') === undefined);
    await expectNothingLeft(names, 120_000);
  });

  it.runIf(!EXISTING)('pods reach the API server through its Service address, and nothing else of the host', async () => {
    type NodeView = { status: { addresses: { type: string; address: string }[]; daemonEndpoints: { kubeletEndpoint: { Port: number } } } };
    const node = (await admin.request<{ items: NodeView[] }>('GET', '/api/v1/nodes')).items[0]!.status;
    const nodeIp = node.addresses.find((a) => a.type === 'InternalIP')!.address;
    const targets = ['10.96.0.1/443', `${nodeIp}/${node.daemonEndpoints.kubeletEndpoint.Port}`, `${nodeIp}/22`];
    const probe = (target: string) => `if timeout 3 bash -c '</dev/tcp/${target}'; then echo "${target} open"; else echo "${target} closed"; fi`;
    await admin.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reach', namespace },
      spec: {
        restartPolicy: 'Never',
        containers: [{
          name: 'probe', image: cluster.images.ok, imagePullPolicy: 'IfNotPresent', command: ['bash', '-c'],
          args: [`{ ${targets.map(probe).join('; ')}; } > /dev/termination-log`],
        }],
      },
    } as KubeObject);
    type PodView = { status?: { containerStatuses?: { state?: { terminated?: { message?: string } } }[] } };
    const message = await eventually('the probe pod to finish', 60_000, async () =>
      (await admin.get<PodView>({ kind: 'Pod', namespace, name: 'reach' }))?.status?.containerStatuses?.[0]?.state?.terminated?.message);
    expect(message.trim().split('\n')).toEqual([`${targets[0]} open`, `${targets[1]} closed`, `${targets[2]} closed`]);
  });

  describe('who may download, with real identities, on the pod itself and through mustgather download', () => {
    let ready: MustGatherReport;
    let local: { port: number; host: string; ca: string };
    let forward: ChildProcess;
    let adminToken: string;

    /** One HTTPS request to the report pod's file server through the port-forward. */
    const get = (caller: { token?: string; cert?: { cert: string; key: string }; range?: string } = {}) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1', port: local.port, servername: local.host, path: '/must-gather.tar.gz', ca: local.ca,
            headers: { host: local.host, ...(caller.token !== undefined ? { authorization: `Bearer ${caller.token}` } : {}), ...(caller.range ? { range: caller.range } : {}) },
            ...(caller.cert ? { cert: caller.cert.cert, key: caller.cert.key } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          },
        );
        req.on('error', reject);
        req.end();
      });

    beforeAll(async () => {
      ready = await waitReady('two-images');
      const names = reportObjectNames(ready.metadata);
      const host = new URL(ready.status!.report_url!).hostname;
      const kubectl = cluster.local ? (await ensureBinaries()).kubectl! : 'kubectl';
      forward = spawn(kubectl, ['--kubeconfig', cluster.kubeconfig, '-n', names.namespace, 'port-forward', `pod/${names.main}`, ':8443'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const port = await new Promise<number>((resolve, reject) => {
        forward.stdout!.setEncoding('utf8').on('data', (d: string) => {
          const m = /127\.0\.0\.1:(\d+)/.exec(d);
          if (m) resolve(Number(m[1]));
        });
        forward.on('exit', (code) => reject(new Error(`kubectl port-forward exited (${code})`)));
      });
      local = { port, host, ca: ready.status!.caBundle! };
      adminToken = await serviceAccountToken(admin, namespace, 'e2e-admin', { clusterRole: 'cluster-admin', clusterWide: true });
    });
    afterAll(() => void forward?.kill());

    it('a cluster-admin token gets the exact bytes, and a range of them', async () => {
      const whole = await get({ token: adminToken });
      expect(whole.status).toBe(200);
      expect(createHash('sha256').update(whole.body).digest('hex')).toBe(ready.status?.archive?.sha256);
      const part = await get({ token: adminToken, range: 'bytes=10-109' });
      expect(part.status).toBe(206);
      expect(part.body.equals(whole.body.subarray(10, 110))).toBe(true);
    });

    it.runIf(!EXISTING)('a cluster-admin client certificate gets the exact bytes', async () => {
      const user = await mintUserFromDir(cluster.dataDir, 'e2e-cert-admin', ['system:masters']);
      const kc = user.kubeConfig.getCurrentUser()!;
      const cert = { cert: Buffer.from(kc.certData!, 'base64').toString(), key: Buffer.from(kc.keyData!, 'base64').toString() };
      const answer = await get({ cert });
      expect(answer.status).toBe(200);
      expect(createHash('sha256').update(answer.body).digest('hex')).toBe(ready.status?.archive?.sha256);
    });

    it('an admin of the report\'s namespace, a view user and a service account with every verb on pods get 403 and no bytes', async () => {
      await admin.create({
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${namespace}-pods-only` },
        rules: [{ apiGroups: [''], resources: ['pods', 'pods/log', 'pods/exec', 'pods/portforward'], verbs: ['*'] }],
      } as KubeObject);
      const callers = {
        'namespace admin': await serviceAccountToken(admin, namespace, 'ns-admin', { clusterRole: 'admin', clusterWide: false }),
        viewer: await serviceAccountToken(admin, namespace, 'viewer', { clusterRole: 'view', clusterWide: true }),
        'every verb on pods': await serviceAccountToken(admin, namespace, 'pods-only', { clusterRole: `${namespace}-pods-only`, clusterWide: true }),
      };
      for (const [who, token] of Object.entries(callers)) {
        const answer = await get({ token });
        expect({ who, status: answer.status }).toEqual({ who, status: 403 });
        expect(answer.body.toString()).toMatch(/may not/);
        expect(answer.body.includes(Buffer.from([0x1f, 0x8b]))).toBe(false);
      }
      // Through mustgather download: one line naming who was refused and why, and no file.
      const out = path.join(work, 'refused.tar.gz');
      const refused = await mustgather(['download', 'two-images', '-n', namespace, '-o', out, '--token', callers.viewer], kubeEnv());
      expect(refused.code).not.toBe(0);
      // The refusal is one line (the lines before it say which way the download went).
      const refusal = refused.stderr.trim().split('\n').filter((l) => l.startsWith('mustgather download:'));
      expect(refusal).toHaveLength(1);
      expect(refusal[0]).toMatch(/system:serviceaccount:[^:]+:viewer" may not/);
      expect(readdirSync(work).filter((f) => f.startsWith('refused'))).toEqual([]);
      // ... and the admin token given with --token downloads.
      const allowed = await mustgather(['download', 'two-images', '-n', namespace, '-o', path.join(work, 'by-token.tar.gz'), '--token', adminToken], kubeEnv());
      expect(allowed.code).toBe(0);
    });

    it('no credentials, a garbage token, a deleted service account\'s token, an expired token and another CA\'s certificate get no bytes', async () => {
      const gone = await serviceAccountToken(admin, namespace, 'deleted', { clusterRole: 'cluster-admin', clusterWide: true });
      await admin.delete({ kind: 'ServiceAccount', namespace, name: 'deleted' });
      const other = await createCA('another-ca');
      const callers: [string, Parameters<typeof get>[0]][] = [
        ['no credentials', {}],
        ['a garbage token', { token: 'not-a-token' }],
        ['a deleted service account\'s token', { token: gone }],
        ['a certificate from another CA', { cert: await issueClientCert(other, 'system:admin', ['system:masters']) }],
      ];
      if (cluster.local) {
        const issuer = new KubeConfig();
        issuer.loadFromFile(cluster.kubeconfig);
        const token = expiredServiceAccountToken(issuer.getCurrentCluster()!.server, path.join(cluster.dataDir, 'pki', PKI_FILES.saKey), namespace, 'e2e-admin');
        callers.push(['an expired token signed with the cluster\'s key', { token }]);
      }
      for (const [who, caller] of callers) {
        const answer = await get(caller).catch((err: Error) => ({ status: -1, body: Buffer.from(err.message) }));
        // 401, or the TLS handshake refused.
        expect({ who, refused: answer.status === 401 || answer.status === -1 }).toEqual({ who, refused: true });
        expect(answer.body.includes(Buffer.from([0x1f, 0x8b]))).toBe(false);
      }
    });

    it('every download is recorded as an Event on the report, with the user, range and bytes', async () => {
      const events = await eventually('Downloaded events', 30_000, async () => {
        const list = await admin.request<{ items: { reason: string; message: string; involvedObject: { name: string; kind: string } }[] }>('GET', `/api/v1/namespaces/${namespace}/events`);
        const downloads = list.items.filter((e) => e.involvedObject.kind === KIND && e.involvedObject.name === 'two-images' && e.reason === 'Downloaded');
        return downloads.length >= 3 && downloads;
      });
      expect(events.map((e) => e.message).join('\n')).toMatch(/system:serviceaccount:[^:]+:e2e-admin/);
      expect(events.map((e) => e.message).join('\n')).toMatch(/bytes=10-109|10-109/);
    });
  });

  async function expectNothingLeft(names: ReturnType<typeof reportObjectNames>, timeoutMs: number): Promise<void> {
    await eventually(`namespace ${names.namespace} to go`, timeoutMs, async () => (await admin.get({ kind: 'Namespace', name: names.namespace })) === undefined);
    expect(await admin.get({ kind: 'ClusterRoleBinding', name: names.gatherBinding })).toBeUndefined();
    await eventually('the volume to go', timeoutMs, async () =>
      (await admin.request<{ items: { spec?: { claimRef?: { namespace?: string } } }[] }>('GET', '/api/v1/persistentvolumes')).items.every((v) => v.spec?.claimRef?.namespace !== names.namespace));
    if (cluster.local) {
      // The provisioner wiped the volume's file and mount point.
      const left = readdirSync(path.join(nodeDir(), 'volumes'));
      const claims = (await admin.request<{ items: { metadata: { uid: string } }[] }>('GET', '/api/v1/persistentvolumeclaims')).items.map((c) => `pvc-${c.metadata.uid}`);
      expect(left.filter((f) => !claims.some((c) => f.startsWith(c)))).toEqual([]);
    }
  }
});
