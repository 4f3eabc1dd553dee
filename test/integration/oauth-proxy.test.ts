/**
 * The report pod's front door on OpenShift, for real: the oauth-proxy binary ($OAUTH_PROXY_BINARY) started with
 * exactly the args the report chart renders for its container, in front of the real TLS file server (which checks
 * every caller again with its own TokenReview + SubjectAccessReview), checking real tokens against the real test
 * kube-apiserver (`--openshift-delegate-urls`, with the chart's own service account and `system:auth-delegator`
 * binding). It runs only when OAUTH_PROXY_BINARY names a binary: the Go module proxy this project may use refuses
 * github.com/openshift/oauth-proxy, and no binary may come from elsewhere.
 *
 * What differs from the pod, and why (nothing else is changed or added):
 * - Paths: every chart arg pointing into a volume mount points into a local directory holding what that volume would
 *   (the projected service-account token, kube-root-ca.crt and namespace; the serving cert; the cookie secret).
 * - Addresses: `--https-address` and `--upstream` use free ports on loopback instead of :9443 and
 *   https://<service>.<namespace>.svc:8443 (a host alias for 127.0.0.1 in the pod); the upstream is
 *   https://localhost:<port>, a name the test CA's serving certificate holds, as the service CA's holds the Service's.
 * - In a pod oauth-proxy reaches the API through `rest.InClusterConfig()` (KUBERNETES_SERVICE_HOST/PORT plus the
 *   HARD-CODED files /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}), used for its TokenReview and
 *   SubjectAccessReview clients and a ConfigMap informer. Outside a pod those files do not exist, so the test passes
 *   oauth-proxy's own `--kubeconfig`, `--authentication-kubeconfig` and `--authorization-kubeconfig` a kubeconfig
 *   holding exactly those credentials (API address, the CA file, the token file).
 * - `--client-id`: with `--openshift-service-account`, oauth-proxy derives it from the HARD-CODED
 *   /var/run/secrets/kubernetes.io/serviceaccount/namespace; outside a pod it refuses to start ("missing setting:
 *   client-id"), so the test passes the value it would derive: system:serviceaccount:<namespace>:<service account>.
 *
 * Not provable against a plain kube-apiserver: the browser login (`/oauth/start`, `--openshift-sar`). It needs
 * OpenShift's OAuth server (discovered at https://$KUBERNETES_SERVICE_HOST/.well-known/oauth-authorization-server,
 * port 443 implied) and OpenShift's `authorization.openshift.io/v1` SubjectAccessReview API; neither exists here and
 * nothing fakes them. KUBERNETES_SERVICE_HOST=127.0.0.1 keeps those lookups on loopback (nothing listens on 443).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { issueServingCert, loadCA, PKI_FILES } from '../../controlplane/pki.js';
import { API_GROUP, API_VERSION, KIND, type MustGatherReport } from '../../constructs/report-api.js';
import { renderReport, type Manifest } from '../../constructs/render.js';
import { createArchive } from '../../datapath/archive.js';
import { DelegatedAuth } from '../../datapath/delegated-auth.js';
import { createFileServer, type FileServer } from '../../datapath/serve.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { adminClient, eventually, kubeConfigFrom, LOCAL_CLUSTER, localOnly, testNamespace } from './helpers.js';
import { CONTAINERS } from '../../constructs/pod-contract.js';

type Any = any;

const controlPlaneDir = inject('controlPlaneDir');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A free TCP port on 127.0.0.1 (closed again before use: a tiny race, fine for a test). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Base64url without padding, for JWT segments. */
const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

const oauthProxy = process.env.OAUTH_PROXY_BINARY;

describe.runIf(LOCAL_CLUSTER && oauthProxy)(localOnly('oauth-proxy in front of the TLS file server (chart args, real kube-apiserver; runs only with OAUTH_PROXY_BINARY set: the module proxy refuses oauth-proxy)', 'its CA and signing key'), () => {
  let admin: KubeClient;
  let work: string;
  let files: FileServer;
  let proxy: ChildProcess | undefined;
  let proxyLog = '';
  let proxyPort = 0;
  let caPem: string;
  let archive: Buffer;
  let reportNs: string;
  let testNs: string;
  const clusterBindings: string[] = [];
  let chartArgs: string[] = [];
  let proxyArgs: string[] = [];
  const tokens: Record<'admin' | 'viewer' | 'coreAdmin' | 'expired' | 'resigned', string> = { admin: '', viewer: '', coreAdmin: '', expired: '', resigned: '' };

  /** GET (or `method`) through the proxy over TLS, trusting the test CA; never follows redirects. */
  function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: proxyPort, path, method, headers, ca: caPem, servername: 'localhost', timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end();
    });
  }

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  /** Neither the archive nor any part of it came back. */
  function expectNoArchive(reply: Reply, what: string): void {
    expect(reply.status, what).not.toBe(200);
    expect(reply.status, what).not.toBe(206);
    expect(reply.headers['content-type'] ?? '', what).not.toContain('gzip');
    expect(reply.body.includes(archive.subarray(0, 64)), `${what}: archive bytes in the body`).toBe(false);
  }

  async function tokenFor(namespace: string, serviceAccount: string, expirationSeconds: number): Promise<string> {
    const res = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    });
    return res.status.token;
  }

  async function serviceAccount(name: string, clusterRole?: string): Promise<void> {
    await admin.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: testNs } });
    if (!clusterRole) return;
    const binding = `${testNs}-${name}`;
    await admin.create({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ kind: 'ServiceAccount', name, namespace: testNs }],
    } as unknown as KubeObject);
    clusterBindings.push(binding);
  }

  /**
   * A real service-account token of `source`'s claims, signed again with the test API server's own signing key but
   * with the given validity window: TokenRequest refuses `expirationSeconds` under 600, so an expired token cannot
   * be asked for; the re-signed copy with a valid window is the control that the signing itself is right.
   */
  function resign(source: string, iat: number, exp: number): string {
    const [header, payload] = source.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    const body = `${header}.${b64url(JSON.stringify({ ...claims, iat, nbf: iat, exp }))}`;
    const key = createPrivateKey(readFileSync(join(controlPlaneDir, 'pki', PKI_FILES.saKey)));
    // ES256 (the control plane's key is P-256): r||s, not DER.
    return `${body}.${b64url(sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' }))}`;
  }

  async function tokenReview(token: string): Promise<{ authenticated?: boolean; error?: string; user?: { username: string } }> {
    const res = await admin.request<{ status: { authenticated?: boolean; error?: string; user?: { username: string } } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    return res.status;
  }

  beforeAll(async () => {
    const binary = oauthProxy!;
    admin = adminClient();
    work = mkdtempSync(join(tmpdir(), 'oauth-proxy-e2e-'));
    testNs = await testNamespace(admin, 'op');

    // --- the chart: the pod's proxy container and the objects it relies on -----------------------------------
    const report: MustGatherReport = {
      apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND,
      metadata: { name: 'r', namespace: testNs, uid: '6f1d2c3b-0a9e-4f8d-8c7b-6a5e4d3c2b1a' },
      spec: { images: ['quay.io/a/must-gather:v1'] },
    } as MustGatherReport;
    const manifests = renderReport(report, { cookieSecret: randomBytes(24).toString('base64').slice(0, 32) });
    const pod = manifests.find((m) => m.kind === 'Pod') as Any;
    const container = pod.spec.containers.find((c: Any) => c.name === CONTAINERS.proxy);
    chartArgs = container.args;
    const arg = (flag: string) => chartArgs.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
    reportNs = pod.metadata.namespace;
    const saName = arg('--openshift-service-account')!;
    expect(saName).toBe(pod.spec.serviceAccountName);
    const pick = (kind: string, test: (m: Any) => boolean) => {
      const found = manifests.filter((m) => m.kind === kind && test(m));
      expect(found, kind).toHaveLength(1);
      return found[0] as Manifest;
    };
    const namespaceManifest = pick('Namespace', (m) => m.metadata.name === reportNs);
    const saManifest = pick('ServiceAccount', (m) => m.metadata.name === saName);
    const delegator = pick('ClusterRoleBinding', (m) => m.roleRef.name === 'system:auth-delegator');
    expect((delegator as Any).subjects).toEqual([{ kind: 'ServiceAccount', name: saName, namespace: reportNs }]);
    const cookieVolume = pod.spec.volumes.find((v: Any) => v.name === container.volumeMounts.find((m: Any) => arg('--cookie-secret-file')!.startsWith(m.mountPath + '/')).name);
    const cookieSecret = pick('Secret', (m) => m.metadata.name === cookieVolume.secret.secretName) as Any;
    for (const m of [namespaceManifest, saManifest, delegator]) await admin.create(m as unknown as KubeObject);
    clusterBindings.push(delegator.metadata.name);

    // --- what each of the container's volumes would hold ----------------------------------------------------
    const volumeDir: Record<string, string> = {};
    for (const mount of container.volumeMounts as { name: string; mountPath: string }[]) {
      volumeDir[mount.mountPath] = join(work, 'volumes', mount.name);
      mkdirSync(volumeDir[mount.mountPath]!, { recursive: true });
    }
    const fileIn = (podPath: string) => {
      const mountPath = Object.keys(volumeDir).find((p) => podPath.startsWith(p + '/'));
      if (!mountPath) throw new Error(`${podPath} is not in any volume mount of the proxy container`);
      return join(volumeDir[mountPath]!, podPath.slice(mountPath.length + 1));
    };
    // The projected service-account volume: a TokenRequest token (the chart's expirationSeconds), kube-root-ca.crt
    // (published into every namespace by kube-controller-manager), the namespace.
    const projected = pod.spec.volumes.find((v: Any) => v.projected)?.projected.sources as Any[];
    const tokenSource = projected.find((s) => s.serviceAccountToken).serviceAccountToken;
    const rootCa = await eventually(
      async () => (await admin.request<Any>('GET', `/api/v1/namespaces/${reportNs}/configmaps/kube-root-ca.crt`)).data?.['ca.crt'] as string | undefined,
      'kube-root-ca.crt in the report namespace', 30_000,
    );
    const saTokenFile = fileIn(arg('--client-secret-file')!);
    writeFileSync(saTokenFile, await tokenFor(reportNs, saName, tokenSource.expirationSeconds), { mode: 0o600 });
    writeFileSync(fileIn(arg('--openshift-ca')!), rootCa);
    writeFileSync(join(volumeDir[container.volumeMounts.find((m: Any) => saTokenFile.startsWith(join(work, 'volumes', m.name))).mountPath]!, 'namespace'), reportNs);
    // The serving certificate (on OpenShift, from the service CA; here from the test CA).
    const ca = await loadCA(join(controlPlaneDir, 'pki'));
    caPem = ca.cert;
    const serving = await issueServingCert(ca);
    writeFileSync(fileIn(arg('--tls-cert')!), serving.cert);
    writeFileSync(fileIn(arg('--tls-key')!), serving.key, { mode: 0o600 });
    // The service CA bundle oauth-proxy verifies its upstream with (here: the test CA, which signed the serving cert).
    writeFileSync(fileIn(arg('--upstream-ca')!), ca.cert);
    const cookieKey = basename(arg('--cookie-secret-file')!);
    writeFileSync(fileIn(arg('--cookie-secret-file')!), cookieSecret.stringData[cookieKey], { mode: 0o600 });

    // --- the file server, with a real archive --------------------------------------------------------------
    const data = join(work, 'data');
    mkdirSync(join(data, 'gathers/01-quay.io-a-must-gather-v1/namespaces'), { recursive: true });
    writeFileSync(join(data, 'gathers/01-quay.io-a-must-gather-v1/namespaces/pods.yaml'), `kind: PodList\nitems: []\n# ${randomBytes(2048).toString('hex')}\n`.repeat(40));
    await createArchive({ source: join(data, 'gathers'), output: join(data, 'must-gather.tar.gz'), onWarning: () => undefined });
    archive = readFileSync(join(data, 'must-gather.tar.gz'));
    // The file server as the pod runs it: TLS with the same serving certificate, its own delegated checks with the
    // pod's service-account token.
    const serverKubeconfig = join(work, 'server.kubeconfig');
    writeFileSync(serverKubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
      clusters: [{ name: 'c', cluster: { server: /server:\s*(\S+)/.exec(readFileSync(inject('kubeconfig'), 'utf8'))![1]!, 'certificate-authority': fileIn(arg('--openshift-ca')!) } }],
      users: [{ name: 'sa', user: { tokenFile: saTokenFile } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
    }));
    const serverClient = new KubeClient(kubeConfigFrom(serverKubeconfig));
    files = createFileServer({
      dir: data, report: `${testNs}/r`,
      tls: { certFile: fileIn(arg('--tls-cert')!), keyFile: fileIn(arg('--tls-key')!) },
      authorize: new DelegatedAuth({ client: serverClient }).check,
    });
    await new Promise<void>((resolve) => files.server.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (files.server.address() as AddressInfo).port;

    // --- tokens: a cluster admin, two authenticated non-admins, an expired one --------------------------------
    await serviceAccount('admin-user', 'cluster-admin');
    await serviceAccount('viewer', 'view');
    // Every verb on every core ("") resource cluster-wide: still not a cluster admin.
    await admin.create({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${testNs}-core-admin` },
      rules: [{ apiGroups: [''], resources: ['*'], verbs: ['*'] }],
    } as unknown as KubeObject);
    await serviceAccount('core-admin', `${testNs}-core-admin`);
    tokens.admin = await tokenFor(testNs, 'admin-user', 600);
    tokens.viewer = await tokenFor(testNs, 'viewer', 600);
    tokens.coreAdmin = await tokenFor(testNs, 'core-admin', 600);
    const now = Math.floor(Date.now() / 1000);
    tokens.expired = resign(await tokenFor(testNs, 'admin-user', 600), now - 7200, now - 3600);
    tokens.resigned = resign(await tokenFor(testNs, 'admin-user', 600), now - 60, now + 600);

    // --- oauth-proxy with the chart's args ------------------------------------------------------------------
    proxyPort = await freePort();
    const server = /server:\s*(\S+)/.exec(readFileSync(inject('kubeconfig'), 'utf8'))![1]!;
    const api = new URL(server);
    proxyArgs = chartArgs.map((a) => {
      const eq = a.indexOf('=');
      const [flag, value] = [a.slice(0, eq), a.slice(eq + 1)];
      if (flag === '--https-address') return `${flag}=127.0.0.1:${proxyPort}`;
      if (flag === '--upstream') {
        expect(new URL(value).hostname).toBe(`must-gather.${reportNs}.svc`);
        return `${flag}=https://localhost:${upstreamPort}`;
      }
      if (value.startsWith('/')) return `${flag}=${fileIn(value)}`;
      return a;
    });
    // The in-cluster config oauth-proxy would build (see the header): API address, CA file, token file.
    const inCluster = join(work, 'in-cluster.kubeconfig');
    writeFileSync(inCluster, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'in-cluster',
      clusters: [{ name: 'in-cluster', cluster: { server, 'certificate-authority': fileIn(arg('--openshift-ca')!) } }],
      users: [{ name: 'sa', user: { tokenFile: saTokenFile } }],
      contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'sa', namespace: reportNs } }],
    }));
    proxyArgs.push(
      `--kubeconfig=${inCluster}`, `--authentication-kubeconfig=${inCluster}`, `--authorization-kubeconfig=${inCluster}`,
      `--client-id=system:serviceaccount:${reportNs}:${saName}`,
    );
    proxy = spawn(binary, proxyArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No proxy variables, nothing inherited: loopback only. KUBERNETES_SERVICE_HOST/PORT as in a pod.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: api.port || '443' },
    });
    proxy.stdout!.setEncoding('utf8').on('data', (d: string) => (proxyLog += d));
    proxy.stderr!.setEncoding('utf8').on('data', (d: string) => (proxyLog += d));
    let exited = '';
    proxy.on('exit', (code, signal) => (exited = `oauth-proxy exited (${code ?? signal})`));
    await eventually(async () => {
      if (exited) throw new Error(exited);
      return (await get('/oauth/healthz')).status === 200;
    }, 'oauth-proxy to serve /oauth/healthz', 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nargs: ${proxyArgs.join(' ')}\n--- oauth-proxy log ---\n${proxyLog.slice(-4000)}`);
    });
  });

  afterAll(async () => {
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
      const gone = new Promise((resolve) => proxy!.once('exit', resolve));
      proxy.kill('SIGTERM');
      const timer = setTimeout(() => proxy!.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    }
    await files?.shutdown(1_000);
    for (const name of clusterBindings) await admin.delete({ kind: 'ClusterRoleBinding', name }).catch(() => undefined);
    if (testNs) await admin.delete({ kind: 'ClusterRole', name: `${testNs}-core-admin` }).catch(() => undefined);
    for (const ns of [reportNs, testNs]) if (ns) await admin.delete({ kind: 'Namespace', name: ns }).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs with the chart\'s args, only paths and addresses adapted', () => {
    expect(proxyArgs.slice(0, chartArgs.length).map((a) => a.split('=')[0])).toEqual(chartArgs.map((a) => a.split('=')[0]));
    const unchanged = chartArgs.filter((a, i) => proxyArgs[i] === a);
    expect(unchanged).toEqual(chartArgs.filter((a) => !/^--(https-address|upstream)=/.test(a) && !a.split('=').slice(1).join('=').startsWith('/')));
    expect(proxyArgs.slice(chartArgs.length).map((a) => a.split('=')[0])).toEqual(['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig', '--client-id']);
  });

  it('lets a cluster admin\'s bearer token download the archive, and ranges of it', async () => {
    const full = await get('/must-gather.tar.gz', bearer(tokens.admin));
    expect(full.status, full.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(full.body.equals(archive)).toBe(true);
    const part = await get('/must-gather.tar.gz', { ...bearer(tokens.admin), Range: 'bytes=100-1099' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1099/${archive.length}`);
    expect(part.body.equals(archive.subarray(100, 1100))).toBe(true);
    const tail = await get('/must-gather.tar.gz', { ...bearer(tokens.admin), Range: `bytes=${archive.length - 10}-` });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(archive.subarray(archive.length - 10))).toBe(true);
    const sum = await get('/must-gather.tar.gz.sha256', bearer(tokens.admin));
    expect(sum.status).toBe(200);
  });

  it('refuses authenticated service accounts that are not cluster admins (403)', async () => {
    for (const [who, token] of [['view', tokens.viewer], ['every verb on every core resource', tokens.coreAdmin]] as const) {
      expect((await tokenReview(token)).authenticated, `${who}: the API server knows the token`).toBe(true);
      const reply = await get('/must-gather.tar.gz', bearer(token));
      expect(reply.status, who).toBe(403);
      expectNoArchive(reply, who);
      expectNoArchive(await get('/', bearer(token)), `${who} on /`);
    }
  });

  it('gives nothing without a token, with a garbage token or with an expired one', async () => {
    // The control: the same claims re-signed with a valid window pass the API server and the proxy.
    expect((await tokenReview(tokens.resigned)).authenticated).toBe(true);
    const control = await get('/must-gather.tar.gz', bearer(tokens.resigned));
    expect(control.status).toBe(200);
    const review = await tokenReview(tokens.expired);
    expect(review.authenticated).toBeFalsy();
    expect(review.error ?? '').toMatch(/expired/i);

    const attempts: [string, Record<string, string>][] = [
      ['no token', {}],
      ['a garbage token', bearer('garbage')],
      ['a garbage JWT', bearer(`${b64url('{"alg":"ES256"}')}.${b64url('{}')}.${b64url('x')}`)],
      ['an expired token', bearer(tokens.expired)],
      ['basic auth', { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }],
    ];
    for (const [what, headers] of attempts) {
      for (const path of ['/must-gather.tar.gz', '/must-gather.tar.gz.sha256', '/']) {
        const reply = await get(path, headers);
        // oauth-proxy answers 403 with its sign-in page (no redirect: the login flow starts only at /oauth/start).
        expect([401, 403], `${what} on ${path}`).toContain(reply.status);
        expectNoArchive(reply, `${what} on ${path}`);
      }
      const ranged = await get('/must-gather.tar.gz', { ...headers, Range: 'bytes=0-99' });
      expectNoArchive(ranged, `${what} with a Range`);
    }
  });

  it('serves /healthz from the file server without a token, and nothing else', async () => {
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.toString('utf8')).toBe('ok\n'); // the file server's answer, not oauth-proxy's "OK"
    for (const path of ['/healthz/', '/healthzz', '/x/healthz', '/healthz/../must-gather.tar.gz', '/must-gather.tar.gz?/healthz']) {
      const reply = await get(path);
      expect([401, 403, 404], path).toContain(reply.status);
      expectNoArchive(reply, path);
    }
  });
});
