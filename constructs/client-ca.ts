import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';

/** Props of {@link ClientCa}. */
export interface ClientCaProps {
  /** Namespace of the ConfigMap. */
  readonly namespace: string;
  /** Name of the ConfigMap. */
  readonly name: string;
  /** PEM bundle of the cluster's client CA; empty when the cluster has none (then only bearer tokens work). */
  readonly caBundle: string;
}

/**
 * The cluster's client CA, handed over by the operator (it reads `kube-system/extension-apiserver-authentication`,
 * which the report pod may not), so the file server can accept client certificates as the API server does.
 */
export class ClientCa extends Construct {
  constructor(scope: Construct, id: string, props: ClientCaProps) {
    super(scope, id);
    new k8s.KubeConfigMap(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      data: { 'ca.crt': props.caBundle },
    });
  }
}
