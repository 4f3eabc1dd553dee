import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link ReportNamespace}. */
export interface ReportNamespaceProps {
  /** Name of the namespace. */
  readonly name: string;
  /**
   * Labels identifying the report (the chart adds them to every object; the namespace repeats them for selectors).
   * @default - none
   */
  readonly labels?: Record<string, string>;
}

/**
 * The namespace a report's objects live in. Labelled like `oc adm must-gather`'s temporary namespace: gather images
 * may run as root and start privileged debug pods on nodes, so pod security is `privileged` and OpenShift's label
 * sync is off; `openshift.io/node-selector: ""` stops a cluster-wide default node selector from stranding the pod.
 */
export class ReportNamespace extends Construct {
  /** The namespace. */
  readonly namespace: kplus.Namespace;

  constructor(scope: Construct, id: string, props: ReportNamespaceProps) {
    super(scope, id);
    this.namespace = new kplus.Namespace(this, 'Resource', {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          'openshift.io/run-level': '0',
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/audit': 'privileged',
          'pod-security.kubernetes.io/warn': 'privileged',
          'security.openshift.io/scc.podSecurityLabelSync': 'false',
        },
        annotations: { 'openshift.io/node-selector': '' },
      },
    });
  }
}
