import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { GATHER_SCRIPT } from '../datapath/gather-script.js';
import { durationSeconds } from './duration.js';
import { defaultPullPolicy } from './image-reference.js';
import type { OperatorImages } from './operator-config.js';
import { PATHS, PORTS } from './ports.js';
import type { ResolvedSpec } from './report-api.js';
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
  /** `namespace/name` of the report, shown on the file server's index page. */
  readonly reportRef: string;
  /** Images of the archive, file-server and proxy containers. */
  readonly images: OperatorImages;
  /** Name of the claim the data goes to. */
  readonly claimName: string;
  /** Secret with the gather service account's token (cluster-admin while gathering). */
  readonly gatherTokenSecret: string;
  /** Service account of the pod: the proxy's (the gather containers get their token from `gatherTokenSecret`). */
  readonly proxyServiceAccount: string;
  /** Secret with the proxy's cookie secret. */
  readonly proxyCookieSecret: string;
  /** Secret with the service-serving certificate for the proxy's TLS. */
  readonly servingCertSecret: string;
  /**
   * The gather command run in each image (a command after `--` for `oc adm must-gather`).
   * @default ['/usr/bin/gather']
   */
  readonly gatherCommand?: readonly string[];
}

/** Container names: the reconciler reads the pod's status by them. */
export const CONTAINERS = {
  gather: (index: number) => `gather-${index}`,
  archive: 'archive',
  fileServer: 'file-server',
  proxy: 'oauth-proxy',
} as const;

const VOLUMES = { data: 'data', gatherToken: 'gather-token', proxyToken: 'proxy-token', proxyTls: 'proxy-tls', proxyCookie: 'proxy-cookie', tmp: 'tmp' } as const;

/** OpenShift's restricted-v2 SCC, met by every container but the gathers. */
const RESTRICTED: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  seccompProfile: { type: 'RuntimeDefault' },
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
 * init container compressing everything, then the file server and the oauth-proxy sidecar in front of it.
 * `restartPolicy: Never`: a gather is not repeated; a gather's own failure is recorded and does not fail the pod.
 */
export class ReportPod extends Construct {
  /** The pod. */
  readonly pod: k8s.KubePod;

  constructor(scope: Construct, id: string, props: ReportPodProps) {
    super(scope, id);
    const { spec } = props;
    const gathers = spec.images.map((image, i) => this.gatherContainer(props, image, i + 1));
    this.pod = new k8s.KubePod(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        serviceAccountName: props.proxyServiceAccount,
        automountServiceAccountToken: false,
        restartPolicy: 'Never',
        enableServiceLinks: false,
        priorityClassName: 'system-cluster-critical',
        terminationGracePeriodSeconds: 30,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ operator: 'Exists' }],
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{
              weight: 100,
              preference: { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] },
            }],
          },
        },
        initContainers: [...gathers, this.archiveContainer(props)],
        containers: [this.fileServerContainer(props), this.proxyContainer(props)],
        volumes: [
          { name: VOLUMES.data, persistentVolumeClaim: { claimName: props.claimName } },
          {
            name: VOLUMES.gatherToken,
            secret: { secretName: props.gatherTokenSecret, items: ['token', 'ca.crt', 'namespace'].map((key) => ({ key, path: key })) },
          },
          {
            name: VOLUMES.proxyToken,
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                { downwardApi: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
          { name: VOLUMES.proxyTls, secret: { secretName: props.servingCertSecret } },
          { name: VOLUMES.proxyCookie, secret: { secretName: props.proxyCookieSecret } },
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
      args: ['archive', '--source', `${PATHS.data}/${PATHS.gathersSubPath}`, '--output', `${PATHS.data}/${PATHS.archiveFile}`],
      volumeMounts: [{ name: VOLUMES.data, mountPath: PATHS.data }, { name: VOLUMES.tmp, mountPath: '/tmp' }],
      terminationMessagePolicy: 'FallbackToLogsOnError',
      securityContext: RESTRICTED,
      // Two cores: the archive compresses in parallel.
      resources: { requests: { cpu: q('200m'), memory: q('128Mi') }, limits: { cpu: q('2'), memory: q('512Mi') } },
    };
  }

  private fileServerContainer(props: ReportPodProps): k8s.Container {
    return {
      name: CONTAINERS.fileServer,
      image: props.images.operator,
      imagePullPolicy: defaultPullPolicy(props.images.operator),
      command: ['mustgather'],
      args: ['serve', '--dir', PATHS.data, '--address', '127.0.0.1', '--port', String(PORTS.fileServer), '--report', props.reportRef],
      volumeMounts: [{ name: VOLUMES.data, mountPath: PATHS.data, readOnly: true }, { name: VOLUMES.tmp, mountPath: '/tmp' }],
      securityContext: RESTRICTED,
      resources: { requests: { cpu: q('10m'), memory: q('64Mi') }, limits: { memory: q('256Mi') } },
    };
  }

  private proxyContainer(props: ReportPodProps): k8s.Container {
    // The same question in the two APIs' words: OpenShift's SubjectAccessReview (browser sessions) names the API group
    // `resourceAPIGroup`, Kubernetes' (bearer tokens, delegated) `group`. Only cluster admins may do everything.
    const clusterAdmin = { group: '*', resource: '*', verb: '*' };
    const clusterAdminOpenShift = { resourceAPIGroup: '*', resource: '*', verb: '*' };
    return {
      name: CONTAINERS.proxy,
      image: props.images.oauthProxy,
      imagePullPolicy: defaultPullPolicy(props.images.oauthProxy),
      args: [
        '--provider=openshift',
        `--https-address=:${PORTS.proxy}`,
        '--http-address=',
        `--upstream=http://127.0.0.1:${PORTS.fileServer}`,
        `--openshift-service-account=${props.proxyServiceAccount}`,
        // Browser sessions and bearer tokens alike must pass a cluster-wide "* * *" access review: cluster admins only.
        `--openshift-sar=${JSON.stringify(clusterAdminOpenShift)}`,
        `--openshift-delegate-urls=${JSON.stringify({ '/': clusterAdmin })}`,
        `--openshift-ca=${PATHS.serviceAccount}/ca.crt`,
        `--client-secret-file=${PATHS.serviceAccount}/token`,
        `--tls-cert=${PATHS.proxyTls}/tls.crt`,
        `--tls-key=${PATHS.proxyTls}/tls.key`,
        `--cookie-secret-file=${PATHS.proxyCookie}/session_secret`,
        '--email-domain=*',
        '--skip-auth-regex=^/healthz$',
      ],
      ports: [{ name: PORTS.proxyName, containerPort: PORTS.proxy, protocol: 'TCP' }],
      volumeMounts: [
        { name: VOLUMES.proxyToken, mountPath: PATHS.serviceAccount, readOnly: true },
        { name: VOLUMES.proxyTls, mountPath: PATHS.proxyTls, readOnly: true },
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
