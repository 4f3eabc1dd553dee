/**
 * OpenShift's `image.openshift.io/v1` ImageStream, reduced to what resolving `namespace/name:tag` reads (oc's
 * ResolveRecentPullSpecForTag): spec tags with their source and reference policy, and status tags with the images
 * imported, newest first. OpenShift's own API server serves the real one; the local cluster gets a {@link StandInCrd}.
 */
import { OBJECT_FIELDS, type Schema, str } from './stand-in-crd.js';

export const IMAGE_STREAM_SCHEMA: Schema = {
  type: 'object',
  description: 'An ImageStream maps tags to images: what each tag points at (spec) and the images imported or pushed to it (status).',
  properties: {
    ...OBJECT_FIELDS,
    spec: {
      type: 'object',
      properties: {
        lookupPolicy: { type: 'object', properties: { local: { type: 'boolean' } } },
        tags: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: str('The tag.'),
              from: { type: 'object', properties: { kind: str('DockerImage, ImageStreamTag or ImageStreamImage.'), name: str('The image or tag it tracks.'), namespace: str('Namespace of an ImageStreamTag.') } },
              referencePolicy: { type: 'object', properties: { type: { type: 'string', enum: ['Source', 'Local'], description: 'Source: pull from where the image came from; Local: through the integrated registry.' } } },
              generation: { type: 'integer', format: 'int64' },
              importPolicy: { type: 'object', properties: { scheduled: { type: 'boolean' }, insecure: { type: 'boolean' } } },
            },
          },
        },
      },
    },
    status: {
      type: 'object',
      properties: {
        dockerImageRepository: str('The integrated registry\'s repository of this stream.'),
        publicDockerImageRepository: str('The same, reachable from outside the cluster.'),
        tags: {
          type: 'array',
          items: {
            type: 'object',
            required: ['tag'],
            properties: {
              tag: str('The tag.'),
              items: {
                type: 'array',
                description: 'Images this tag pointed at, newest first.',
                items: {
                  type: 'object',
                  properties: {
                    created: { type: 'string', format: 'date-time' },
                    dockerImageReference: str('Pull spec of the image.'),
                    image: str('The image\'s digest.'),
                    generation: { type: 'integer', format: 'int64' },
                  },
                },
              },
              conditions: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { type: str('ImportSuccess.'), status: str('True, False or Unknown.'), reason: str('Why.'), message: str('Why, in a sentence.'), generation: { type: 'integer', format: 'int64' } },
                },
              },
            },
          },
        },
      },
    },
  },
};
