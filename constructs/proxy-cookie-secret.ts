import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link ProxyCookieSecret}. */
export interface ProxyCookieSecretProps {
  /** Namespace of the Secret (the report pod's). */
  readonly namespace: string;
  /** Name of the Secret. */
  readonly name: string;
  /** The cookie secret: 16, 24 or 32 random bytes as base64 (the reconciler generates it once and keeps it). */
  readonly cookieSecret: string;
}

/** oauth-proxy's session cookie secret (OpenShift profile): random per report, so a runtime object. */
export class ProxyCookieSecret extends Construct {
  constructor(scope: Construct, id: string, props: ProxyCookieSecretProps) {
    super(scope, id);
    new kplus.k8s.KubeSecret(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      type: 'Opaque',
      stringData: { session_secret: props.cookieSecret },
    });
  }
}
