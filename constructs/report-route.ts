import { Construct } from 'constructs';
import { Route, RouteSpecTlsInsecureEdgeTerminationPolicy, RouteSpecTlsTermination, RouteSpecToKind } from '../imports/route.openshift.io.js';

/** Props of {@link ReportRoute}. */
export interface ReportRouteProps {
  /** Namespace of the Route. */
  readonly namespace: string;
  /** Name of the Route. */
  readonly name: string;
  /** Name of the Service it routes to. */
  readonly serviceName: string;
  /** Name of the Service port it routes to. */
  readonly servicePort: string;
}

/**
 * OpenShift profile: a re-encrypting Route to the report's Service (the router trusts the service CA), whose admitted
 * host becomes `status.report_url`.
 */
export class ReportRoute extends Construct {
  /** The Route. */
  readonly route: Route;

  constructor(scope: Construct, id: string, props: ReportRouteProps) {
    super(scope, id);
    this.route = new Route(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        to: { kind: RouteSpecToKind.SERVICE, name: props.serviceName },
        port: { targetPort: props.servicePort },
        tls: { termination: RouteSpecTlsTermination.REENCRYPT, insecureEdgeTerminationPolicy: RouteSpecTlsInsecureEdgeTerminationPolicy.REDIRECT },
      },
    });
  }
}
