import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterOperatorCrd } from './cluster-operator-crd.js';
import { MustGatherReportCrd } from './crd.js';
import { RouteCrd } from './route-crd.js';
import { CLUSTER_SERVICE_VERSION_SCHEMA } from './cluster-service-version-schema.js';
import { IMAGE_STREAM_SCHEMA } from './image-stream-schema.js';
import { StandInCrd } from './stand-in-crd.js';

/** Props of {@link DevelopmentCrdsChart}. */
export interface DevelopmentCrdsChartProps extends ChartProps {}

/**
 * The CRDs a plain kube-apiserver needs to run this operator: the report CRD and stand-ins for OpenShift's Route,
 * ClusterOperator and ImageStream and OLM's ClusterServiceVersion (what `allImages` and `imageStreams` read). Not
 * OpenShift's ClusterVersion: its presence is how the operator tells OpenShift (and its summary reads it there).
 * Rendered to `deploy/crds/`, which the test control plane installs.
 */
export class DevelopmentCrdsChart extends Chart {
  constructor(scope: Construct, id: string, props: DevelopmentCrdsChartProps = {}) {
    super(scope, id, props);
    new MustGatherReportCrd(this, 'MustGatherReport');
    new RouteCrd(this, 'Route');
    new ClusterOperatorCrd(this, 'ClusterOperator');
    new StandInCrd(this, 'ImageStream', {
      group: 'image.openshift.io', version: 'v1', kind: 'ImageStream', plural: 'imagestreams', shortNames: ['is'], scope: 'Namespaced',
      schema: IMAGE_STREAM_SCHEMA,
      printerColumns: [{ name: 'Image Repository', type: 'string', jsonPath: '.status.dockerImageRepository' }],
    });
    new StandInCrd(this, 'ClusterServiceVersion', {
      group: 'operators.coreos.com', version: 'v1alpha1', kind: 'ClusterServiceVersion', plural: 'clusterserviceversions', shortNames: ['csv', 'csvs'],
      scope: 'Namespaced', schema: CLUSTER_SERVICE_VERSION_SCHEMA,
      printerColumns: [{ name: 'Display', type: 'string', jsonPath: '.spec.displayName' }, { name: 'Phase', type: 'string', jsonPath: '.status.phase' }],
    });
  }
}
