/**
 * Container image references as the container runtime parses them (distribution/reference's grammar):
 * `[registry[:port]/]path[:tag][@algorithm:digest]`. The CRD checks the same expression with CEL, so a report the
 * CLI accepts is one the API server accepts.
 */

const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
// As the runtime normalizes names, a first component is a registry only with a ".", a port, or as localhost.
const HOST = `(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})+(?::[0-9]+)?|${HOST_COMPONENT}:[0-9]+|localhost|\\[[a-fA-F0-9:]+\\](?::[0-9]+)?)`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

/** Anchored regular expression (RE2 and ECMAScript compatible) for an image reference. */
export const IMAGE_REFERENCE_PATTERN = `^(?:${HOST}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`;

/** Longest image reference accepted; the runtime's own limit on the name part is 255. */
export const IMAGE_REFERENCE_MAX_LENGTH = 512;

const IMAGE_REFERENCE_RE = new RegExp(IMAGE_REFERENCE_PATTERN);

/** Whether `text` is a valid image reference. */
export function isImageReference(text: string): boolean {
  return text.length <= IMAGE_REFERENCE_MAX_LENGTH && IMAGE_REFERENCE_RE.test(text);
}

/** The kubelet's default pull policy for a reference: `Always` for `:latest` or no tag (and no digest). */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : undefined;
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/**
 * The repository an image reference names, as the container runtime normalizes it (distribution/reference's
 * ParseNormalizedNamed): without tag or digest, with the registry `docker.io` when the first component is none
 * (no ".", no port, not localhost) and `library/` before a single Docker Hub component.
 */
export function normalizedRepository(image: string): string {
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasRegistry = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  const [registry, path] = hasRegistry ? [first, name.slice(slash + 1)] : ['docker.io', name];
  if (registry === 'docker.io' || registry === 'index.docker.io') return `docker.io/${path.includes('/') ? path : `library/${path}`}`;
  return `${registry}/${path}`;
}
