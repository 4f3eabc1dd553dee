import { Construct } from 'constructs';
import { OBJECT_FIELDS, type Schema, StandInCrd, str } from './stand-in-crd.js';

/**
 * The schema of OpenShift's `config.openshift.io/v1` ClusterOperator, reduced to what `oc get clusteroperators`
 * shows and this operator writes. OpenShift installs the real CRD; a plain kube-apiserver (tests, local runs) gets
 * this one. Never install it on OpenShift.
 */
export const CLUSTER_OPERATOR_SCHEMA: Schema = {
  type: 'object',
  description: 'ClusterOperator is the Custom Resource object which holds the current state of an operator.',
  required: ['spec'],
  properties: {
    ...OBJECT_FIELDS,
    spec: { type: 'object', description: 'Holds configuration that could apply to any operator.' },
    status: {
      type: 'object',
      properties: {
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: {
            type: 'object',
            required: ['type', 'status', 'lastTransitionTime'],
            properties: {
              type: str('Available, Progressing, Degraded, Upgradeable.'),
              status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
              reason: str('Why, in one CamelCase word.'),
              message: str('Why, in a sentence.'),
              lastTransitionTime: { type: 'string', format: 'date-time' },
            },
          },
        },
        versions: {
          type: 'array',
          items: { type: 'object', required: ['name', 'version'], properties: { name: str('Operand or "operator".'), version: str('Its version.') } },
        },
        relatedObjects: {
          type: 'array',
          items: {
            type: 'object',
            required: ['group', 'resource', 'name'],
            properties: { group: str('API group.'), resource: str('Resource.'), namespace: str('Namespace.'), name: str('Name.') },
          },
        },
        extension: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
};

/** A CRD standing in for OpenShift's ClusterOperator API on a plain kube-apiserver. */
export class ClusterOperatorCrd extends StandInCrd {
  constructor(scope: Construct, id: string) {
    const condition = (type: string) => `.status.conditions[?(@.type=="${type}")].status`;
    super(scope, id, {
      group: 'config.openshift.io', version: 'v1', kind: 'ClusterOperator', plural: 'clusteroperators', shortNames: ['co'], scope: 'Cluster',
      schema: CLUSTER_OPERATOR_SCHEMA,
      printerColumns: [
        { name: 'Version', type: 'string', jsonPath: '.status.versions[?(@.name=="operator")].version' },
        { name: 'Available', type: 'string', jsonPath: condition('Available') },
        { name: 'Progressing', type: 'string', jsonPath: condition('Progressing') },
        { name: 'Degraded', type: 'string', jsonPath: condition('Degraded') },
        { name: 'Since', type: 'date', jsonPath: '.status.conditions[?(@.type=="Available")].lastTransitionTime' },
      ],
    });
  }
}
