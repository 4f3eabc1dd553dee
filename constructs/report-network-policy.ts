import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';

/** Props of {@link ReportNetworkPolicy}. */
export interface ReportNetworkPolicyProps {
  /** Namespace of the policy. */
  readonly namespace: string;
  /** Name of the policy. */
  readonly name: string;
  /** Labels of the report pod. */
  readonly podSelector: Record<string, string>;
  /** The one container port that is reachable: the pod's TLS front (oauth-proxy's or the file server's). */
  readonly port: number;
}

/**
 * Admits traffic to the report pod on its TLS front only (oauth-proxy on OpenShift, the file server elsewhere): on
 * OpenShift the file server is reached through the proxy alone, and anything else the pod might open (a debug port,
 * a gather's listener) stays unreachable.
 */
export class ReportNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: ReportNetworkPolicyProps) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        podSelector: { matchLabels: props.podSelector },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: k8s.IntOrString.fromNumber(props.port), protocol: 'TCP' }] }],
      },
    });
  }
}
