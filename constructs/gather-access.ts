import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link GatherAccess}. */
export interface GatherAccessProps {
  /** Namespace of the service account and its token. */
  readonly namespace: string;
  /** Name of the service account the gather containers act as. */
  readonly serviceAccountName: string;
  /** Name of the ClusterRoleBinding to `cluster-admin` (cluster-scoped, so unique per report). */
  readonly bindingName: string;
  /**
   * Whether the gather still runs: only then do the service account, its binding and its token exist.
   * @default true
   */
  readonly gathering?: boolean;
}

/**
 * What the gather containers act as: a service account bound to `cluster-admin`, as `oc adm must-gather` does.
 * Its token is a short-lived TokenRequest token in a Secret ({@link GatherTokenSecret}) mounted into the gather
 * containers only (not the pod's service account, which is the proxy's), so the long-running containers never hold
 * cluster-admin. Not a legacy `service-account-token` Secret: that waits for kube-controller-manager to fill it, and
 * never expires. Once every gather has finished the chart renders none of it (`gathering: false`) and the reconciler
 * prunes it all: deleting the service account is what revokes the token (the API server checks the account of a bound
 * token still exists).
 */
export class GatherAccess extends Construct {
  constructor(scope: Construct, id: string, props: GatherAccessProps) {
    super(scope, id);
    if (props.gathering === false) return;
    new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: props.serviceAccountName, namespace: props.namespace },
      automountToken: false,
    });
    new kplus.k8s.KubeClusterRoleBinding(this, 'ClusterAdmin', {
      metadata: { name: props.bindingName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: props.serviceAccountName, namespace: props.namespace }],
    });
  }
}
