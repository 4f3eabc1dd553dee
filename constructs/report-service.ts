import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { PORTS } from './pod-contract.js';

/** Name of the Service's one port (443), which a Route or an Ingress forwards to. */
export const SERVICE_PORT_NAME = 'https';

/** Props of {@link ReportService}. */
export interface ReportServiceProps {
  /** Namespace of the Service. */
  readonly namespace: string;
  /** Name of the Service. */
  readonly name: string;
  /** Labels of the report pod, which the Service selects. */
  readonly podSelector: Record<string, string>;
  /** Name of the pod's container port the Service forwards to (oauth-proxy's or the file server's). */
  readonly targetPort: string;
  /**
   * Have OpenShift's service CA write the serving certificate into this Secret.
   * @default - no annotation: the operator issues the certificate
   */
  readonly serviceCaSecretName?: string;
}

/** The report's Service: port 443 (https) to the pod's TLS front, whichever container that is on this platform. */
export class ReportService extends Construct {
  /** The Service. */
  readonly service: k8s.KubeService;

  constructor(scope: Construct, id: string, props: ReportServiceProps) {
    super(scope, id);
    this.service = new k8s.KubeService(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        ...(props.serviceCaSecretName ? { annotations: { 'service.beta.openshift.io/serving-cert-secret-name': props.serviceCaSecretName } } : {}),
      },
      spec: {
        type: 'ClusterIP',
        selector: props.podSelector,
        ports: [{ name: SERVICE_PORT_NAME, port: PORTS.service, targetPort: k8s.IntOrString.fromString(props.targetPort), protocol: 'TCP' }],
      },
    });
  }
}
