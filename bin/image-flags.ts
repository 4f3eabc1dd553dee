import { imagesFromEnv, type OperatorImages } from '../constructs/operator-config.js';

/** `--operator-image` and `--oauth-proxy-image`, for commands that render or run the report pod. */
export const IMAGE_FLAGS = {
  'operator-image': { type: 'string' },
  'oauth-proxy-image': { type: 'string' },
} as const;

/** The images: flags first, then the environment, then the defaults. */
export function imagesFromFlags(values: { 'operator-image'?: string; 'oauth-proxy-image'?: string }): OperatorImages {
  const fromEnv = imagesFromEnv();
  return { operator: values['operator-image'] ?? fromEnv.operator, oauthProxy: values['oauth-proxy-image'] ?? fromEnv.oauthProxy };
}
