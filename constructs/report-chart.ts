import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { annotateAll } from './annotate.js';
import { GatherAccess } from './gather-access.js';
import { DEFAULT_IMAGES, type OperatorImages } from './operator-config.js';
import { ProxyAccess } from './proxy-access.js';
import { type MustGatherReport, resolveSpec } from './report-api.js';
import { ReportExposure } from './report-exposure.js';
import { LABELS, REPORT_ANNOTATION, reportLabels, reportObjectNames } from './report-identity.js';
import { ReportNamespace } from './report-namespace.js';
import { ReportNetworkPolicy } from './report-network-policy.js';
import { ReportPod } from './report-pod.js';
import { ReportVolume } from './report-volume.js';

/** Props of {@link ReportChart}. */
export interface ReportChartProps extends ChartProps {
  /** The report to render: its metadata (name, namespace, uid) and a valid spec. */
  readonly report: MustGatherReport;
  /**
   * oauth-proxy's cookie secret (base64 of 32 random bytes). Random by nature, so an input: the reconciler
   * generates it once and passes the live value back, keeping the chart a pure function of its props.
   */
  readonly cookieSecret: string;
  /**
   * Images of the archive/file-server containers and of oauth-proxy.
   * @default DEFAULT_IMAGES
   */
  readonly images?: OperatorImages;
}

/** The pod's own labels on top of the report's: the Service and NetworkPolicy select the pod by them. */
function podLabels(report: MustGatherReport): Record<string, string> {
  return { [LABELS.reportUid]: report.metadata.uid ?? '', [LABELS.component]: 'report-server' };
}

/**
 * Everything one report needs, from the report object alone: its namespace, the gather service account with its
 * temporary cluster-admin binding, the volume, the pod, oauth-proxy's service account and secrets, the Service,
 * Route and NetworkPolicy. Every object carries the report's labels and the `namespace/name` annotation.
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

    new ReportNamespace(this, 'Namespace', { name: namespace });
    new GatherAccess(this, 'GatherAccess', {
      namespace,
      serviceAccountName: names.gatherServiceAccount,
      tokenSecretName: names.gatherTokenSecret,
      bindingName: names.gatherBinding,
    });
    new ProxyAccess(this, 'ProxyAccess', {
      namespace,
      serviceAccountName: names.proxyServiceAccount,
      routeName: names.main,
      cookieSecretName: names.proxyCookieSecret,
      cookieSecret: props.cookieSecret,
      authDelegatorBindingName: names.proxyAuthDelegatorBinding,
    });
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
      reportRef: `${identity.namespace}/${identity.name}`,
      images: props.images ?? DEFAULT_IMAGES,
      claimName: names.main,
      gatherTokenSecret: names.gatherTokenSecret,
      proxyServiceAccount: names.proxyServiceAccount,
      proxyCookieSecret: names.proxyCookieSecret,
      servingCertSecret: names.servingCertSecret,
    });
    new ReportExposure(this, 'Exposure', { namespace, name: names.main, podSelector: selector, servingCertSecret: names.servingCertSecret });
    new ReportNetworkPolicy(this, 'NetworkPolicy', { namespace, name: names.networkPolicy, podSelector: selector });

    annotateAll(this, { [REPORT_ANNOTATION]: `${identity.namespace}/${identity.name}` });
  }
}
