import { describe, expect, it } from 'vitest';
import { parseDuration } from '../constructs/duration.js';
import { defaultPullPolicy, isImageReference } from '../constructs/image-reference.js';
import { parseQuantity } from '../constructs/quantity.js';
import { isImageStreamTag, isLabelKey, isLabelValue } from '../constructs/kube-names.js';
import { REPORT_SCHEMA } from '../constructs/crd.js';
import { redactKinds, resolveSpec, SPEC_FIELDS, validateReport, validateSpec } from '../constructs/report-api.js';

const ok = { images: ['quay.io/openshift/origin-must-gather'] };

describe('validateSpec rejects what the CRD rejects, naming the field', () => {
  it.each([
    ['an empty images list', { images: [] }, 'spec.images: must not be an empty list: omit images to gather with the default must-gather image'],
    ['too many images', { images: Array.from({ length: 17 }, (_, i) => `q.io/i${i}`) }, 'spec.images: must list at most 16'],
    ['an empty image', { images: [''] }, 'spec.images[0]: must be an image reference'],
    ['a malformed image', { images: ['ok.io/a', 'Quay.io/UPPER/Case'] }, 'spec.images[1]: must be an image reference'],
    ['an image with a space', { images: ['quay.io/a b'] }, 'spec.images[0]: must be an image reference'],
    ['a repeated image', { images: ['q.io/a', 'q.io/a'] }, 'spec.images: must not list the same image twice'],
    ['images not a list', { images: 'quay.io/a' }, 'spec.images: must be a list'],
    ['deleteAfter "soon"', { ...ok, deleteAfter: 'soon' }, 'spec.deleteAfter: must be a duration'],
    ['a negative deleteAfter', { ...ok, deleteAfter: '-5m' }, 'spec.deleteAfter: must be a duration'],
    ['a huge deleteAfter', { ...ok, deleteAfter: '100000h' }, 'spec.deleteAfter: must be between 1m and 720h'],
    ['a tiny timeout', { ...ok, timeout: '1s' }, 'spec.timeout: must be between 10s and 24h'],
    ['a numeric timeout', { ...ok, timeout: 600 }, 'spec.timeout: must be a string'],
    ['volumePercentage 0', { ...ok, volumePercentage: 0 }, 'spec.volumePercentage: must be between 1 and 100'],
    ['volumePercentage 101', { ...ok, volumePercentage: 101 }, 'spec.volumePercentage: must be between 1 and 100'],
    ['a fractional volumePercentage', { ...ok, volumePercentage: 50.5 }, 'spec.volumePercentage: must be a whole number'],
    ['an unknown field', { ...ok, imagez: [] }, 'spec.imagez: unknown field'],
    ['redact not an object', { ...ok, redact: true }, 'spec.redact: must be an object such as {secrets: true}, not boolean true'],
    ['an unknown redaction', { ...ok, redact: { emails: true } }, 'spec.redact.emails: unknown field (known fields: secrets, ipAddresses, macAddresses)'],
    ['a redaction "yes"', { ...ok, redact: { secrets: 'yes' } }, 'spec.redact.secrets: must be true or false, not string "yes"'],
    ['an unknown storage field', { ...ok, storage: { sise: '1Gi' } }, 'spec.storage.sise: unknown field'],
    ['a bad size', { ...ok, storage: { size: 'ten gigs' } }, 'spec.storage.size: must be a quantity'],
    ['a tiny size', { ...ok, storage: { size: '1Mi' } }, 'spec.storage.size: must be at least 100Mi'],
    ['allImages "yes"', { allImages: 'yes' }, 'spec.allImages: must be true or false'],
    ['imageStreams not a list', { imageStreams: 'openshift/must-gather:latest' }, 'spec.imageStreams: must be a list of image stream tags'],
    ['an image stream without a tag', { imageStreams: ['openshift/must-gather'] }, 'spec.imageStreams[0]: must be an image stream tag namespace/name:tag'],
    ['an image stream without a namespace', { imageStreams: ['must-gather:latest'] }, 'spec.imageStreams[0]: must be an image stream tag'],
    ['an image stream with an uppercase name', { imageStreams: ['ok/ok:1', 'openshift/Must-Gather:latest'] }, 'spec.imageStreams[1]: must be an image stream tag'],
    ['an image stream tag starting with "."', { imageStreams: ['openshift/must-gather:.x'] }, 'spec.imageStreams[0]: must be an image stream tag'],
    ['an image stream with a 254-character name', { imageStreams: [`openshift/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}:v1`] }, 'spec.imageStreams[0]: must be an image stream tag'],
    ['a repeated image stream', { imageStreams: ['a/b:c', 'a/b:c'] }, 'spec.imageStreams: must not list the same image stream tag twice'],
    ['too many image streams', { imageStreams: Array.from({ length: 17 }, (_, i) => `ns/is${i}:t`) }, 'spec.imageStreams: must list at most 16 image stream tags'],
    ['an empty command', { command: [] }, 'spec.command: must not be an empty list: omit command to run /usr/bin/gather'],
    ['a command without a program', { command: ['', 'x'] }, 'spec.command: the first element is the program to run and must not be empty'],
    ['a command with a number', { command: ['/bin/sleep', 5] }, 'spec.command[1]: must be a string'],
    ['a command with too many strings', { command: Array.from({ length: 33 }, () => 'x') }, 'spec.command: must list at most 32 strings'],
    ['a command with a huge argument', { command: ['/bin/bash', '-c', 'x'.repeat(4097)] }, 'spec.command[2]: must be at most 4096 characters'],
    ['a sinceTime without a time zone', { sinceTime: '2025-01-31T08:00:00' }, 'spec.sinceTime: must be an RFC 3339 timestamp'],
    ['a sinceTime that is a date', { sinceTime: '2025-01-31' }, 'spec.sinceTime: must be an RFC 3339 timestamp'],
    ['a sinceTime in month 13', { sinceTime: '2025-13-01T00:00:00Z' }, 'spec.sinceTime: must be an RFC 3339 timestamp'],
    ['since and sinceTime', { since: '1h', sinceTime: '2025-01-31T08:00:00Z' }, 'spec: since and sinceTime are mutually exclusive'],
    ['a nodeName with uppercase', { nodeName: 'Node-1' }, 'spec.nodeName: must be a node name'],
    ['a nodeName with "_"', { nodeName: 'node_1' }, 'spec.nodeName: must be a node name'],
    ['a nodeName of 254 characters', { nodeName: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}` }, 'spec.nodeName: must be a node name'],
    ['a nodeSelector list', { nodeSelector: ['a=b'] }, 'spec.nodeSelector: must be a map'],
    ['a nodeSelector key with a space', { nodeSelector: { 'node role': 'x' } }, 'spec.nodeSelector: keys must be label keys'],
    ['a nodeSelector key with an empty name', { nodeSelector: { 'example.com/': 'x' } }, 'spec.nodeSelector: keys must be label keys'],
    ['a nodeSelector value with "/"', { nodeSelector: { zone: 'a/b' } }, 'spec.nodeSelector[zone]: must be a label value'],
    ['a numeric nodeSelector value', { nodeSelector: { zone: 1 } }, 'spec.nodeSelector[zone]: must be a string'],
    ['too many nodeSelector labels', { nodeSelector: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'spec.nodeSelector: must have at most 16 labels'],
  ])('%s', (_, spec, message) => {
    expect(() => validateSpec(spec)).toThrow(message);
  });

  it('accepts a full spec', () => {
    const spec = {
      images: ['a', 'b.io/c:d'], allImages: true, imageStreams: ['openshift/must-gather:latest', 'a-b/c.d:v1.2_3'],
      command: ['/bin/bash', '-c', ''], deleteAfter: '1h30m', timeout: '10m', since: '2h', nodeName: 'worker-0.example.com',
      nodeSelector: { 'node-role.kubernetes.io/worker': '', zone: 'a_b.c-1' }, storage: { size: '1Gi', storageClassName: 'x' }, volumePercentage: 100,
      redact: { secrets: true, ipAddresses: false },
    };
    expect(validateSpec(spec)).toEqual(spec);
  });

  it.each([
    ['no field at all', {}],
    ['a sinceTime in UTC with fractions', { sinceTime: '2025-01-31T08:00:00.123456789Z' }],
    ['a sinceTime with an offset', { sinceTime: '2025-01-31t08:00:00+05:30' }],
    ['an empty imageStreams list', { imageStreams: [] }],
    ['an empty nodeSelector', { nodeSelector: {} }],
  ])('accepts %s', (_, spec) => {
    expect(validateSpec(spec)).toEqual(spec);
  });

  it('knows the same spec fields as the CRD', () => {
    const schemaFields = Object.keys((REPORT_SCHEMA.properties as any).spec.properties);
    expect([...SPEC_FIELDS]).toEqual(schemaFields);
  });
});

describe('Kubernetes name syntaxes', () => {
  it.each([
    ['openshift/must-gather:latest', true], ['a/b:c', true], [`n/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}:${'t'.repeat(128)}`, true],
    ['a/b:' + 't'.repeat(129), false], [`${'n'.repeat(64)}/b:c`, false], ['a/b/c:d', false], ['a/b:c:d', false], ['a/b:-c', false], ['a/-b:c', false],
  ])('image stream tag %s is %s', (tag, valid) => expect(isImageStreamTag(tag)).toBe(valid));

  it.each([
    ['zone', true], ['kubernetes.io/hostname', true], ['node-role.kubernetes.io/control-plane', true], ['a_b.C-1', true],
    [`${'p'.repeat(63)}.${'q'.repeat(63)}.${'r'.repeat(63)}.${'s'.repeat(61)}/${'n'.repeat(63)}`, true],
    [`${'p'.repeat(63)}.${'q'.repeat(63)}.${'r'.repeat(63)}.${'s'.repeat(62)}/n`, false], ['n'.repeat(64), false],
    ['', false], ['/name', false], ['UPPER.example.com/name', false], ['-a', false], ['a/b/c', false],
  ])('label key %s is %s', (key, valid) => expect(isLabelKey(key)).toBe(valid));

  it.each([['', true], ['a', true], ['a-b_c.D', true], ['v'.repeat(63), true], ['v'.repeat(64), false], ['-a', false], ['a b', false]])(
    'label value %s is %s', (value, valid) => expect(isLabelValue(value)).toBe(valid),
  );
});

describe('validateReport', () => {
  const base = { apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport', metadata: { name: 'r' }, spec: ok };
  it('fills the default namespace', () => expect(validateReport(base, 'ns').metadata.namespace).toBe('ns'));
  it('rejects a wrong kind', () => expect(() => validateReport({ ...base, kind: 'Pod' })).toThrow('kind: must be MustGatherReport'));
  it('rejects a bad name', () => expect(() => validateReport({ ...base, metadata: { name: 'Bad_Name' } })).toThrow('metadata.name: must be a DNS subdomain'));
  it('rejects unknown top-level fields', () => expect(() => validateReport({ ...base, extra: 1 })).toThrow('(report).extra: unknown field'));
});

describe('defaults', () => {
  it('match the CRD defaults', () => {
    expect(resolveSpec(ok)).toEqual({ images: ok.images, allImages: false, deleteAfter: '30m', timeout: '10m', storage: { size: '10Gi' }, volumePercentage: 70 });
    expect(resolveSpec({ ...ok, redact: { ipAddresses: true } }).redact).toEqual({ secrets: false, ipAddresses: true, macAddresses: false });
    expect(redactKinds({ redact: { macAddresses: true, secrets: true, ipAddresses: false } })).toEqual(['secrets', 'macAddresses']);
    expect(redactKinds({})).toEqual([]);
  });

  it('invent no images: which run without spec.images is the operator\'s choice', () => {
    expect(resolveSpec({})).not.toHaveProperty('images');
  });
});

describe('formats', () => {
  it('parses Go durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('5')).toBeUndefined();
  });

  it('parses quantities', () => {
    expect(parseQuantity('10Gi')).toBe(10 * 2 ** 30);
    expect(parseQuantity('500M')).toBe(5e8);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('1 Gi')).toBeUndefined();
  });

  it.each([
    ['busybox', true], ['quay.io/org/img:tag', true], ['localhost:5000/img', true], ['[::1]:5000/img:v1', true],
    ['img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', true],
    ['UPPER/img', false], ['img:', false], ['img@sha256:short', false], ['-img', false], ['img//x', false], ['a b', false],
  ])('image reference %s is %s', (image, valid) => expect(isImageReference(image)).toBe(valid));

  it('picks the pull policy the kubelet would', () => {
    expect(defaultPullPolicy('quay.io/a')).toBe('Always');
    expect(defaultPullPolicy('quay.io/a:latest')).toBe('Always');
    expect(defaultPullPolicy('localhost:5000/a')).toBe('Always');
    expect(defaultPullPolicy('quay.io/a:v1')).toBe('IfNotPresent');
    expect(defaultPullPolicy('quay.io/a@sha256:0123456789abcdef0123456789abcdef')).toBe('IfNotPresent');
  });
});
