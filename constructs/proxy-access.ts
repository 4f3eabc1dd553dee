import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link ProxyAccess}. */
export interface ProxyAccessProps {
  /** Namespace of the service account and cookie secret. */
  readonly namespace: string;
  /** Name of the service account oauth-proxy runs as (the report pod's service account). */
  readonly serviceAccountName: string;
  /** Name of the Route whose host is the OAuth redirect target. */
  readonly routeName: string;
  /** Name of the Secret with the session cookie secret. */
  readonly cookieSecretName: string;
  /** The cookie secret: 16, 24 or 32 random bytes as base64 (the reconciler generates it once and keeps it). */
  readonly cookieSecret: string;
  /** Name of the ClusterRoleBinding to `system:auth-delegator` (cluster-scoped, so unique per report). */
  readonly authDelegatorBindingName: string;
}

/**
 * What oauth-proxy needs: a service account that is an OAuth client redirecting to the report's Route (OpenShift's
 * redirect reference annotation), `system:auth-delegator` for the TokenReviews and SubjectAccessReviews that check
 * bearer tokens, and a cookie secret for browser sessions.
 */
export class ProxyAccess extends Construct {
  /** The proxy's service account. */
  readonly serviceAccount: kplus.ServiceAccount;

  constructor(scope: Construct, id: string, props: ProxyAccessProps) {
    super(scope, id);
    const redirectReference = { kind: 'OAuthRedirectReference', apiVersion: 'v1', reference: { kind: 'Route', name: props.routeName } };
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: {
        name: props.serviceAccountName,
        namespace: props.namespace,
        annotations: { 'serviceaccounts.openshift.io/oauth-redirectreference.primary': JSON.stringify(redirectReference) },
      },
      automountToken: false,
    });
    new kplus.k8s.KubeClusterRoleBinding(this, 'AuthDelegator', {
      metadata: { name: props.authDelegatorBindingName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: props.serviceAccountName, namespace: props.namespace }],
    });
    new kplus.k8s.KubeSecret(this, 'Cookie', {
      metadata: { name: props.cookieSecretName, namespace: props.namespace },
      type: 'Opaque',
      stringData: { session_secret: props.cookieSecret },
    });
  }
}
