import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link ProxyAccess}. */
export interface ProxyAccessProps {
  /** Namespace of the cookie secret. */
  readonly namespace: string;
  /** The service account oauth-proxy runs as (the report pod's): it becomes an OAuth client. */
  readonly serviceAccount: kplus.ServiceAccount;
  /** Name of the Route whose host is the OAuth redirect target. */
  readonly routeName: string;
  /** Name of the Secret with the session cookie secret. */
  readonly cookieSecretName: string;
  /**
   * The cookie secret: 16, 24 or 32 random bytes as base64 (the reconciler generates it once and keeps it).
   * @default - no Secret: an offline render leaves it to the operator
   */
  readonly cookieSecret?: string;
}

/**
 * What oauth-proxy needs for browser logins (OpenShift profile): the pod's service account made an OAuth client
 * redirecting to the report's Route (OpenShift's redirect reference annotation), and a cookie secret for sessions.
 * Its token and access reviews use the service account's `system:auth-delegator` binding ({@link ServerAccess}).
 */
export class ProxyAccess extends Construct {
  constructor(scope: Construct, id: string, props: ProxyAccessProps) {
    super(scope, id);
    const redirectReference = { kind: 'OAuthRedirectReference', apiVersion: 'v1', reference: { kind: 'Route', name: props.routeName } };
    props.serviceAccount.metadata.addAnnotation('serviceaccounts.openshift.io/oauth-redirectreference.primary', JSON.stringify(redirectReference));
    if (props.cookieSecret === undefined) return;
    new kplus.k8s.KubeSecret(this, 'Cookie', {
      metadata: { name: props.cookieSecretName, namespace: props.namespace },
      type: 'Opaque',
      stringData: { session_secret: props.cookieSecret },
    });
  }
}
