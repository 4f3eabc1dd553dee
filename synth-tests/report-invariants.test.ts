/**
 * Invariants every report chart must keep, checked on reports chosen to break them: the longest names, odd image
 * references, every option. Each would catch a real regression (a lost gather, a leaked privilege, a broken port).
 */
import { describe, expect, it } from 'vitest';
import { LABELS, REPORT_ANNOTATION, reportNamespaceName } from '../constructs/report-identity.js';
import { renderReport, type Manifest } from '../constructs/render.js';
import { COOKIE_SECRET, LONGEST_NAME, report, REPORTS } from './fixtures.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

type Any = any;
const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind) as Any[];
const argValue = (args: string[], flag: string) => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

describe.each(Object.entries(REPORTS))('report chart for %s', (_, input) => {
  const manifests = renderReport(input, { cookieSecret: COOKIE_SECRET });
  const [pod] = byKind(manifests, 'Pod');
  const allContainers: Any[] = [...pod.spec.initContainers, ...pod.spec.containers];
  const gathers: Any[] = pod.spec.initContainers.filter((c: Any) => c.name.startsWith('gather-'));

  it('runs one gather per image, in order, then compresses after every gather', () => {
    expect(gathers.map((c) => c.image)).toEqual(input.spec.images);
    expect(gathers.map((c) => c.name)).toEqual(input.spec.images.map((_, i) => `gather-${i + 1}`));
    expect(pod.spec.initContainers.at(-1).name).toBe('archive');
    expect(pod.spec.initContainers).toHaveLength(input.spec.images.length + 1);
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
    for (const m of manifests.filter((x) => x.kind !== 'Namespace' && x.kind !== 'ClusterRoleBinding')) {
      expect(m.metadata.namespace).toBe(namespace.metadata.name);
    }
    for (const kind of ['Service', 'Pod', 'Route']) expect(byKind(manifests, kind)[0].metadata.name).toMatch(DNS_LABEL);
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

  it('holds every container but the gathers to the restricted profile', () => {
    for (const c of allContainers.filter((x) => !x.name.startsWith('gather-'))) {
      expect(c.securityContext, c.name).toMatchObject({
        runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  it('gives cluster-wide power to the gathers only', () => {
    const bindings = byKind(manifests, 'ClusterRoleBinding');
    const admin = bindings.filter((b) => b.roleRef.name === 'cluster-admin');
    expect(admin).toHaveLength(1);
    const [gatherAccount] = admin[0].subjects.map((s: Any) => s.name);
    expect(bindings.filter((b) => b.roleRef.name !== 'cluster-admin').map((b) => b.roleRef.name)).toEqual(['system:auth-delegator']);
    // The pod's own service account (all containers') is the proxy's, never the cluster-admin one.
    expect(pod.spec.serviceAccountName).not.toBe(gatherAccount);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const [tokenSecret] = byKind(manifests, 'Secret').filter((s) => s.type === 'kubernetes.io/service-account-token');
    expect(tokenSecret.metadata.annotations['kubernetes.io/service-account.name']).toBe(gatherAccount);
    const tokenVolume = pod.spec.volumes.find((v: Any) => v.secret?.secretName === tokenSecret.metadata.name).name;
    const holders = allContainers.filter((c) => c.volumeMounts?.some((m: Any) => m.name === tokenVolume)).map((c) => c.name);
    expect(holders).toEqual(gathers.map((c) => c.name));
  });

  it('wires Route -> Service -> oauth-proxy -> file server', () => {
    const [route] = byKind(manifests, 'Route');
    const [service] = byKind(manifests, 'Service');
    const proxy = pod.spec.containers.find((c: Any) => c.name === 'oauth-proxy');
    const server = pod.spec.containers.find((c: Any) => c.name === 'file-server');
    expect(route.spec.to).toEqual({ kind: 'Service', name: service.metadata.name });
    expect(route.spec.tls.termination).toBe('reencrypt');
    const servicePort = service.spec.ports.find((p: Any) => p.name === route.spec.port.targetPort);
    expect(servicePort).toBeDefined();
    const proxyPort = proxy.ports.find((p: Any) => p.name === servicePort.targetPort);
    expect(proxyPort).toBeDefined();
    expect(argValue(proxy.args, '--https-address')).toBe(`:${proxyPort.containerPort}`);
    for (const [key, value] of Object.entries(service.spec.selector)) expect(pod.metadata.labels[key]).toBe(value);
    const upstream = new URL(argValue(proxy.args, '--upstream')!);
    expect(upstream.hostname).toBe('127.0.0.1');
    const serverArgs: string[] = server.args;
    expect(serverArgs[serverArgs.indexOf('--port') + 1]).toBe(upstream.port);
    expect(serverArgs[serverArgs.indexOf('--address') + 1]).toBe('127.0.0.1');
    expect(server.ports ?? []).toEqual([]);
    const policy = byKind(manifests, 'NetworkPolicy')[0];
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: proxyPort.containerPort, protocol: 'TCP' }] }]);
  });

  it('admits only cluster admins, for browser sessions and bearer tokens alike', () => {
    const proxy = pod.spec.containers.find((c: Any) => c.name === 'oauth-proxy');
    const clusterAdmin = { group: '*', resource: '*', verb: '*' };
    expect(JSON.parse(argValue(proxy.args, '--openshift-sar')!)).toEqual({ resourceAPIGroup: '*', resource: '*', verb: '*' });
    expect(JSON.parse(argValue(proxy.args, '--openshift-delegate-urls')!)).toEqual({ '/': clusterAdmin });
    expect(argValue(proxy.args, '--skip-auth-regex')).toBe('^/healthz$');
    const [service] = byKind(manifests, 'Service');
    const certSecret = service.metadata.annotations['service.beta.openshift.io/serving-cert-secret-name'];
    expect(pod.spec.volumes.find((v: Any) => v.secret?.secretName === certSecret)).toBeDefined();
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
