/**
 * The API resources the operator and its install manifests use, by kind. A static table rather than discovery: the
 * project only ever touches these, and a missing API (Route on a plain cluster without the stand-in CRD) shows up as
 * a clear 404.
 */
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../constructs/report-api.js';

export interface ResourceType {
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const core = (kind: string, plural: string, namespaced = true): ResourceType => ({ kind, group: '', version: 'v1', plural, namespaced });

export const RESOURCES = {
  Namespace: core('Namespace', 'namespaces', false),
  ServiceAccount: core('ServiceAccount', 'serviceaccounts'),
  Secret: core('Secret', 'secrets'),
  ConfigMap: core('ConfigMap', 'configmaps'),
  PersistentVolumeClaim: core('PersistentVolumeClaim', 'persistentvolumeclaims'),
  Pod: core('Pod', 'pods'),
  Service: core('Service', 'services'),
  Event: core('Event', 'events'),
  NetworkPolicy: { kind: 'NetworkPolicy', group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true },
  Ingress: { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true },
  ClusterRoleBinding: { kind: 'ClusterRoleBinding', group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  ClusterRole: { kind: 'ClusterRole', group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  Route: { kind: 'Route', group: 'route.openshift.io', version: 'v1', plural: 'routes', namespaced: true },
  CustomResourceDefinition: { kind: 'CustomResourceDefinition', group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
  Role: { kind: 'Role', group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  RoleBinding: { kind: 'RoleBinding', group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  Deployment: { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  ClusterOperator: { kind: 'ClusterOperator', group: 'config.openshift.io', version: 'v1', plural: 'clusteroperators', namespaced: false },
  Node: core('Node', 'nodes', false),
  ClusterVersion: { kind: 'ClusterVersion', group: 'config.openshift.io', version: 'v1', plural: 'clusterversions', namespaced: false },
  Infrastructure: { kind: 'Infrastructure', group: 'config.openshift.io', version: 'v1', plural: 'infrastructures', namespaced: false },
  ClusterServiceVersion: { kind: 'ClusterServiceVersion', group: 'operators.coreos.com', version: 'v1alpha1', plural: 'clusterserviceversions', namespaced: true },
  ImageStream: { kind: 'ImageStream', group: 'image.openshift.io', version: 'v1', plural: 'imagestreams', namespaced: true },
  Lease: { kind: 'Lease', group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  MustGatherReport: { kind: KIND, group: API_GROUP, version: API_VERSION, plural: PLURAL, namespaced: true },
} as const satisfies Record<string, ResourceType>;

export type KnownKind = keyof typeof RESOURCES;

/** The resource type of a kind, or an error naming it. */
export function resourceOf(kind: string): ResourceType {
  const type = (RESOURCES as Record<string, ResourceType>)[kind];
  if (!type) throw new Error(`${kind}: not a kind this operator manages`);
  return type;
}

/** Where an object lives: enough to GET, DELETE or name it in a message. */
export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** `Kind/namespace/name` or `Kind/name`: how every message names its subject. */
export function refString(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

/** The ref of an object. */
export function refOf(object: { kind: string; metadata: { name: string; namespace?: string } }): ObjectRef {
  return { kind: object.kind, name: object.metadata.name, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}) };
}

/** A Secret's `data[key]`, decoded; undefined when the Secret or the key is missing. */
export function secretValue(secret: { data?: Record<string, string> } | object | undefined, key: string): string | undefined {
  const value = (secret as { data?: Record<string, string> } | undefined)?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** API path of a group version's discovery document. */
export function groupVersionPath(type: ResourceType): string {
  return type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
}

/** API path of a collection (`namespace` only for namespaced types; omitted: all namespaces). */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const base = groupVersionPath(type);
  return type.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}` : `${base}/${type.plural}`;
}

/** API path of one object. */
export function objectPath(ref: ObjectRef): string {
  const type = resourceOf(ref.kind);
  if (type.namespaced && !ref.namespace) throw new Error(`${refString(ref)}: a namespaced object needs a namespace`);
  return `${collectionPath(type, ref.namespace)}/${encodeURIComponent(ref.name)}`;
}
