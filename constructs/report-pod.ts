import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { durationSeconds } from './duration.js';
import { GATHER_SCRIPT } from './gather-script.js';
import { defaultPullPolicy } from './image-reference.js';
import type { OperatorImages } from './operator-config.js';
import { CONTAINERS, type DownloadAccess, formatDownloadAccess, formatSummaryInput, PATHS, type Platform, PORTS, SUMMARY_ENV, type SummaryInput } from './pod-contract.js';
import { redactKinds, type ResolvedSpec } from './report-api.js';
import { gatherDirectory } from './report-identity.js';

/** Props of {@link ReportPod}. */
export interface ReportPodProps {
  /** Namespace of the pod. */
  readonly namespace: string;
  /** Name of the pod. */
  readonly name: string;
  /** Labels of the pod (the Service and NetworkPolicy select them). */
  readonly labels: Record<string, string>;
  /** The report's spec, defaults resolved. */
  readonly spec: ResolvedSpec;
  /** The must-gather images to run, in order (one gather container each). */
  readonly gatherImages: readonly string[];
  /** What the archive step writes into the archive's summary, besides each gather's result. */
  readonly summary: SummaryInput;
  /** `namespace/name` of the report: the file server records downloads on it and shows it on its index page. */
  readonly reportRef: string;
  /** uid of the report (the involvedObject of the file server's Events). */
  readonly reportUid: string;
  /** Platform profile: on OpenShift oauth-proxy fronts the file server for browser logins. */
  readonly platform: Platform;
  /** Who may download: the SubjectAccessReview the file server asks for. */
  readonly downloadAccess: DownloadAccess;
  /** Images of the archive, file-server and proxy containers. */
  readonly images: OperatorImages;
  /** Name of the claim the data goes to. */
  readonly claimName: string;
  /** Secret with the gather service account's token (cluster-admin while gathering). */
  readonly gatherTokenSecret: string;
  /** Service account of the pod: the file server's (the gather containers get their token from `gatherTokenSecret`). */
  readonly serverServiceAccount: string;
  /** Secret with the serving certificate (`tls.crt`, `tls.key`) of the file server and oauth-proxy. */
  readonly servingCertSecret: string;
  /** ConfigMap with the cluster's client CA (`ca.crt`). */
  readonly clientCaConfigMap: string;
  /** Secret with oauth-proxy's cookie secret (OpenShift profile). */
  readonly proxyCookieSecret: string;
  /** `<service>.<namespace>.svc`: the name the serving certificate holds, so oauth-proxy can verify its upstream by it. */
  readonly serviceHostname: string;
  /**
   * The gather command run in each image (a command after `--` for `oc adm must-gather`).
   * @default ['/usr/bin/gather']
   */
  readonly gatherCommand?: readonly string[];
}

const VOLUMES = {
  data: 'data', gatherToken: 'gather-token', serverToken: 'server-token', serverTls: 'server-tls', clientCa: 'client-ca',
  proxyCookie: 'proxy-cookie', tmp: 'tmp',
} as const;

/**
 * The uid and gid of the archive, file-server and proxy containers: the project image's user (UBI's 1001), set
 * explicitly because the report namespace is run-level 0, so no SCC assigns one from a namespace range.
 */
const NON_ROOT_ID = 1001;
/**
 * The volume's group (`fsGroup`): the kubelet makes the volume group-owned and group-writable by it, so the non-root
 * archive step can write into a volume the gathers (often root) filled and the file server can read it. Fixed, and
 * equal to the non-root containers' own gid, because nothing else assigns one in a run-level-0 namespace.
 */
const VOLUME_GROUP = NON_ROOT_ID;

/** OpenShift's restricted-v2 SCC, met by every container but the gathers. */
const RESTRICTED: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  seccompProfile: { type: 'RuntimeDefault' },
  runAsUser: NON_ROOT_ID,
  runAsGroup: NON_ROOT_ID,
};

/**
 * Gather containers run a must-gather image as it was built (often as root, writing where it likes) with a
 * cluster-admin token: what `oc adm must-gather` does. They are never privileged and cannot escalate; whatever
 * privileged work a gather needs (node debug pods) it asks the API for, which the binding allows.
 */
const GATHER_SECURITY: k8s.SecurityContext = { privileged: false, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } };

const q = (value: string) => k8s.Quantity.fromString(value);

/**
 * The report pod: one init container per image (in order) gathering into its own sub-directory of the volume, an
 * init container compressing everything, then the file server (TLS, checking every caller itself) and, on
 * OpenShift, the oauth-proxy sidecar in front of it for browser logins.
 * `restartPolicy: Never`: a gather is not repeated; a gather's own failure is recorded and does not fail the pod.
 */
export class ReportPod extends Construct {
  /** The pod. */
  readonly pod: k8s.KubePod;

  constructor(scope: Construct, id: string, props: ReportPodProps) {
    super(scope, id);
    const { spec } = props;
    const gathers = props.gatherImages.map((image, i) => this.gatherContainer(props, image, i + 1));
    const openshift = props.platform === 'openshift';
    this.pod = new k8s.KubePod(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        serviceAccountName: props.serverServiceAccount,
        automountServiceAccountToken: false,
        securityContext: { fsGroup: VOLUME_GROUP, fsGroupChangePolicy: 'OnRootMismatch' },
        // oauth-proxy reaches the file server by the Service's name, which its certificate holds, on loopback.
        ...(openshift ? { hostAliases: [{ ip: '127.0.0.1', hostnames: [props.serviceHostname] }] } : {}),
        restartPolicy: 'Never',
        enableServiceLinks: false,
        priorityClassName: 'system-cluster-critical',
        terminationGracePeriodSeconds: 30,
        nodeSelector: { 'kubernetes.io/os': 'linux', ...spec.nodeSelector },
        tolerations: [{ operator: 'Exists' }],
        affinity: {
          nodeAffinity: {
            // spec.nodeName as a scheduling constraint, as the DaemonSet controller does: a pod bound to a node by
            // nodeName skips the scheduler, and a WaitForFirstConsumer volume then never binds.
            ...(spec.nodeName !== undefined ? {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [spec.nodeName] }] }],
              },
            } : {}),
            preferredDuringSchedulingIgnoredDuringExecution: [{
              weight: 100,
              preference: { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] },
            }],
          },
        },
        initContainers: [...gathers, this.archiveContainer(props)],
        containers: [this.fileServerContainer(props), ...(openshift ? [this.proxyContainer(props)] : [])],
        volumes: [
          { name: VOLUMES.data, persistentVolumeClaim: { claimName: props.claimName } },
          {
            // What a service account token mount holds, with the gather account's token from its Secret.
            name: VOLUMES.gatherToken,
            projected: {
              sources: [
                { secret: { name: props.gatherTokenSecret, items: [{ key: 'token', path: 'token' }] } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                { downwardApi: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
          {
            name: VOLUMES.serverToken,
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                // OpenShift publishes its service CA in every namespace: oauth-proxy verifies its upstream with it.
                ...(openshift ? [{ configMap: { name: 'openshift-service-ca.crt', items: [{ key: 'service-ca.crt', path: 'service-ca.crt' }] } }] : []),
                { downwardApi: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
          { name: VOLUMES.serverTls, secret: { secretName: props.servingCertSecret } },
          { name: VOLUMES.clientCa, configMap: { name: props.clientCaConfigMap } },
          ...(openshift ? [{ name: VOLUMES.proxyCookie, secret: { secretName: props.proxyCookieSecret } }] : []),
          { name: VOLUMES.tmp, emptyDir: { sizeLimit: q('64Mi') } },
        ],
      },
    });
  }

  private gatherContainer(props: ReportPodProps, image: string, index: number): k8s.Container {
    const { spec } = props;
    const env: k8s.EnvVar[] = [
      { name: 'MUST_GATHER_IMAGE', value: image },
      { name: 'MUST_GATHER_INDEX', value: String(index) },
      { name: 'MUST_GATHER_TIMEOUT_SECONDS', value: String(durationSeconds(spec.timeout)) },
      { name: 'MUST_GATHER_VOLUME_PERCENTAGE', value: String(spec.volumePercentage) },
      ...(spec.since !== undefined ? [{ name: 'MUST_GATHER_SINCE', value: spec.since }] : []),
      ...(spec.sinceTime !== undefined ? [{ name: 'MUST_GATHER_SINCE_TIME', value: spec.sinceTime }] : []),
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ];
    return {
      name: CONTAINERS.gather(index),
      image,
      imagePullPolicy: defaultPullPolicy(image),
      // bash -c SCRIPT NAME ARGS...: the script runs the gather command given as its arguments.
      command: ['/bin/bash', '-c', GATHER_SCRIPT, 'mustgather-gather'],
      args: [...(props.gatherCommand ?? ['/usr/bin/gather'])],
      env,
      volumeMounts: [
        { name: VOLUMES.data, mountPath: PATHS.gatherOutput, subPath: `${PATHS.gathersSubPath}/${gatherDirectory(index, image)}` },
        { name: VOLUMES.gatherToken, mountPath: PATHS.serviceAccount, readOnly: true },
      ],
      terminationMessagePolicy: 'FallbackToLogsOnError',
      securityContext: GATHER_SECURITY,
      // No limits: a gather killed for memory loses its data; requests keep the scheduler honest.
      resources: { requests: { cpu: q('100m'), memory: q('256Mi') } },
    };
  }

  private archiveContainer(props: ReportPodProps): k8s.Container {
    return {
      name: CONTAINERS.archive,
      image: props.images.operator,
      imagePullPolicy: defaultPullPolicy(props.images.operator),
      command: ['mustgather'],
      args: [
        'archive', '--source', `${PATHS.data}/${PATHS.gathersSubPath}`, '--output', `${PATHS.data}/${PATHS.archiveFile}`,
        ...(redactKinds(props.spec).length > 0 ? ['--redact', redactKinds(props.spec).join(',')] : []),
      ],
      env: [{ name: SUMMARY_ENV, value: formatSummaryInput(props.summary) }],
      volumeMounts: [{ name: VOLUMES.data, mountPath: PATHS.data }, { name: VOLUMES.tmp, mountPath: '/tmp' }],
      terminationMessagePolicy: 'FallbackToLogsOnError',
      securityContext: RESTRICTED,
      // Two cores: the archive compresses in parallel.
      resources: { requests: { cpu: q('200m'), memory: q('128Mi') }, limits: { cpu: q('2'), memory: q('512Mi') } },
    };
  }

  private fileServerContainer(props: ReportPodProps): k8s.Container {
    const port = k8s.IntOrString.fromString(PORTS.fileServerName);
    return {
      name: CONTAINERS.fileServer,
      image: props.images.operator,
      imagePullPolicy: defaultPullPolicy(props.images.operator),
      command: ['mustgather'],
      args: [
        'serve', '--dir', PATHS.data, '--address', '0.0.0.0', '--port', String(PORTS.fileServer),
        '--tls-cert-file', `${PATHS.serverTls}/tls.crt`, '--tls-private-key-file', `${PATHS.serverTls}/tls.key`,
        '--client-ca-file', `${PATHS.clientCa}/ca.crt`, '--download-access', formatDownloadAccess(props.downloadAccess),
        '--report', props.reportRef, '--report-uid', props.reportUid,
      ],
      ports: [{ name: PORTS.fileServerName, containerPort: PORTS.fileServer, protocol: 'TCP' }],
      volumeMounts: [
        { name: VOLUMES.data, mountPath: PATHS.data, readOnly: true },
        // Its own token, for the TokenReviews and SubjectAccessReviews of every caller and the download Events.
        { name: VOLUMES.serverToken, mountPath: PATHS.serviceAccount, readOnly: true },
        { name: VOLUMES.serverTls, mountPath: PATHS.serverTls, readOnly: true },
        { name: VOLUMES.clientCa, mountPath: PATHS.clientCa, readOnly: true },
        { name: VOLUMES.tmp, mountPath: '/tmp' },
      ],
      readinessProbe: { httpGet: { path: '/healthz', port, scheme: 'HTTPS' }, periodSeconds: 5 },
      securityContext: RESTRICTED,
      resources: { requests: { cpu: q('10m'), memory: q('64Mi') }, limits: { memory: q('256Mi') } },
    };
  }

  private proxyContainer(props: ReportPodProps): k8s.Container {
    // The file server's own question in the two APIs' words: OpenShift's SubjectAccessReview (browser sessions) names
    // the API group `resourceAPIGroup`, the object `resourceName` and a subresource `resource/subresource`;
    // Kubernetes' (bearer tokens, delegated) `group`, `name` and `subresource`. The proxy asks first so a refused
    // browser gets its sign-in page rather than the server's 403.
    const { verb, group, resource, subresource, namespace, name } = props.downloadAccess;
    const scope = namespace ? { namespace } : {};
    const access = { group, resource, verb, ...(subresource ? { subresource } : {}), ...scope, ...(name ? { name } : {}) };
    const accessOpenShift = {
      resourceAPIGroup: group, resource: subresource ? `${resource}/${subresource}` : resource, verb, ...scope, ...(name ? { resourceName: name } : {}),
    };
    return {
      name: CONTAINERS.proxy,
      image: props.images.oauthProxy,
      imagePullPolicy: defaultPullPolicy(props.images.oauthProxy),
      args: [
        '--provider=openshift',
        `--https-address=:${PORTS.proxy}`,
        '--http-address=',
        // The file server over TLS, verified by the name its service-CA certificate holds (a host alias for loopback).
        `--upstream=https://${props.serviceHostname}:${PORTS.fileServer}`,
        `--upstream-ca=${PATHS.serviceAccount}/service-ca.crt`,
        // The user's own token goes on (browser sessions' and bearer tokens alike), so the file server's check applies
        // behind the proxy too; the Authorization header stays the client's, not a made-up basic-auth one.
        '--pass-access-token',
        '--pass-user-bearer-token',
        '--pass-basic-auth=false',
        `--openshift-service-account=${props.serverServiceAccount}`,
        `--openshift-sar=${JSON.stringify(accessOpenShift)}`,
        `--openshift-delegate-urls=${JSON.stringify({ '/': access })}`,
        `--openshift-ca=${PATHS.serviceAccount}/ca.crt`,
        `--client-secret-file=${PATHS.serviceAccount}/token`,
        `--tls-cert=${PATHS.serverTls}/tls.crt`,
        `--tls-key=${PATHS.serverTls}/tls.key`,
        `--cookie-secret-file=${PATHS.proxyCookie}/session_secret`,
        '--email-domain=*',
        '--skip-auth-regex=^/healthz$',
      ],
      ports: [{ name: PORTS.proxyName, containerPort: PORTS.proxy, protocol: 'TCP' }],
      volumeMounts: [
        { name: VOLUMES.serverToken, mountPath: PATHS.serviceAccount, readOnly: true },
        { name: VOLUMES.serverTls, mountPath: PATHS.serverTls, readOnly: true },
        { name: VOLUMES.proxyCookie, mountPath: PATHS.proxyCookie, readOnly: true },
        { name: VOLUMES.tmp, mountPath: '/tmp' },
      ],
      readinessProbe: {
        httpGet: { path: '/healthz', port: k8s.IntOrString.fromString(PORTS.proxyName), scheme: 'HTTPS' },
        periodSeconds: 5,
      },
      livenessProbe: {
        httpGet: { path: '/oauth/healthz', port: k8s.IntOrString.fromString(PORTS.proxyName), scheme: 'HTTPS' },
        periodSeconds: 20,
        failureThreshold: 3,
      },
      securityContext: RESTRICTED,
      resources: { requests: { cpu: q('10m'), memory: q('32Mi') }, limits: { memory: q('128Mi') } },
    };
  }
}
