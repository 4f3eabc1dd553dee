/**
 * Invariants every report chart must keep, checked on reports chosen to break them: the longest names, odd image
 * references, every option. Each would catch a real regression (a lost gather, a leaked privilege, a broken port).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATHER_IMAGE } from '../constructs/operator-config.js';
import { EVENT_RECORDER_CLUSTER_ROLE, LABELS, REPORT_ANNOTATION, reportNamespaceName, reportObjectNames } from '../constructs/report-identity.js';
import { renderReport, type Manifest } from '../constructs/render.js';
import { formatDownloadAccess, PATHS, PORTS } from '../constructs/pod-contract.js';
import { COOKIE_SECRET, LONGEST_NAME, PROFILES, report, REPORTS } from './fixtures.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

type Any = any;
const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind) as Any[];
const argValue = (args: string[], flag: string) => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

const CASES = Object.entries(REPORTS).flatMap(([name, input]) => Object.entries(PROFILES).map(([platform, profile]) => [`${name} (${platform})`, input, profile] as const));

describe.each(CASES)('report chart for %s', (_, input, profile) => {
  const manifests = renderReport(input, profile);
  const openshift = profile.platform === 'openshift';
  const [pod] = byKind(manifests, 'Pod');
  const allContainers: Any[] = [...pod.spec.initContainers, ...pod.spec.containers];
  const gathers: Any[] = pod.spec.initContainers.filter((c: Any) => c.name.startsWith('gather-'));

  it('runs one gather per image (the default image when none is listed), in order, then compresses after every gather', () => {
    const images = input.spec.images ?? [DEFAULT_GATHER_IMAGE];
    expect(gathers.map((c) => c.image)).toEqual(images);
    expect(gathers.map((c) => c.name)).toEqual(images.map((_, i) => `gather-${i + 1}`));
    expect(pod.spec.initContainers.at(-1).name).toBe('archive');
    expect(pod.spec.initContainers).toHaveLength(images.length + 1);
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  it('gives every gather its own directory on the one volume', () => {
    const dirs = gathers.map((c) => c.volumeMounts.find((m: Any) => m.mountPath === '/must-gather').subPath);
    expect(new Set(dirs).size).toBe(dirs.length);
    for (const dir of dirs) {
      expect(dir).toMatch(/^gathers\/[0-9]{2}-[A-Za-z0-9._-]+$/);
      expect(dir.length).toBeLessThanOrEqual(120);
    }
    const archiveArgs: string[] = pod.spec.initContainers.at(-1).args;
    expect(archiveArgs.slice(archiveArgs.indexOf('--source'), archiveArgs.indexOf('--source') + 2)).toEqual(['--source', '/data/gathers']);
  });

  it('labels and annotates every object with the report identity', () => {
    for (const m of manifests) {
      expect(m.metadata.labels?.[LABELS.reportUid], `${m.kind}/${m.metadata.name}`).toBe(input.metadata.uid ?? '');
      expect(m.metadata.labels?.[LABELS.reportNamespace]).toBe(input.metadata.namespace);
      expect(m.metadata.labels?.[LABELS.managedBy]).toBe('mustgather-operator');
      expect(m.metadata.annotations?.[REPORT_ANNOTATION]).toBe(`${input.metadata.namespace}/${input.metadata.name}`);
    }
  });

  it('keeps names and label values within their limits', () => {
    for (const m of manifests) {
      expect(m.metadata.name.length, `${m.kind} name`).toBeLessThanOrEqual(253);
      expect(m.metadata.name).toMatch(DNS_SUBDOMAIN);
      for (const [key, value] of Object.entries(m.metadata.labels ?? {})) {
        expect(value.length, `label ${key}`).toBeLessThanOrEqual(63);
        expect(value, `label ${key}`).toMatch(LABEL_VALUE);
      }
    }
    const [namespace] = byKind(manifests, 'Namespace');
    expect(namespace.metadata.name.length).toBeLessThanOrEqual(63);
    expect(namespace.metadata.name).toMatch(DNS_LABEL);
    // Beside the report, in its own namespace: the file server's permission to record downloads there.
    const beside = ['RoleBinding'];
    for (const m of manifests.filter((x) => beside.includes(x.kind))) expect(m.metadata.namespace).toBe(input.metadata.namespace);
    for (const m of manifests.filter((x) => ![...beside, 'Namespace', 'ClusterRoleBinding'].includes(x.kind))) {
      expect(m.metadata.namespace).toBe(namespace.metadata.name);
    }
    for (const kind of ['Service', 'Pod', ...(openshift ? ['Route'] : [])]) expect(byKind(manifests, kind)[0].metadata.name).toMatch(DNS_LABEL);
    for (const c of allContainers) expect(c.name).toMatch(DNS_LABEL);
  });

  it('runs no privileged container and nothing on the host', () => {
    expect(pod.spec.hostNetwork ?? false).toBe(false);
    expect(pod.spec.hostPID ?? false).toBe(false);
    expect(pod.spec.hostIPC ?? false).toBe(false);
    expect(pod.spec.volumes.filter((v: Any) => v.hostPath)).toEqual([]);
    for (const c of allContainers) {
      expect(c.securityContext?.privileged ?? false, c.name).toBe(false);
      expect(c.securityContext?.allowPrivilegeEscalation, c.name).toBe(false);
    }
  });

  it('holds every container but the gathers to the restricted profile, as uid 1001', () => {
    for (const c of allContainers.filter((x) => !x.name.startsWith('gather-'))) {
      expect(c.securityContext, c.name).toMatchObject({
        runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 1001, runAsGroup: 1001,
      });
    }
    // The gathers run as their image's user (often root), as `oc adm must-gather` runs them.
    for (const c of gathers) expect(c.securityContext.runAsUser, c.name).toBeUndefined();
  });

  it('gives the volume a group the non-root archive step and file server can write and read', () => {
    expect(pod.spec.securityContext).toEqual({ fsGroup: 1001, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(pod.spec.securityContext.runAsUser).toBeUndefined();
  });

  it('runs the file server with TLS, its own checks and the report it records downloads on', () => {
    const server = pod.spec.containers.find((c: Any) => c.name === 'file-server');
    expect(server.args).toEqual([
      'serve', '--dir', '/data', '--address', '0.0.0.0', '--port', String(PORTS.fileServer),
      '--tls-cert-file', `${PATHS.serverTls}/tls.crt`, '--tls-private-key-file', `${PATHS.serverTls}/tls.key`,
      '--client-ca-file', `${PATHS.clientCa}/ca.crt`, '--download-access', 'verb=*,group=*,resource=*',
      '--report', `${input.metadata.namespace}/${input.metadata.name}`, '--report-uid', input.metadata.uid ?? '',
    ]);
    expect(server.ports).toEqual([{ name: PORTS.fileServerName, containerPort: PORTS.fileServer, protocol: 'TCP' }]);
    expect(server.readinessProbe.httpGet).toEqual({ path: '/healthz', port: PORTS.fileServerName, scheme: 'HTTPS' });
    const mounted = (path: string) => pod.spec.volumes.find((v: Any) => v.name === server.volumeMounts.find((m: Any) => m.mountPath === path)?.name);
    expect(mounted(PATHS.serverTls).secret.secretName).toBe('must-gather-tls');
    const clientCa = byKind(manifests, 'ConfigMap').find((c) => c.metadata.name === mounted(PATHS.clientCa).configMap.name);
    expect(clientCa.data['ca.crt']).toBe(profile.clientCa);
    // Its own service-account token, for TokenReview and SubjectAccessReview.
    expect(mounted(PATHS.serviceAccount).projected.sources.map((s: Any) => Object.keys(s)[0])).toContain('serviceAccountToken');
  });

  it('gives cluster-wide power to the gathers only', () => {
    const bindings = byKind(manifests, 'ClusterRoleBinding');
    const admin = bindings.filter((b) => b.roleRef.name === 'cluster-admin');
    expect(admin).toHaveLength(1);
    const [gatherAccount] = admin[0].subjects.map((s: Any) => s.name);
    expect(bindings.filter((b) => b.roleRef.name !== 'cluster-admin').map((b) => b.roleRef.name)).toEqual(['system:auth-delegator']);
    // The pod's own service account (all containers') is the file server's, never the cluster-admin one: it gets
    // exactly what delegated checks and the download Events need.
    expect(pod.spec.serviceAccountName).not.toBe(gatherAccount);
    const podAccount = { kind: 'ServiceAccount', name: pod.spec.serviceAccountName, namespace: pod.metadata.namespace };
    const grants = [...bindings, ...byKind(manifests, 'RoleBinding')].filter((b) => b.subjects.some((s: Any) => s.name === podAccount.name && s.namespace === podAccount.namespace));
    expect(grants.map((b) => ({ kind: b.kind, role: b.roleRef.name, subjects: b.subjects }))).toEqual([
      { kind: 'ClusterRoleBinding', role: 'system:auth-delegator', subjects: [podAccount] },
      { kind: 'RoleBinding', role: EVENT_RECORDER_CLUSTER_ROLE, subjects: [podAccount] },
    ]);
    // Bound in the report's namespace only, to the install chart's ClusterRole (which grants `create events`, nothing else).
    expect(byKind(manifests, 'RoleBinding').map((b) => b.roleRef.kind)).toEqual(['ClusterRole']);
    expect(byKind(manifests, 'Role')).toEqual([]);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    // The gather account's token: in its Secret (the operator requests it), mounted into the gathers alone.
    const { gatherTokenSecret, gatherServiceAccount } = reportObjectNames(input.metadata);
    expect(gatherAccount).toBe(gatherServiceAccount);
    const [tokenSecret] = byKind(manifests, 'Secret').filter((s) => s.metadata.name === gatherTokenSecret);
    expect(Buffer.from(tokenSecret.data.token, 'base64').toString()).toBe(profile.gatherToken.token);
    const tokenVolume = pod.spec.volumes.find((v: Any) => v.projected?.sources.some((s: Any) => s.secret?.name === tokenSecret.metadata.name)).name;
    const holders = allContainers.filter((c) => c.volumeMounts?.some((m: Any) => m.name === tokenVolume)).map((c) => c.name);
    expect(holders).toEqual(gathers.map((c) => c.name));
  });

  it.runIf(openshift)('wires Route -> Service -> oauth-proxy -> file server (TLS, verified by name, on loopback)', () => {
    const [route] = byKind(manifests, 'Route');
    const [service] = byKind(manifests, 'Service');
    const proxy = pod.spec.containers.find((c: Any) => c.name === 'oauth-proxy');
    const server = pod.spec.containers.find((c: Any) => c.name === 'file-server');
    expect(route.spec.to).toEqual({ kind: 'Service', name: service.metadata.name });
    expect(route.spec.tls.termination).toBe('reencrypt');
    const servicePort = service.spec.ports.find((p: Any) => p.name === route.spec.port.targetPort);
    expect(servicePort).toBeDefined();
    const proxyPort = proxy.ports.find((p: Any) => p.name === servicePort.targetPort);
    expect(proxyPort).toEqual({ name: PORTS.proxyName, containerPort: PORTS.proxy, protocol: 'TCP' });
    expect(argValue(proxy.args, '--https-address')).toBe(`:${proxyPort.containerPort}`);
    for (const [key, value] of Object.entries(service.spec.selector)) expect(pod.metadata.labels[key]).toBe(value);
    const upstream = new URL(argValue(proxy.args, '--upstream')!);
    expect(upstream.protocol).toBe('https:');
    expect(upstream.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    expect(pod.spec.hostAliases).toEqual([{ ip: '127.0.0.1', hostnames: [upstream.hostname] }]);
    expect(upstream.port).toBe(String(server.ports[0].containerPort));
    expect(argValue(proxy.args, '--upstream-ca')).toBe(`${PATHS.serviceAccount}/service-ca.crt`);
    const policy = byKind(manifests, 'NetworkPolicy')[0];
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: proxyPort.containerPort, protocol: 'TCP' }] }]);
  });

  it.runIf(openshift)('passes the user\'s own token on, and asks oauth-proxy the file server\'s question', () => {
    const proxy = pod.spec.containers.find((c: Any) => c.name === 'oauth-proxy');
    expect(proxy.args).toEqual(expect.arrayContaining(['--pass-user-bearer-token', '--pass-access-token', '--pass-basic-auth=false']));
    const clusterAdmin = { group: '*', resource: '*', verb: '*' };
    expect(JSON.parse(argValue(proxy.args, '--openshift-sar')!)).toEqual({ resourceAPIGroup: '*', resource: '*', verb: '*' });
    expect(JSON.parse(argValue(proxy.args, '--openshift-delegate-urls')!)).toEqual({ '/': clusterAdmin });
    expect(argValue(proxy.args, '--skip-auth-regex')).toBe('^/healthz$');
    const [service] = byKind(manifests, 'Service');
    const certSecret = service.metadata.annotations['service.beta.openshift.io/serving-cert-secret-name'];
    expect(pod.spec.volumes.find((v: Any) => v.secret?.secretName === certSecret)).toBeDefined();
    expect(argValue(proxy.args, '--tls-cert')).toBe(`${PATHS.serverTls}/tls.crt`);
  });

  it.runIf(!openshift)('serves from the file server alone: no oauth-proxy, Route, service CA or cookie', () => {
    expect(pod.spec.containers.map((c: Any) => c.name)).toEqual(['file-server']);
    expect(byKind(manifests, 'Route')).toEqual([]);
    expect(pod.spec.hostAliases).toBeUndefined();
    const openshiftOnly = ['service.beta.openshift.io/serving-cert-secret-name', 'serviceaccounts.openshift.io/oauth-redirectreference.primary'];
    for (const m of manifests) {
      for (const key of openshiftOnly) expect(m.metadata.annotations?.[key], `${m.kind}/${m.metadata.name}`).toBeUndefined();
    }
    const secrets = byKind(manifests, 'Secret');
    expect(secrets.map((x) => x.type).sort()).toEqual(['Opaque', 'kubernetes.io/tls']);
    const [service] = byKind(manifests, 'Service');
    expect(service.spec.ports).toEqual([{ name: 'https', port: PORTS.service, targetPort: PORTS.fileServerName, protocol: 'TCP' }]);
    const tls = secrets.find((x) => x.type === 'kubernetes.io/tls');
    expect(tls.stringData).toEqual({ 'tls.crt': PROFILES.kubernetes.servingCertificate.cert, 'tls.key': PROFILES.kubernetes.servingCertificate.key });
    const policy = byKind(manifests, 'NetworkPolicy')[0];
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: PORTS.fileServer, protocol: 'TCP' }] }]);
  });
});

describe('Ingress (kubernetes profile)', () => {
  it('exposes the Service at <report namespace>.<suffix> with the file server\'s own certificate', () => {
    const manifests = renderReport(REPORTS.minimal!, { ...PROFILES.kubernetes, ingress: { hostSuffix: 'reports.example.com', className: 'nginx' } });
    const [ingress] = byKind(manifests, 'Ingress');
    const namespace = reportNamespaceName(REPORTS.minimal!.metadata);
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: [`${namespace}.reports.example.com`], secretName: 'must-gather-tls' }],
      rules: [{ host: `${namespace}.reports.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'must-gather', port: { name: 'https' } } } }] } }],
    });
  });

  it('passes the operator\'s download access through to the file server', () => {
    const access = { verb: 'get', group: 'mustgather.openshift.io', resource: 'mustgatherreports', subresource: 'download' };
    const pod = byKind(renderReport(REPORTS.minimal!, { ...PROFILES.kubernetes, downloadAccess: access }), 'Pod')[0];
    const args: string[] = pod.spec.containers[0].args;
    expect(args[args.indexOf('--download-access') + 1]).toBe(formatDownloadAccess(access));
  });
});

describe('report namespaces', () => {
  it('never collide, even when the readable part is cut to the same prefix', () => {
    const names = new Set([
      reportNamespaceName({ namespace: 'n'.repeat(63), name: `${LONGEST_NAME}x`, uid: 'u' }),
      reportNamespaceName({ namespace: 'n'.repeat(63), name: `${LONGEST_NAME}y`, uid: 'u' }),
      reportNamespaceName({ namespace: 'a-b', name: 'c', uid: 'u' }),
      reportNamespaceName({ namespace: 'a', name: 'b-c', uid: 'u' }),
    ]);
    expect(names.size).toBe(4);
  });

  it('gather directories stay unique for the same image listed under different tags', () => {
    const manifests = renderReport(report({ images: ['q.io/a:1', 'q.io/a:2', 'q.io/a-1'] }), { cookieSecret: COOKIE_SECRET });
    const pod = byKind(manifests, 'Pod')[0];
    const dirs = pod.spec.initContainers.slice(0, 3).map((c: Any) => c.volumeMounts[0].subPath);
    expect(new Set(dirs).size).toBe(3);
  });
});
