import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { Route, RouteSpecTlsInsecureEdgeTerminationPolicy, RouteSpecTlsTermination, RouteSpecToKind } from '../imports/route.openshift.io.js';
import { PORTS } from './ports.js';

/** Props of {@link ReportExposure}. */
export interface ReportExposureProps {
  /** Namespace of the Service and Route. */
  readonly namespace: string;
  /** Name of the Service and of the Route. */
  readonly name: string;
  /** Labels of the report pod, which the Service selects. */
  readonly podSelector: Record<string, string>;
  /** Secret the service CA writes the proxy's serving certificate into. */
  readonly servingCertSecret: string;
}

/**
 * How the archive is reached: a Service in front of oauth-proxy (OpenShift's service CA issues its certificate) and a
 * re-encrypting Route whose admitted host becomes `status.report_url`.
 */
export class ReportExposure extends Construct {
  /** The Service. */
  readonly service: k8s.KubeService;
  /** The Route. */
  readonly route: Route;

  constructor(scope: Construct, id: string, props: ReportExposureProps) {
    super(scope, id);
    this.service = new k8s.KubeService(this, 'Service', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        annotations: { 'service.beta.openshift.io/serving-cert-secret-name': props.servingCertSecret },
      },
      spec: {
        type: 'ClusterIP',
        selector: props.podSelector,
        ports: [{ name: PORTS.proxyName, port: PORTS.service, targetPort: k8s.IntOrString.fromString(PORTS.proxyName), protocol: 'TCP' }],
      },
    });
    this.route = new Route(this, 'Route', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        to: { kind: RouteSpecToKind.SERVICE, name: props.name },
        port: { targetPort: PORTS.proxyName },
        tls: { termination: RouteSpecTlsTermination.REENCRYPT, insecureEdgeTerminationPolicy: RouteSpecTlsInsecureEdgeTerminationPolicy.REDIRECT },
      },
    });
  }
}
