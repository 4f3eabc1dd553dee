import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';

/** Props of {@link ReportVolume}. */
export interface ReportVolumeProps {
  /** Namespace of the claim. */
  readonly namespace: string;
  /** Name of the claim. */
  readonly name: string;
  /** Requested size, a Kubernetes quantity such as `10Gi`. */
  readonly size: string;
  /**
   * StorageClass of the claim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
}

/** The one ReadWriteOnce volume the gathers write to and the archive is served from (one pod, one volume). */
export class ReportVolume extends Construct {
  /** The claim. */
  readonly claim: k8s.KubePersistentVolumeClaim;

  constructor(scope: Construct, id: string, props: ReportVolumeProps) {
    super(scope, id);
    this.claim = new k8s.KubePersistentVolumeClaim(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        accessModes: ['ReadWriteOnce'],
        volumeMode: 'Filesystem',
        resources: { requests: { storage: k8s.Quantity.fromString(props.size) } },
        ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
      },
    });
  }
}
