import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { PORTS } from './ports.js';

/** Props of {@link ReportNetworkPolicy}. */
export interface ReportNetworkPolicyProps {
  /** Namespace of the policy. */
  readonly namespace: string;
  /** Name of the policy. */
  readonly name: string;
  /** Labels of the report pod. */
  readonly podSelector: Record<string, string>;
}

/**
 * Admits traffic to the report pod on the proxy port only: the file server listens on localhost anyway, and this
 * keeps anything else the pod might open (a debug port, a gather's listener) unreachable.
 */
export class ReportNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: ReportNetworkPolicyProps) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        podSelector: { matchLabels: props.podSelector },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: k8s.IntOrString.fromNumber(PORTS.proxy), protocol: 'TCP' }] }],
      },
    });
  }
}
