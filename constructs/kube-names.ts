/**
 * Kubernetes name, label and timestamp syntaxes (k8s.io/apimachinery/pkg/util/validation), as anchored regular
 * expressions that RE2 (CEL's `matches`) and ECMAScript both read the same way: the CRD checks them with CEL, the CLI
 * with these, so both accept the same values.
 */

const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const SUBDOMAIN = `${LABEL}(\\.${LABEL})*`;
/** A label key's name part, or a label value: at most 63 characters, alphanumeric at both ends. */
const LABEL_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]';

/** Longest DNS-1123 label (namespace names). */
export const DNS_LABEL_MAX_LENGTH = 63;
/** Longest DNS-1123 subdomain (most object names, label key prefixes). */
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

/** A DNS-1123 label (a namespace name); the pattern bounds its length. */
export const DNS_LABEL_PATTERN = `^${LABEL}$`;
/** A DNS-1123 subdomain (a node name); check the length (at most 253) separately. */
export const DNS_SUBDOMAIN_PATTERN = `^${SUBDOMAIN}$`;
/** A label key: an optional DNS subdomain prefix and "/", then the name; check the prefix length separately. */
export const LABEL_KEY_PATTERN = `^(${SUBDOMAIN}/)?${LABEL_NAME}$`;
/** A label value: empty or a label name. */
export const LABEL_VALUE_PATTERN = `^(${LABEL_NAME})?$`;
/** Longest label key: a 253-character prefix, "/", a 63-character name. */
export const LABEL_KEY_MAX_LENGTH = DNS_SUBDOMAIN_MAX_LENGTH + 1 + 63;
/** Longest label value. */
export const LABEL_VALUE_MAX_LENGTH = 63;

/** A Docker/OCI tag: up to 128 word characters, ".", "-", not starting with "." or "-". */
export const TAG_PATTERN = '[\\w][\\w.-]{0,127}';

/** An RFC 3339 timestamp with a time zone (what Go's time.RFC3339 parses; `oc adm inspect --since-time` wants it). */
export const RFC3339_PATTERN =
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';

const DNS_LABEL_RE = new RegExp(DNS_LABEL_PATTERN);
const DNS_SUBDOMAIN_RE = new RegExp(DNS_SUBDOMAIN_PATTERN);
const LABEL_KEY_RE = new RegExp(LABEL_KEY_PATTERN);
const LABEL_VALUE_RE = new RegExp(LABEL_VALUE_PATTERN);

/** Whether `text` is a DNS-1123 label (at most 63 characters). */
export function isDnsLabel(text: string): boolean {
  return DNS_LABEL_RE.test(text);
}

/** Whether `text` is a DNS-1123 subdomain (at most 253 characters). */
export function isDnsSubdomain(text: string): boolean {
  return text.length <= DNS_SUBDOMAIN_MAX_LENGTH && DNS_SUBDOMAIN_RE.test(text);
}

/** Whether `text` is a label key; the CRD's CEL rule is {@link labelKeyRule}. */
export function isLabelKey(text: string): boolean {
  const slash = text.indexOf('/');
  return text.length <= LABEL_KEY_MAX_LENGTH && LABEL_KEY_RE.test(text) && (slash < 0 || slash <= DNS_SUBDOMAIN_MAX_LENGTH);
}

/** The CEL expression of {@link isLabelKey} for a string `k`. */
export function labelKeyRule(k: string): string {
  return `${k}.size() <= ${LABEL_KEY_MAX_LENGTH} && ${k}.matches(r'${LABEL_KEY_PATTERN}') && (!${k}.contains('/') || ${k}.indexOf('/') <= ${DNS_SUBDOMAIN_MAX_LENGTH})`;
}

/** Whether `text` is a label value. */
export function isLabelValue(text: string): boolean {
  return text.length <= LABEL_VALUE_MAX_LENGTH && LABEL_VALUE_RE.test(text);
}

/** An image stream tag `namespace/name:tag` (namespace a DNS label, name a DNS subdomain); check the name length separately. */
export const IMAGE_STREAM_TAG_PATTERN = `^${LABEL}/${SUBDOMAIN}:${TAG_PATTERN}$`;
/** Longest image stream tag: namespace, "/", name, ":", tag. */
export const IMAGE_STREAM_TAG_MAX_LENGTH = DNS_LABEL_MAX_LENGTH + 1 + DNS_SUBDOMAIN_MAX_LENGTH + 1 + 128;
const IMAGE_STREAM_TAG_RE = new RegExp(IMAGE_STREAM_TAG_PATTERN);

/** Whether `text` is an image stream tag `namespace/name:tag`; the CRD's CEL rule is {@link imageStreamTagRule}. */
export function isImageStreamTag(text: string): boolean {
  return IMAGE_STREAM_TAG_RE.test(text) && text.lastIndexOf(':') - text.indexOf('/') - 1 <= DNS_SUBDOMAIN_MAX_LENGTH;
}

/** The CEL expression of {@link isImageStreamTag} for a string `s`. */
export function imageStreamTagRule(s: string): string {
  return `${s}.matches(r'${IMAGE_STREAM_TAG_PATTERN}') && ${s}.lastIndexOf(':') - ${s}.indexOf('/') - 1 <= ${DNS_SUBDOMAIN_MAX_LENGTH}`;
}
