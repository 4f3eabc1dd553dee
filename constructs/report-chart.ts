import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { annotateAll } from './annotate.js';
import { ClientCa } from './client-ca.js';
import { GatherAccess } from './gather-access.js';
import { type GatherToken, GatherTokenSecret } from './gather-token-secret.js';
import { DEFAULT_IMAGES, gatherImages, type OperatorImages } from './operator-config.js';
import { type ClusterFacts, DEFAULT_DOWNLOAD_ACCESS, type DownloadAccess, type Platform, PORTS } from './pod-contract.js';
import { ProxyAccess } from './proxy-access.js';
import { ProxyCookieSecret } from './proxy-cookie-secret.js';
import { type MustGatherReport, resolveSpec } from './report-api.js';
import { LABELS, REPORT_ANNOTATION, ingressHostname, reportLabels, reportObjectNames, serviceHostnames } from './report-identity.js';
import { type IngressOptions, ReportIngress } from './report-ingress.js';
import { ReportNamespace } from './report-namespace.js';
import { ReportNetworkPolicy } from './report-network-policy.js';
import { ReportPod } from './report-pod.js';
import { ReportRoute } from './report-route.js';
import { ReportService, SERVICE_PORT_NAME } from './report-service.js';
import { ReportVolume } from './report-volume.js';
import { type CertificateAndKey, ServingCert } from './serving-cert.js';
import { ServerAccess } from './server-access.js';

/** Props of {@link ReportChart}. */
export interface ReportChartProps extends ChartProps {
  /** The report to render: its metadata (name, namespace, uid) and a valid spec. */
  readonly report: MustGatherReport;
  /**
   * Platform profile. `openshift`: Route, service-CA certificate and oauth-proxy for browser logins. `kubernetes`: the
   * file server alone, with a certificate from the operator's CA ({@link servingCertificate}) and an optional Ingress.
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /**
   * The must-gather images to run, in order, as the operator resolved them (the report's `images`, or the default
   * image, plus what `allImages` and `imageStreams` add). At least one.
   * @default gatherImages(report.spec): spec.images, or [DEFAULT_GATHER_IMAGE]
   */
  readonly gatherImages?: readonly string[];
  /**
   * What the operator saw of the cluster when the report started (`status.cluster`): handed to the archive step,
   * which writes it into the archive's summary. An input like the images, so the chart stays a pure function.
   * @default - none: the summary says the cluster is not known (an offline render)
   */
  readonly clusterFacts?: ClusterFacts;
  /**
   * Whether to render the {@link runtimeObjects}, whose content only the operator may make at runtime. `omit` leaves
   * them out, so an offline render (`mustgather synth`, `cdk8s synth`) is the same bytes every time and holds no
   * placeholder anyone could apply; {@link cookieSecret} and {@link servingCertificate} are then not needed. `only`
   * renders them alone: the operator renders the rest once per report (it changes rarely, and costs a millisecond or
   * more) and these, small and changing (a new token), whenever it needs them. `omit` and `only` together are
   * `render`.
   * @default 'render'
   */
  readonly runtimeObjects?: 'render' | 'omit' | 'only';
  /**
   * oauth-proxy's cookie secret (base64 of 32 random bytes), OpenShift profile (required there unless
   * {@link runtimeObjects} is `omit`). Random by nature, so an input: the reconciler generates it once and passes the
   * live value back, keeping the chart a pure function of its props.
   * @default - none
   */
  readonly cookieSecret?: string;
  /**
   * The file server's serving certificate, Kubernetes profile (required there unless {@link runtimeObjects} is `omit`;
   * OpenShift's service CA issues its own). Random by nature like the cookie secret: the reconciler issues it once and
   * passes the live one back.
   * @default - none
   */
  readonly servingCertificate?: CertificateAndKey;
  /**
   * The cluster's client CA bundle (PEM), against which the file server checks client certificates.
   * @default '' - no client CA: bearer tokens only
   */
  readonly clientCa?: string;
  /**
   * Who may download (the SubjectAccessReview the file server, and oauth-proxy, ask for).
   * @default DEFAULT_DOWNLOAD_ACCESS
   */
  readonly downloadAccess?: DownloadAccess;
  /**
   * An Ingress for a URL outside the cluster (Kubernetes profile).
   * @default - none: the report is reached through its Service
   */
  readonly ingress?: IngressOptions;
  /**
   * Images of the archive/file-server containers and of oauth-proxy.
   * @default DEFAULT_IMAGES
   */
  readonly images?: OperatorImages;
  /**
   * Where the report is in its life: while it gathers, the gather service account, its cluster-admin binding and its
   * token exist; once every gather has finished (or the report ended before), the chart holds none of them.
   * @default true
   */
  readonly gathering?: boolean;
  /**
   * The gather service account's token, while gathering: a runtime object like the cookie secret. The operator
   * requests it once the service account exists, so its first render of a report has none.
   * @default - no token Secret
   */
  readonly gatherToken?: GatherToken;
}

/** An object whose content only the operator may make, when it creates the report: random, or a private key. */
export interface RuntimeObject {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** What it holds, and why only the operator makes it. */
  readonly reason: string;
}

/** The report's {@link RuntimeObject}s on a platform: what `runtimeObjects: 'omit'` leaves out. */
export function runtimeObjects(report: MustGatherReport, platform: Platform = 'openshift'): RuntimeObject[] {
  const names = reportObjectNames(report.metadata);
  return [
    { kind: 'Secret', namespace: names.namespace, name: names.gatherTokenSecret, reason: 'the gather service account\'s token (cluster-admin while gathering), requested by the operator' },
    platform === 'openshift'
      ? { kind: 'Secret', namespace: names.namespace, name: names.proxyCookieSecret, reason: 'oauth-proxy\'s session cookie secret, random per report' }
      : { kind: 'Secret', namespace: names.namespace, name: names.servingCertSecret, reason: 'the file server\'s private key and certificate, issued by the operator\'s CA' },
  ];
}

/** The pod's own labels on top of the report's: the Service and NetworkPolicy select the pod by them. */
function podLabels(report: MustGatherReport): Record<string, string> {
  return { [LABELS.reportUid]: report.metadata.uid ?? '', [LABELS.component]: 'report-server' };
}

/**
 * Everything one report needs, from the report object alone: its namespace, the gather service account with its
 * temporary cluster-admin binding, the volume, the pod, the file server's service account and access, the client
 * CA, the Service and NetworkPolicy; on OpenShift the Route and oauth-proxy's secrets, elsewhere the serving
 * certificate and an optional Ingress. Every object carries the report's labels and the `namespace/name` annotation.
 */
export class ReportChart extends Chart {
  /** Names of the objects, for the reconciler. */
  readonly names: ReturnType<typeof reportObjectNames>;

  constructor(scope: Construct, id: string, props: ReportChartProps) {
    const { report } = props;
    const identity = report.metadata;
    super(scope, id, { ...props, labels: { ...props.labels, ...reportLabels(identity) } });
    const names = reportObjectNames(identity);
    this.names = names;
    const spec = resolveSpec(report.spec);
    const namespace = names.namespace;
    const selector = podLabels(report);
    const openshift = (props.platform ?? 'openshift') === 'openshift';
    const part = props.runtimeObjects ?? 'render';
    const runtime = part !== 'omit';
    const subject = `MustGatherReport/${identity.namespace}/${identity.name}`;
    if (runtime && openshift && !props.cookieSecret) throw new Error(`${subject}: the openshift profile needs oauth-proxy's cookie secret`);
    if (runtime && !openshift && !props.servingCertificate) throw new Error(`${subject}: the kubernetes profile needs a serving certificate`);
    const images = props.gatherImages ?? gatherImages(report.spec);
    if (images.length === 0) throw new Error(`${subject}: no must-gather image to run`);
    const gathering = props.gathering ?? true;

    if (part !== 'only') {
      new ReportNamespace(this, 'Namespace', { name: namespace });
      new GatherAccess(this, 'GatherAccess', {
        namespace,
        serviceAccountName: names.gatherServiceAccount,
        bindingName: names.gatherBinding,
        gathering,
      });
      const server = new ServerAccess(this, 'ServerAccess', {
        namespace,
        serviceAccountName: names.serverServiceAccount,
        authDelegatorBindingName: names.authDelegatorBinding,
        reportNamespace: identity.namespace,
        eventRecorderBindingName: names.eventRecorderBinding,
      });
      new ClientCa(this, 'ClientCa', { namespace, name: names.clientCaConfigMap, caBundle: props.clientCa ?? '' });
      new ReportVolume(this, 'Volume', {
        namespace,
        name: names.main,
        size: spec.storage.size,
        ...(spec.storage.storageClassName ? { storageClassName: spec.storage.storageClassName } : {}),
      });
      new ReportPod(this, 'Pod', {
        namespace,
        name: names.main,
        labels: selector,
        spec,
        gatherImages: images,
        summary: { report: `${identity.namespace}/${identity.name}`, images: [...images], ...(props.clusterFacts ? { cluster: props.clusterFacts } : {}) },
        ...(spec.command ? { gatherCommand: spec.command } : {}),
        reportRef: `${identity.namespace}/${identity.name}`,
        reportUid: identity.uid ?? '',
        platform: openshift ? 'openshift' : 'kubernetes',
        downloadAccess: props.downloadAccess ?? DEFAULT_DOWNLOAD_ACCESS,
        images: props.images ?? DEFAULT_IMAGES,
        claimName: names.main,
        gatherTokenSecret: names.gatherTokenSecret,
        serverServiceAccount: names.serverServiceAccount,
        servingCertSecret: names.servingCertSecret,
        clientCaConfigMap: names.clientCaConfigMap,
        proxyCookieSecret: names.proxyCookieSecret,
        serviceHostname: serviceHostnames(names)[0]!,
      });
      // The pod's TLS front: oauth-proxy on OpenShift, the file server itself elsewhere.
      const front = openshift ? { name: PORTS.proxyName, port: PORTS.proxy } : { name: PORTS.fileServerName, port: PORTS.fileServer };
      new ReportService(this, 'Service', {
        namespace,
        name: names.main,
        podSelector: selector,
        targetPort: front.name,
        ...(openshift ? { serviceCaSecretName: names.servingCertSecret } : {}),
      });
      if (openshift) {
        new ProxyAccess(this, 'ProxyAccess', { serviceAccount: server.serviceAccount, routeName: names.main });
        new ReportRoute(this, 'Route', { namespace, name: names.main, serviceName: names.main, servicePort: SERVICE_PORT_NAME });
      } else if (props.ingress) {
        new ReportIngress(this, 'Ingress', {
          namespace,
          name: names.main,
          host: ingressHostname(names, props.ingress.hostSuffix),
          ...(props.ingress.className ? { className: props.ingress.className } : {}),
          serviceName: names.main,
          servicePort: SERVICE_PORT_NAME,
          tlsSecretName: names.servingCertSecret,
        });
      }
      new ReportNetworkPolicy(this, 'NetworkPolicy', { namespace, name: names.networkPolicy, podSelector: selector, port: front.port });
    }
    if (runtime) {
      // The runtime objects, last: what the operator makes at runtime (see runtimeObjects()).
      if (gathering && props.gatherToken) new GatherTokenSecret(this, 'GatherToken', { namespace, name: names.gatherTokenSecret, token: props.gatherToken });
      if (openshift) new ProxyCookieSecret(this, 'ProxyCookie', { namespace, name: names.proxyCookieSecret, cookieSecret: props.cookieSecret! });
      else new ServingCert(this, 'ServingCert', { namespace, name: names.servingCertSecret, certificate: props.servingCertificate! });
    }

    annotateAll(this, { [REPORT_ANNOTATION]: `${identity.namespace}/${identity.name}` });
  }
}
