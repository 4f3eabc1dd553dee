import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link ProxyAccess}. */
export interface ProxyAccessProps {
  /** The service account oauth-proxy runs as (the report pod's): it becomes an OAuth client. */
  readonly serviceAccount: kplus.ServiceAccount;
  /** Name of the Route whose host is the OAuth redirect target. */
  readonly routeName: string;
}

/**
 * What oauth-proxy needs for browser logins (OpenShift profile): the pod's service account made an OAuth client
 * redirecting to the report's Route (OpenShift's redirect reference annotation). Its session cookie secret is a runtime
 * object ({@link ProxyCookieSecret}); its token and access reviews use the service account's `system:auth-delegator` binding ({@link ServerAccess}).
 */
export class ProxyAccess extends Construct {
  constructor(scope: Construct, id: string, props: ProxyAccessProps) {
    super(scope, id);
    const redirectReference = { kind: 'OAuthRedirectReference', apiVersion: 'v1', reference: { kind: 'Route', name: props.routeName } };
    props.serviceAccount.metadata.addAnnotation('serviceaccounts.openshift.io/oauth-redirectreference.primary', JSON.stringify(redirectReference));
  }
}
