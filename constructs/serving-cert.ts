import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';

/** A PEM certificate (chain) and its PEM private key. */
export interface CertificateAndKey {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

/** Props of {@link ServingCert}. */
export interface ServingCertProps {
  /** Namespace of the Secret. */
  readonly namespace: string;
  /** Name of the Secret. */
  readonly name: string;
  /** The certificate and key, issued by the operator's CA. */
  readonly certificate: CertificateAndKey;
}

/**
 * The file server's serving certificate where no service CA issues one (Kubernetes profile): a `kubernetes.io/tls`
 * Secret, the same shape OpenShift's service CA writes, so the pod mounts it the same way on both platforms.
 */
export class ServingCert extends Construct {
  constructor(scope: Construct, id: string, props: ServingCertProps) {
    super(scope, id);
    new k8s.KubeSecret(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': props.certificate.cert, 'tls.key': props.certificate.key },
    });
  }
}
