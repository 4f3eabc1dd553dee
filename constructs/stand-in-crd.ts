import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** An OpenAPI v3 schema, as a CRD holds it. */
export type Schema = Record<string, unknown>;

/** A string field with its description. */
export const str = (description: string): Schema => ({ type: 'string', description });

/** The fields every object's schema starts with. */
export const OBJECT_FIELDS: Schema = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };

/** Props of {@link StandInCrd}. */
export interface StandInCrdProps {
  /** API group, e.g. `image.openshift.io`. */
  readonly group: string;
  /** API version, e.g. `v1`. */
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  /**
   * Short names `kubectl` takes.
   * @default - none
   */
  readonly shortNames?: readonly string[];
  readonly scope: 'Namespaced' | 'Cluster';
  /** The OpenAPI v3 schema, reduced to what this project reads and its tests write. */
  readonly schema: Schema;
  /**
   * Columns `kubectl get` shows.
   * @default - none
   */
  readonly printerColumns?: readonly { readonly name: string; readonly type: string; readonly jsonPath: string }[];
}

/**
 * A CRD standing in for an API that OpenShift (or OLM) serves itself, on a plain kube-apiserver: the local cluster
 * and the tests get one, the product's install chart never does (never install one on OpenShift). With a status
 * subresource, as the real APIs have.
 */
export class StandInCrd extends Construct {
  /** The CRD's API object. */
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: StandInCrdProps) {
    super(scope, id);
    this.apiObject = new ApiObject(this, 'Resource', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${props.plural}.${props.group}` },
      spec: {
        group: props.group,
        scope: props.scope,
        names: {
          kind: props.kind, listKind: `${props.kind}List`, plural: props.plural, singular: props.kind.toLowerCase(),
          ...(props.shortNames ? { shortNames: [...props.shortNames] } : {}),
        },
        versions: [{
          name: props.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: props.schema },
          ...(props.printerColumns ? { additionalPrinterColumns: props.printerColumns.map((c) => ({ ...c })) } : {}),
        }],
      },
    });
  }
}
