import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterOperatorCrd } from './cluster-operator-crd.js';
import { MustGatherReportCrd } from './crd.js';
import { RouteCrd } from './route-crd.js';

/** Props of {@link DevelopmentCrdsChart}. */
export interface DevelopmentCrdsChartProps extends ChartProps {}

/**
 * The CRDs a plain kube-apiserver needs to run this operator: the report CRD and stand-ins for OpenShift's Route and ClusterOperator.
 * Rendered to `deploy/crds/`, which the test control plane installs.
 */
export class DevelopmentCrdsChart extends Chart {
  constructor(scope: Construct, id: string, props: DevelopmentCrdsChartProps = {}) {
    super(scope, id, props);
    new MustGatherReportCrd(this, 'MustGatherReport');
    new RouteCrd(this, 'Route');
    new ClusterOperatorCrd(this, 'ClusterOperator');
  }
}
