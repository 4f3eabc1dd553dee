import { describe, expect, it } from 'vitest';
import { parseDuration } from '../constructs/duration.js';
import { defaultPullPolicy, isImageReference } from '../constructs/image-reference.js';
import { parseQuantity } from '../constructs/quantity.js';
import { resolveSpec, validateReport, validateSpec } from '../constructs/report-api.js';

const ok = { images: ['quay.io/openshift/origin-must-gather'] };

describe('validateSpec rejects what the CRD rejects, naming the field', () => {
  it.each([
    ['missing images', {}, 'spec.images: required'],
    ['no images', { images: [] }, 'spec.images: must list at least one'],
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
    ['an unknown storage field', { ...ok, storage: { sise: '1Gi' } }, 'spec.storage.sise: unknown field'],
    ['a bad size', { ...ok, storage: { size: 'ten gigs' } }, 'spec.storage.size: must be a quantity'],
    ['a tiny size', { ...ok, storage: { size: '1Mi' } }, 'spec.storage.size: must be at least 100Mi'],
  ])('%s', (_, spec, message) => {
    expect(() => validateSpec(spec)).toThrow(message);
  });

  it('accepts a full spec', () => {
    const spec = { images: ['a', 'b.io/c:d'], deleteAfter: '1h30m', timeout: '10m', since: '2h', storage: { size: '1Gi', storageClassName: 'x' }, volumePercentage: 100 };
    expect(validateSpec(spec)).toEqual(spec);
  });
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
    expect(resolveSpec(ok)).toEqual({ images: ok.images, deleteAfter: '30m', timeout: '10m', storage: { size: '10Gi' }, volumePercentage: 70 });
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
