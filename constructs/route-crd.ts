import { Construct } from 'constructs';
import { OBJECT_FIELDS, type Schema, StandInCrd, str } from './stand-in-crd.js';

const ROUTE_TARGET: Schema = {
  type: 'object',
  required: ['kind', 'name'],
  properties: {
    kind: { type: 'string', enum: ['Service', ''], default: 'Service', description: 'The kind of target; only Service.' },
    name: str('Name of the Service.'),
    weight: { type: 'integer', minimum: 0, maximum: 256, description: 'Relative weight among the targets.' },
  },
};

/**
 * The OpenAPI schema of OpenShift's `route.openshift.io/v1` Route, reduced to what this project reads and writes.
 * OpenShift serves Route from its own API server; on a plain kube-apiserver (tests, local runs) this CRD stands in,
 * and nothing fills in `spec.host` or `status.ingress` there (tests play the router).
 */
export const ROUTE_SCHEMA: Schema = {
  type: 'object',
  description: 'A route exposes a service at a host name, so that external clients can reach it by name.',
  properties: {
    ...OBJECT_FIELDS,
    spec: {
      type: 'object',
      required: ['to'],
      properties: {
        host: str('The host name the route is served at; the router assigns one when empty.'),
        subdomain: str('A subdomain under the router\'s domain, used when host is empty.'),
        path: str('Path the router matches.'),
        to: ROUTE_TARGET,
        alternateBackends: { type: 'array', items: ROUTE_TARGET, maxItems: 3 },
        port: {
          type: 'object',
          required: ['targetPort'],
          properties: { targetPort: { 'x-kubernetes-int-or-string': true, description: 'The target port on the service: a name or a number.' } },
        },
        tls: {
          type: 'object',
          required: ['termination'],
          properties: {
            termination: { type: 'string', enum: ['edge', 'reencrypt', 'passthrough'], description: 'Where TLS ends.' },
            certificate: str('PEM certificate served by the router.'),
            key: str('PEM key of that certificate.'),
            caCertificate: str('PEM CA chain of that certificate.'),
            destinationCACertificate: str('PEM CA the router trusts for the backend (reencrypt); empty: the service CA.'),
            insecureEdgeTerminationPolicy: { type: 'string', enum: ['', 'None', 'Allow', 'Redirect'], description: 'What to do with plain HTTP.' },
          },
        },
        wildcardPolicy: { type: 'string', enum: ['None', 'Subdomain', ''], default: 'None' },
      },
    },
    status: {
      type: 'object',
      properties: {
        ingress: {
          type: 'array',
          description: 'The routers that admitted or rejected this route.',
          items: {
            type: 'object',
            properties: {
              host: str('The host the router serves this route at.'),
              routerName: str('The router\'s name.'),
              routerCanonicalHostname: str('The router\'s canonical host name.'),
              wildcardPolicy: str('The wildcard policy the router applied.'),
              conditions: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['type', 'status'],
                  properties: {
                    type: str('Admitted.'),
                    status: str('True, False or Unknown.'),
                    reason: str('Why, in one word.'),
                    message: str('Why, in a sentence.'),
                    lastTransitionTime: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** A CRD standing in for OpenShift's Route API on a plain kube-apiserver. Never install it on OpenShift. */
export class RouteCrd extends StandInCrd {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      group: 'route.openshift.io', version: 'v1', kind: 'Route', plural: 'routes', scope: 'Namespaced', schema: ROUTE_SCHEMA,
      printerColumns: [
        { name: 'Host', type: 'string', jsonPath: '.status.ingress[0].host' },
        { name: 'Service', type: 'string', jsonPath: '.spec.to.name' },
        { name: 'TLS', type: 'string', jsonPath: '.spec.tls.termination' },
      ],
    });
  }
}
