/**
 * OLM's `operators.coreos.com/v1alpha1` ClusterServiceVersion, reduced to what `allImages` reads: its annotations
 * (metadata), and how OLM marks the copies it puts in every namespace an operator watches (label `olm.copiedFrom`,
 * `status.reason: Copied`). OLM installs the real CRD; the local cluster gets a {@link StandInCrd}.
 */
import { OBJECT_FIELDS, type Schema } from './stand-in-crd.js';

export const CLUSTER_SERVICE_VERSION_SCHEMA: Schema = {
  type: 'object',
  description: 'A ClusterServiceVersion describes one version of an operator OLM installed.',
  properties: {
    ...OBJECT_FIELDS,
    spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { displayName: { type: 'string' }, version: { type: 'string' } } },
    status: {
      type: 'object',
      properties: {
        phase: { type: 'string', description: 'Pending, InstallReady, Installing, Succeeded, Failed, ...' },
        reason: { type: 'string', description: 'Why it is in that phase; Copied on the copies in watched namespaces.' },
        message: { type: 'string' },
      },
    },
  },
};
