import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** Props of {@link GatherAccess}. */
export interface GatherAccessProps {
  /** Namespace of the service account and its token. */
  readonly namespace: string;
  /** Name of the service account the gather containers act as. */
  readonly serviceAccountName: string;
  /** Name of the Secret holding that service account's token. */
  readonly tokenSecretName: string;
  /** Name of the ClusterRoleBinding to `cluster-admin` (cluster-scoped, so unique per report). */
  readonly bindingName: string;
  /**
   * Whether the gather still runs: only then do the binding and the token exist. Once gathering is over the service
   * account is all that is left (the reconciler prunes the rest).
   * @default true
   */
  readonly gathering?: boolean;
}

/**
 * What the gather containers act as: a service account bound to `cluster-admin`, as `oc adm must-gather` does.
 * The token is a Secret mounted into the gather containers only (not the pod's service account, which is the
 * proxy's), so the long-running containers never hold cluster-admin. Once every gather has finished the chart no
 * longer renders the binding or the token (`gathering: false`), and the reconciler prunes them.
 */
export class GatherAccess extends Construct {
  /** The gather service account. */
  readonly serviceAccount: kplus.ServiceAccount;

  constructor(scope: Construct, id: string, props: GatherAccessProps) {
    super(scope, id);
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: props.serviceAccountName, namespace: props.namespace },
      automountToken: false,
    });
    if (props.gathering === false) return;
    new kplus.k8s.KubeSecret(this, 'Token', {
      metadata: {
        name: props.tokenSecretName,
        namespace: props.namespace,
        annotations: { 'kubernetes.io/service-account.name': props.serviceAccountName },
      },
      type: 'kubernetes.io/service-account-token',
    });
    new kplus.k8s.KubeClusterRoleBinding(this, 'ClusterAdmin', {
      metadata: { name: props.bindingName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: props.serviceAccountName, namespace: props.namespace }],
    });
  }
}
