import { ApiObject, type ApiObjectProps, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { annotateAll } from './annotate.js';
import { MustGatherReportCrd } from './crd.js';
import { DEFAULT_IMAGES, DEFAULT_MAX_GATHERING, DEFAULT_STORAGE_BUDGET, IMAGE_ENV, OPERATOR_NODE_OPTIONS, type OperatorImages } from './operator-config.js';
import { API_GROUP, PLURAL } from './report-api.js';
import { EVENT_RECORDER_CLUSTER_ROLE, EVENT_RECORDER_CLUSTER_ROLE_OBJECT, GATHER_SERVICE_ACCOUNT } from './report-identity.js';

/** Props of {@link InstallChart}. */
export interface InstallChartProps extends ChartProps {
  /**
   * Namespace the operator runs in.
   * @default 'openshift-must-gather-operator'
   */
  readonly operatorNamespace?: string;
  /**
   * Images of the operator (also the report pod's archive and file server) and of oauth-proxy.
   * @default DEFAULT_IMAGES
   */
  readonly images?: OperatorImages;
  /**
   * Reports gathering at once (`mustgather run --max-gathering`); 0: no limit.
   * @default DEFAULT_MAX_GATHERING
   */
  readonly maxGathering?: number;
  /**
   * The storage budget of the report volumes (`mustgather run --storage-budget`), a quantity; '0': no limit.
   * @default DEFAULT_STORAGE_BUDGET
   */
  readonly storageBudget?: string;
  /**
   * Annotations added to every object (the release manifests add the cluster-version operator's profile annotations).
   * @default - none
   */
  readonly commonAnnotations?: Record<string, string>;
  /**
   * Render for the OpenShift release payload: add the `ClusterOperator` object and the `RELEASE_VERSION` the
   * cluster-version operator substitutes.
   * @default false
   */
  readonly release?: boolean;
}

/** The version placeholder the cluster-version operator replaces with the release's version. */
export const RELEASE_VERSION_PLACEHOLDER = '0.0.1-snapshot';
/** Environment variable carrying the operator's version, reported in its ClusterOperator. */
export const RELEASE_VERSION_ENV = 'RELEASE_VERSION';

export const OPERATOR_NAME = 'must-gather-operator';
export const DEFAULT_OPERATOR_NAMESPACE = 'openshift-must-gather-operator';
/** Port of the operator's HTTP server: /healthz, /readyz and /metrics. */
export const OPERATOR_HTTP_PORT = 8080;

const CRUD = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/**
 * The operator's cluster role: exactly what it creates, and `bind` on the two cluster roles the report charts bind
 * (so it can grant cluster-admin to a gather without holding, or granting itself, anything broader).
 */
export const OPERATOR_RULES: k8s.PolicyRule[] = [
  { apiGroups: [API_GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'] },
  { apiGroups: [API_GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  { apiGroups: [API_GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  // Secrets: the reports' and, in its own namespace, its serving CA. ConfigMaps: the client CA handed to each report.
  { apiGroups: [''], resources: ['namespaces', 'persistentvolumeclaims', 'services', 'serviceaccounts', 'secrets', 'configmaps'], verbs: CRUD },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
  // Tokens of the reports' gather service accounts only (TokenRequest: the name is in the request's path).
  { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'], resourceNames: [GATHER_SERVICE_ACCOUNT] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies', 'ingresses'], verbs: CRUD },
  { apiGroups: ['route.openshift.io'], resources: ['routes'], verbs: CRUD },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterrolebindings', 'rolebindings'], verbs: CRUD },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['cluster-admin', 'system:auth-delegator', EVENT_RECORDER_CLUSTER_ROLE] },
  // Roles: none is made any more (the file server's Events permission is a binding of the ClusterRole above); watched
  // and deleted so that the Roles earlier versions made beside reports are pruned.
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['get', 'list', 'watch', 'delete'] },
  // Its own ClusterOperator only (creating cannot be limited by name; everything else is).
  { apiGroups: ['config.openshift.io'], resources: ['clusteroperators'], verbs: ['create'] },
  // Read when a report starts (never watched): which images it runs (the default image stream, spec.imageStreams, the
  // operators' must-gather-image annotations for allImages) and what its summary tells of the cluster.
  { apiGroups: ['config.openshift.io'], resources: ['clusteroperators'], verbs: ['list'] },
  { apiGroups: ['config.openshift.io'], resources: ['clusterversions'], verbs: ['get'], resourceNames: ['version'] },
  { apiGroups: ['config.openshift.io'], resources: ['infrastructures'], verbs: ['get'], resourceNames: ['cluster'] },
  { apiGroups: ['operators.coreos.com'], resources: ['clusterserviceversions'], verbs: ['list'] },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
  { apiGroups: ['config.openshift.io'], resources: ['clusteroperators', 'clusteroperators/status'], verbs: ['get', 'update', 'patch'], resourceNames: ['must-gather-operator'] },
];

const q = (value: string) => k8s.Quantity.fromString(value);

/** The operator's install manifests: CRD, namespace, RBAC, Deployment and metrics Service. */
export class InstallChart extends Chart {
  constructor(scope: Construct, id: string, props: InstallChartProps = {}) {
    super(scope, id, { ...props, labels: { 'app.kubernetes.io/name': OPERATOR_NAME, ...props.labels } });
    const namespace = props.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE;
    const images = props.images ?? DEFAULT_IMAGES;
    const selector = { 'app.kubernetes.io/name': OPERATOR_NAME };

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: { name: namespace, labels: { 'openshift.io/cluster-monitoring': 'true' }, annotations: { 'openshift.io/node-selector': '' } },
    });
    new MustGatherReportCrd(this, 'Crd');
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name: OPERATOR_NAME, namespace } });
    new k8s.KubeClusterRole(this, 'ClusterRole', { metadata: { name: OPERATOR_NAME }, rules: OPERATOR_RULES });
    // What each report's file server is bound to in the report's namespace: recording downloads as Events there.
    new ApiObject(this, 'EventRecorderClusterRole', structuredClone(EVENT_RECORDER_CLUSTER_ROLE_OBJECT) as ApiObjectProps);
    new k8s.KubeClusterRoleBinding(this, 'ClusterRoleBinding', {
      metadata: { name: OPERATOR_NAME },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    });
    // The cluster's client CA, which the operator hands to each report's file server: kube-system's own reader Role,
    // limited to that one ConfigMap (what every aggregated API server is bound to).
    new k8s.KubeRoleBinding(this, 'ClientCaReaderRoleBinding', {
      metadata: { name: `${OPERATOR_NAME}-client-ca-reader`, namespace: 'kube-system' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    });
    new k8s.KubeRole(this, 'LeaderElectionRole', {
      metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this, 'LeaderElectionRoleBinding', {
      metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    });
    const http = k8s.IntOrString.fromString('http');
    new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name: OPERATOR_NAME, namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector, annotations: { 'target.workload.openshift.io/management': '{"effect": "PreferredDuringScheduling"}' } },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            priorityClassName: 'system-cluster-critical',
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [{ key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' }],
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'operator',
              image: images.operator,
              imagePullPolicy: 'IfNotPresent',
              command: ['mustgather'],
              // The fleet's limits written out, defaults included: the place an admin looks for them and changes them.
              args: [
                'run', `--listen=:${OPERATOR_HTTP_PORT}`, '--leader-elect',
                `--max-gathering=${props.maxGathering ?? DEFAULT_MAX_GATHERING}`, `--storage-budget=${props.storageBudget ?? DEFAULT_STORAGE_BUDGET}`,
              ],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: IMAGE_ENV.operator, value: images.operator },
                { name: IMAGE_ENV.oauthProxy, value: images.oauthProxy },
                { name: 'NODE_OPTIONS', value: OPERATOR_NODE_OPTIONS },
                ...(props.release ? [{ name: RELEASE_VERSION_ENV, value: RELEASE_VERSION_PLACEHOLDER }] : []),
              ],
              ports: [{ name: 'http', containerPort: OPERATOR_HTTP_PORT, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/healthz', port: http }, periodSeconds: 20 },
              readinessProbe: { httpGet: { path: '/readyz', port: http }, periodSeconds: 10 },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
              resources: { requests: { cpu: q('10m'), memory: q('64Mi') }, limits: { memory: q('512Mi') } },
              terminationMessagePolicy: 'FallbackToLogsOnError',
            }],
          },
        },
      },
    });
    new k8s.KubeService(this, 'MetricsService', {
      metadata: { name: `${OPERATOR_NAME}-metrics`, namespace },
      spec: { selector, ports: [{ name: 'http', port: OPERATOR_HTTP_PORT, targetPort: http, protocol: 'TCP' }] },
    });
    if (props.release) {
      new ApiObject(this, 'ClusterOperator', {
        apiVersion: 'config.openshift.io/v1',
        kind: 'ClusterOperator',
        metadata: { name: OPERATOR_NAME },
        spec: {},
        status: { versions: [{ name: 'operator', version: RELEASE_VERSION_PLACEHOLDER }] },
      });
    }
    if (props.commonAnnotations) annotateAll(this, props.commonAnnotations);
  }
}
