import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { EVENT_RECORDER_CLUSTER_ROLE } from './report-identity.js';

/** Props of {@link ServerAccess}. */
export interface ServerAccessProps {
  /** Namespace of the service account (the report pod's). */
  readonly namespace: string;
  /** Name of the service account the file server (and oauth-proxy) run as: the report pod's service account. */
  readonly serviceAccountName: string;
  /** Name of the ClusterRoleBinding to `system:auth-delegator` (cluster-scoped, so unique per report). */
  readonly authDelegatorBindingName: string;
  /** The namespace of the MustGatherReport itself, where downloads are recorded as Events. */
  readonly reportNamespace: string;
  /** Name of the RoleBinding in `reportNamespace` (unique per report: a namespace may hold many reports). */
  readonly eventRecorderBindingName: string;
}

/**
 * Exactly what the file server's delegated checks need: `system:auth-delegator` (TokenReview and
 * SubjectAccessReview, as every aggregated API server and kube-rbac-proxy holds), and `create` on Events in the
 * report's namespace, where each download is recorded on the report. Nothing else: the pod reads its archive from
 * the volume, not from the API.
 */
export class ServerAccess extends Construct {
  /** The pod's service account. */
  readonly serviceAccount: kplus.ServiceAccount;

  constructor(scope: Construct, id: string, props: ServerAccessProps) {
    super(scope, id);
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: props.serviceAccountName, namespace: props.namespace },
      automountToken: false,
    });
    const subjects = [{ kind: 'ServiceAccount', name: props.serviceAccountName, namespace: props.namespace }];
    new kplus.k8s.KubeClusterRoleBinding(this, 'AuthDelegator', {
      metadata: { name: props.authDelegatorBindingName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects,
    });
    // The install chart's ClusterRole, bound in the report's namespace only.
    new kplus.k8s.KubeRoleBinding(this, 'EventRecorderBinding', {
      metadata: { name: props.eventRecorderBindingName, namespace: props.reportNamespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: EVENT_RECORDER_CLUSTER_ROLE },
      subjects,
    });
  }
}
