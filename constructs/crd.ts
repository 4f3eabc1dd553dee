import { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import { DURATION_PATTERN } from './duration.js';
import { IMAGE_REFERENCE_PATTERN } from './image-reference.js';
import { DNS_SUBDOMAIN_PATTERN, imageStreamTagRule, labelKeyRule, LABEL_VALUE_PATTERN, RFC3339_PATTERN } from './kube-names.js';
import {
  API_GROUP, API_VERSION, COMMAND_EMPTY_MESSAGE, COMMAND_PROGRAM_MESSAGE, DURATION_FORMAT_MESSAGE, durationRangeMessage,
  IMAGE_FORMAT_MESSAGE, IMAGE_STREAM_FORMAT_MESSAGE, IMAGE_STREAMS_UNIQUE_MESSAGE, IMAGES_EMPTY_MESSAGE, IMAGES_UNIQUE_MESSAGE, KIND,
  LABEL_KEY_FORMAT_MESSAGE, LABEL_VALUE_FORMAT_MESSAGE, LIMITS, NODE_NAME_FORMAT_MESSAGE, PLURAL, QUANTITY_FORMAT_MESSAGE,
  SINCE_EXCLUSIVE_MESSAGE, SINCE_TIME_FORMAT_MESSAGE, SPEC_IMMUTABLE_MESSAGE,
} from './report-api.js';
import { DEFAULT_GATHER_IMAGE, DEFAULT_GATHER_IMAGE_STREAM } from './operator-config.js';
import { CLUSTER_FACTS_LIST_LIMIT } from './pod-contract.js';

/** Props of {@link MustGatherReportCrd}. */
export interface MustGatherReportCrdProps {
  /**
   * Labels added to the CRD object.
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * Annotations added to the CRD object (the release manifests add the cluster-version operator's).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

type Schema = Record<string, unknown>;

/** CEL rules for a Go duration field: the format, then the bounds (evaluated only on a well-formed value). */
function durationField(description: string, bounds: { min: string; max: string }, defaultValue?: string): Schema {
  const wellFormed = `self.matches(r'${DURATION_PATTERN}')`;
  return {
    type: 'string',
    description,
    maxLength: LIMITS.durationMaxLength,
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    'x-kubernetes-validations': [
      { rule: wellFormed, message: DURATION_FORMAT_MESSAGE },
      { rule: `!${wellFormed} || (duration(self) >= duration('${bounds.min}') && duration(self) <= duration('${bounds.max}'))`, message: durationRangeMessage(bounds) },
    ],
  };
}

const CONDITION_SCHEMA: Schema = {
  type: 'object',
  description: 'A metav1.Condition: one aspect of the report\'s state.',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', maxLength: 316, description: 'Initialized or Ready.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
    reason: { type: 'string', maxLength: 1024, description: 'Why, in one CamelCase word (Queued, Pending, Gathering, Compressing, ArchiveReady, ImagePullFailed, StartTimedOut, ...).' },
    message: { type: 'string', maxLength: 32768, description: 'Why, in a sentence a person understands.' },
    lastTransitionTime: { type: 'string', format: 'date-time', description: 'When status last changed.' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The report generation this condition describes.' },
  },
};

const STATUS_SCHEMA: Schema = {
  type: 'object',
  description: 'What the operator observed. Written by the operator only.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', description: 'The generation of the spec this status describes.' },
    namespace: { type: 'string', description: 'The namespace that holds the report\'s pod, volume and service.' },
    report_url: { type: 'string', description: 'HTTPS URL of must-gather.tar.gz; only cluster admins may download it (the file server checks every request).' },
    caBundle: {
      type: 'string',
      description: 'PEM certificate of the CA that issued the file server\'s serving certificate, where the operator issues it (plain Kubernetes): trust it to download from report_url.',
    },
    conditions: {
      type: 'array',
      description: 'Initialized: the report\'s objects are applied and collection has started. Ready: the archive is compressed and served at report_url.',
      items: CONDITION_SCHEMA,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    images: {
      type: 'array',
      description: 'The must-gather images the report runs, in order, resolved once by the operator before anything ran: the default image (or spec.images), the images of spec.imageStreams, and with spec.allImages those named by operators.openshift.io/must-gather-image annotations. The report runs exactly these for its whole life.',
      items: { type: 'string' },
      'x-kubernetes-list-type': 'atomic',
    },
    cluster: {
      type: 'object',
      description: 'What the operator saw of the cluster when the report started gathering; the archive\'s summary file holds the same.',
      properties: {
        id: { type: 'string', description: 'OpenShift: the ClusterVersion\'s spec.clusterID. Elsewhere: the kube-system namespace\'s uid.' },
        version: { type: 'string', description: 'OpenShift: the ClusterVersion\'s desired version. Elsewhere: the API server\'s version.' },
        versionState: { type: 'string', description: 'OpenShift: stable, installing or updating, in oc adm must-gather\'s words.' },
        platform: { type: 'string', description: 'OpenShift or Kubernetes, with the infrastructure provider when known.' },
        kubernetesVersion: { type: 'string', description: 'The API server\'s version.' },
        observedAt: { type: 'string', format: 'date-time', description: 'When the operator read these facts.' },
        nodes: {
          type: 'object',
          description: `Nodes, and those not Ready (at most ${CLUSTER_FACTS_LIST_LIMIT} listed).`,
          properties: { total: { type: 'integer' }, notReady: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'atomic' } },
        },
        clusterOperators: {
          type: 'object',
          description: `Cluster operators where the API is served, and those not available, degraded, not upgradeable or progressing (at most ${CLUSTER_FACTS_LIST_LIMIT} listed).`,
          properties: { total: { type: 'integer' }, notHealthy: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'atomic' } },
        },
        unreadable: { type: 'array', description: 'Facts that could not be read, and why.', items: { type: 'string' }, 'x-kubernetes-list-type': 'atomic' },
      },
    },
    gathers: {
      type: 'array',
      description: 'One entry per image, in order, from the report pod\'s gather containers.',
      items: {
        type: 'object',
        required: ['index', 'image', 'state'],
        properties: {
          index: { type: 'integer', description: 'Position of the image in status.images, from 1.' },
          image: { type: 'string', description: 'The image reference.' },
          state: { type: 'string', enum: ['Pending', 'Running', 'Succeeded', 'Failed', 'TimedOut', 'VolumeFull', 'Unknown'], description: 'What became of this gather.' },
          exitCode: { type: 'integer', description: 'Exit code of the gather command.' },
          startedAt: { type: 'string', format: 'date-time', description: 'When the gather started.' },
          finishedAt: { type: 'string', format: 'date-time', description: 'When the gather ended.' },
          message: { type: 'string', description: 'Why it failed, when it did.' },
        },
      },
      'x-kubernetes-list-type': 'atomic',
    },
    archive: {
      type: 'object',
      description: 'The compressed archive, as the compress step measured it.',
      properties: {
        sizeBytes: { type: 'integer', format: 'int64', description: 'Size of must-gather.tar.gz in bytes.' },
        sha256: { type: 'string', description: 'SHA-256 of must-gather.tar.gz, hex; `mustgather download` verifies it.' },
        files: { type: 'integer', format: 'int64', description: 'Number of files in the archive.' },
      },
    },
    redaction: {
      type: 'object',
      description: 'What spec.redact replaced in the archive (its redaction.json lists the files too).',
      properties: {
        secrets: { type: 'integer', format: 'int64', description: 'Secret values, private keys and credentials replaced.' },
        ipAddresses: { type: 'integer', format: 'int64', description: 'IP addresses replaced.' },
        macAddresses: { type: 'integer', format: 'int64', description: 'MAC addresses replaced.' },
        filesRedacted: { type: 'integer', format: 'int64', description: 'Files whose content was rewritten.' },
        filesNotRedacted: { type: 'integer', format: 'int64', description: 'Binary files archived as they are.' },
        filesOmitted: { type: 'integer', format: 'int64', description: 'Files left out because they could not be redacted safely.' },
      },
    },
    finishedAt: {
      type: 'string', format: 'date-time',
      description: 'When the report finished: Ready, or ended for good (a terminal Ready reason such as PodFailed or StartTimedOut). Set once, never moved.',
    },
    expiresAt: { type: 'string', format: 'date-time', description: 'When the report and everything it created will be deleted: finishedAt plus spec.deleteAfter.' },
  },
};

/** A list whose items appear once (CEL: each item exists exactly once). */
const UNIQUE = (message: string) => ({ rule: 'self.all(i, self.exists_one(j, j == i))', message });

const SPEC_PROPERTIES: Record<string, Schema> = {
  images: {
    type: 'array',
    description: `Must-gather images, run one after the other in this order. At most ${LIMITS.maxImages}, each once. Omitted: the default must-gather image, the image of the image stream tag ${DEFAULT_GATHER_IMAGE_STREAM} where the cluster has it, else the operator's --default-gather-image (by default ${DEFAULT_GATHER_IMAGE}); an empty list is refused. The images that run are in status.images.`,
    maxItems: LIMITS.maxImages,
    'x-kubernetes-list-type': 'atomic',
    'x-kubernetes-validations': [{ rule: 'self.size() > 0', message: IMAGES_EMPTY_MESSAGE }, UNIQUE(IMAGES_UNIQUE_MESSAGE)],
    items: {
      type: 'string',
      minLength: 1,
      maxLength: LIMITS.imageMaxLength,
      'x-kubernetes-validations': [{ rule: `self.matches(r'${IMAGE_REFERENCE_PATTERN}')`, message: IMAGE_FORMAT_MESSAGE }],
    },
  },
  allImages: {
    type: 'boolean',
    description: 'Also gather with the default image and every image named by an operators.openshift.io/must-gather-image annotation on a ClusterOperator or on a ClusterServiceVersion in its operator\'s own namespace (not OLM\'s copies), like oc adm must-gather --all-images. Resolved once when the report starts; see status.images.',
    default: false,
  },
  imageStreams: {
    type: 'array',
    description: `Image stream tags, namespace/name:tag, whose images also gather (like oc adm must-gather --image-stream). At most ${LIMITS.maxImageStreams}, each once.`,
    maxItems: LIMITS.maxImageStreams,
    'x-kubernetes-list-type': 'atomic',
    'x-kubernetes-validations': [UNIQUE(IMAGE_STREAMS_UNIQUE_MESSAGE)],
    items: {
      type: 'string',
      maxLength: LIMITS.imageStreamMaxLength,
      'x-kubernetes-validations': [{ rule: imageStreamTagRule('self'), message: IMAGE_STREAM_FORMAT_MESSAGE }],
    },
  },
  command: {
    type: 'array',
    description: `The gather command and its arguments, run in every image instead of /usr/bin/gather (like oc adm must-gather -- COMMAND). At most ${LIMITS.command.maxItems} strings of at most ${LIMITS.command.itemMaxLength} characters; the first is the program.`,
    maxItems: LIMITS.command.maxItems,
    'x-kubernetes-list-type': 'atomic',
    'x-kubernetes-validations': [
      { rule: 'self.size() > 0', message: COMMAND_EMPTY_MESSAGE },
      { rule: 'self.size() == 0 || self[0] != \'\'', message: COMMAND_PROGRAM_MESSAGE },
    ],
    items: { type: 'string', maxLength: LIMITS.command.itemMaxLength },
  },
  deleteAfter: durationField(
    `How long a finished report (Ready, or ended for good) is kept before the report and everything it created are deleted. Go duration, ${LIMITS.deleteAfter.min} to ${LIMITS.deleteAfter.max}. The one field that may change after creation.`,
    LIMITS.deleteAfter, LIMITS.deleteAfter.default,
  ),
  timeout: durationField(
    `How long each image may gather; a gather that runs longer is stopped, keeps what it collected and is reported as TimedOut. Go duration, ${LIMITS.timeout.min} to ${LIMITS.timeout.max}.`,
    LIMITS.timeout, LIMITS.timeout.default,
  ),
  since: durationField(
    'Only collect logs newer than this relative duration; passed to the gather scripts as MUST_GATHER_SINCE. Not with sinceTime. Unset: the scripts\' own default.',
    LIMITS.since,
  ),
  sinceTime: {
    type: 'string',
    description: 'Only collect logs after this time, RFC 3339 with a time zone (2025-01-31T08:00:00Z); passed to the gather scripts as MUST_GATHER_SINCE_TIME. Not with since.',
    maxLength: LIMITS.sinceTimeMaxLength,
    'x-kubernetes-validations': [{ rule: `self.matches(r'${RFC3339_PATTERN}')`, message: SINCE_TIME_FORMAT_MESSAGE }],
  },
  nodeName: {
    type: 'string',
    description: 'The node the report pod (gathers and file server) runs on. It is still scheduled, so its volume binds on that node. With nodeSelector, both must hold.',
    maxLength: LIMITS.nodeNameMaxLength,
    'x-kubernetes-validations': [{ rule: `self.matches(r'${DNS_SUBDOMAIN_PATTERN}')`, message: NODE_NAME_FORMAT_MESSAGE }],
  },
  nodeSelector: {
    type: 'object',
    description: `Node labels (key: value) the report pod's node must have, like a pod's nodeSelector. At most ${LIMITS.nodeSelector.maxEntries}. With nodeName, both must hold.`,
    maxProperties: LIMITS.nodeSelector.maxEntries,
    additionalProperties: {
      type: 'string',
      maxLength: LIMITS.nodeSelector.valueMaxLength,
      'x-kubernetes-validations': [{ rule: `self.matches(r'${LABEL_VALUE_PATTERN}')`, message: LABEL_VALUE_FORMAT_MESSAGE }],
    },
    'x-kubernetes-validations': [{ rule: `self.all(k, ${labelKeyRule('k')})`, message: LABEL_KEY_FORMAT_MESSAGE }],
  },
  storage: {
    type: 'object',
    description: 'The volume the data is gathered into and served from (one ReadWriteOnce PersistentVolumeClaim).',
    default: {},
    properties: {
      size: {
        type: 'string',
        description: `Size of the volume, a quantity such as 10Gi (at least ${LIMITS.storageSize.min}).`,
        default: LIMITS.storageSize.default,
        maxLength: LIMITS.storageSize.maxLength,
        'x-kubernetes-validations': [
          { rule: 'isQuantity(self)', message: QUANTITY_FORMAT_MESSAGE },
          { rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${LIMITS.storageSize.min}')) >= 0`, message: `must be at least ${LIMITS.storageSize.min}` },
        ],
      },
      storageClassName: {
        type: 'string',
        description: 'StorageClass of the volume. Unset or empty: the cluster\'s default StorageClass.',
        maxLength: LIMITS.storageClassNameMaxLength,
      },
    },
  },
  volumePercentage: {
    type: 'integer',
    description: 'Stop gathering when the volume is this full, in percent (like oc adm must-gather --volume-percentage).',
    minimum: LIMITS.volumePercentage.min,
    maximum: LIMITS.volumePercentage.max,
    default: LIMITS.volumePercentage.default,
  },
  redact: {
    type: 'object',
    description: 'What to replace in every gathered text file (gzip files too) while the archive is made, so that nothing unredacted is written to it: each value by a token, the same value by the same token within the report, keyed by a random secret that is never stored. The archive\'s redaction.json and status.redaction say what was replaced (counts, never values) and which binary files were archived as they are.',
    properties: {
      secrets: { type: 'boolean', default: false, description: 'Secret data and stringData values in YAML and JSON (keys kept), PEM private keys, and kubeconfig credentials (client-key-data, token, password, ...).' },
      ipAddresses: { type: 'boolean', default: false, description: 'IPv4 and IPv6 addresses.' },
      macAddresses: { type: 'boolean', default: false, description: 'MAC addresses.' },
    },
  },
};

/** Fields that may change after creation; every other spec field, present now or added later, is immutable. */
export const MUTABLE_SPEC_FIELDS: readonly string[] = ['deleteAfter'];

/**
 * One transition rule per immutable field, generated from the schema's own properties so a field added later is
 * immutable without anyone writing a rule. On the spec rather than on each field: a field's own rule runs only when
 * both the old and the new object have it, which would let an unset field be set (or a set one removed) later.
 * CEL cannot iterate an object's fields or compare an object minus one field, hence a rule per field; `fieldPath`
 * names the field in the error.
 */
function immutabilityRules(properties: Record<string, Schema>): Schema[] {
  return Object.keys(properties).filter((field) => !MUTABLE_SPEC_FIELDS.includes(field)).map((field) => ({
    rule: `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
    message: SPEC_IMMUTABLE_MESSAGE,
    fieldPath: `.${field}`,
    reason: 'FieldValueForbidden',
  }));
}

const SPEC_SCHEMA: Schema = {
  type: 'object',
  description: 'What to gather and how long to keep it. Immutable but deleteAfter: to change anything else, delete the report and create a new one.',
  'x-kubernetes-validations': [
    { rule: '!has(self.since) || !has(self.sinceTime)', message: SINCE_EXCLUSIVE_MESSAGE },
    ...immutabilityRules(SPEC_PROPERTIES),
  ],
  properties: SPEC_PROPERTIES,
};

/** The report's OpenAPI v3 schema, as served by the CRD. */
export const REPORT_SCHEMA: Schema = {
  type: 'object',
  description: 'A MustGatherReport asks the cluster for a must-gather archive: the operator runs the listed must-gather images, compresses their output, serves it at status.report_url to cluster admins only, and deletes everything spec.deleteAfter after it finished.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
    kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
    metadata: { type: 'object' },
    spec: SPEC_SCHEMA,
    status: STATUS_SCHEMA,
  },
};

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

/** The `mustgatherreports.mustgather.openshift.io` CustomResourceDefinition. */
export class MustGatherReportCrd extends Construct {
  /** The CRD's API object (a plain ApiObject: the typed L1 class would drop the `x-kubernetes-*` schema keys). */
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: MustGatherReportCrdProps = {}) {
    super(scope, id);
    this.apiObject = new ApiObject(this, 'Resource', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${PLURAL}.${API_GROUP}`, labels: props.labels, annotations: props.annotations },
      spec: {
        group: API_GROUP,
        scope: 'Namespaced',
        names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: KIND.toLowerCase(), shortNames: ['mgr'], categories: ['mustgather'] },
        versions: [{
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: REPORT_SCHEMA },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: `${readyCondition}.status` },
            { name: 'Reason', type: 'string', jsonPath: `${readyCondition}.reason` },
            { name: 'URL', type: 'string', jsonPath: '.status.report_url' },
            // A string: a `date` column renders an age, which shows <invalid> for a time in the future.
            { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt', description: 'When the report will be deleted (status.expiresAt).' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Message', type: 'string', jsonPath: `${readyCondition}.message`, priority: 1 },
          ],
        }],
      },
    });
  }
}
