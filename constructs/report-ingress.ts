import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';

/** How reports are exposed outside the cluster on plain Kubernetes (the operator's `--ingress-*` flags). */
export interface IngressOptions {
  /** DNS suffix; each report gets the host `<report namespace>.<hostSuffix>`. */
  readonly hostSuffix: string;
  /**
   * IngressClass of the Ingress.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
}

/** Props of {@link ReportIngress}. */
export interface ReportIngressProps {
  /** Namespace of the Ingress. */
  readonly namespace: string;
  /** Name of the Ingress. */
  readonly name: string;
  /** The host it serves. */
  readonly host: string;
  /** IngressClass. @default - the cluster's default */
  readonly className?: string;
  /** Name of the Service it forwards to. */
  readonly serviceName: string;
  /** Name of the Service port it forwards to. */
  readonly servicePort: string;
  /** Secret with the certificate for `host` (the file server's own: its SANs include the host). */
  readonly tlsSecretName: string;
}

/**
 * Kubernetes profile, when asked for: an Ingress giving the report a URL outside the cluster. TLS with the file
 * server's own certificate; the backend speaks HTTPS too (ingress-nginx needs to be told so by annotation), so the
 * bearer token reaches the file server, which checks it as always.
 */
export class ReportIngress extends Construct {
  /** The Ingress. */
  readonly ingress: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: ReportIngressProps) {
    super(scope, id);
    this.ingress = new k8s.KubeIngress(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' } },
      spec: {
        ...(props.className ? { ingressClassName: props.className } : {}),
        tls: [{ hosts: [props.host], secretName: props.tlsSecretName }],
        rules: [{
          host: props.host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: props.serviceName, port: { name: props.servicePort } } } }] },
        }],
      },
    });
  }
}
