import { describe, expect, it } from 'vitest';
import { normalizedRepository } from '../constructs/image-reference.js';
import {
  type AnnotatedView, annotatedImages, checkedImages, COPIED_CSV_LABEL, type ImageStreamView, imageList, isAllowedImage, isCopiedCsv, MAX_RESOLVED_IMAGES,
  MUST_GATHER_IMAGE_ANNOTATION, parseAllowedRegistries, parseImageStreamTag, resolveImageStreamTag, runsDefaultImage,
} from './image-resolution.js';

const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

function stream(tags: { spec?: Record<string, unknown>; status?: Record<string, unknown> }[], repository = 'image-registry.openshift-image-registry.svc:5000/openshift/must-gather'): ImageStreamView {
  return {
    metadata: { namespace: 'openshift', name: 'must-gather' },
    spec: { tags: tags.flatMap((t) => (t.spec ? [t.spec as never] : [])) },
    status: { dockerImageRepository: repository, tags: tags.flatMap((t) => (t.status ? [t.status as never] : [])) },
  };
}

describe('resolveImageStreamTag (oc ResolveRecentPullSpecForTag)', () => {
  const imported = { tag: 'latest', items: [{ dockerImageReference: `quay.io/openshift/must-gather@${DIGEST}`, image: DIGEST, generation: 2 }, { dockerImageReference: 'quay.io/openshift/old@sha256:' + 'f'.repeat(64), image: 'x', generation: 1 }] };
  it.each([
    ['the newest imported image, Source policy', [{ spec: { name: 'latest', referencePolicy: { type: 'Source' } }, status: imported }], `quay.io/openshift/must-gather@${DIGEST}`],
    ['a status tag without a spec tag (pushed)', [{ status: imported }], `quay.io/openshift/must-gather@${DIGEST}`],
    ['Local policy: through the integrated registry by digest', [{ spec: { name: 'latest', referencePolicy: { type: 'Local' } }, status: imported }],
      `image-registry.openshift-image-registry.svc:5000/openshift/must-gather@${DIGEST}`],
    ['a pending newer import still gives the last imported image', [{ spec: { name: 'latest', generation: 3 }, status: imported }], `quay.io/openshift/must-gather@${DIGEST}`],
    ['nothing imported yet, a Source DockerImage spec tag: its reference', [{ spec: { name: 'latest', from: { kind: 'DockerImage', name: 'quay.io/x/y:v2' } } }], 'quay.io/x/y:v2'],
  ])('%s', (_what, tags, image) => {
    expect(resolveImageStreamTag(stream(tags), 'latest')).toEqual({ image });
  });

  it.each([
    ['no such tag', [{ status: imported }], 'v9', 'ImageStream openshift/must-gather has no tag v9'],
    ['a tag nothing was imported to', [{ spec: { name: 'v9', from: { kind: 'ImageStreamTag', name: 'other:v1' } } }], 'v9', 'tag v9 has no image yet (not imported yet)'],
    ['a Local-policy DockerImage spec tag not imported yet', [{ spec: { name: 'v9', from: { kind: 'DockerImage', name: 'quay.io/x/y:v2' }, referencePolicy: { type: 'Local' } } }], 'v9', 'tag v9 has no image yet'],
    ['a failed import, with its message', [{ spec: { name: 'v9' }, status: { tag: 'v9', conditions: [{ type: 'ImportSuccess', status: 'False', message: 'manifest unknown' }] } }], 'v9', 'import failed: manifest unknown'],
    ['an imported reference that is no image reference', [{ status: { tag: 'v9', items: [{ dockerImageReference: 'Not An Image', image: 'x' }] } }], 'v9', '"Not An Image", which is not an image reference'],
  ])('%s is a problem naming the stream and tag', (_what, tags, tag, problem) => {
    const result = resolveImageStreamTag(stream(tags), tag);
    expect('problem' in result && result.problem).toContain(problem);
  });

  it('parses namespace/name:tag and refuses what is not one', () => {
    expect(parseImageStreamTag('openshift/must-gather:latest')).toEqual({ namespace: 'openshift', name: 'must-gather', tag: 'latest' });
    expect(parseImageStreamTag('ns/a.b:v1.2-rc')).toEqual({ namespace: 'ns', name: 'a.b', tag: 'v1.2-rc' });
    for (const bad of ['must-gather:latest', 'ns/name', 'NS/name:tag', 'ns/name:-tag']) expect(parseImageStreamTag(bad)).toBeUndefined();
  });
});

describe('annotated images (allImages)', () => {
  const co = (name: string, image?: string): AnnotatedView => ({ kind: 'ClusterOperator', metadata: { name, ...(image !== undefined ? { annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: image } } : {}) } });
  const csv = (namespace: string, name: string, image: string, copied?: 'label' | 'reason'): AnnotatedView => ({
    kind: 'ClusterServiceVersion',
    metadata: { namespace, name, annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: image }, ...(copied === 'label' ? { labels: { [COPIED_CSV_LABEL]: 'openshift-cnv' } } : {}) },
    ...(copied === 'reason' ? { status: { reason: 'Copied' } } : {}),
  });

  it('takes ClusterOperators and original CSVs, never OLM\'s copies; sorted, each image once with its first source', () => {
    const objects = [
      csv('openshift-cnv', 'kubevirt-hyperconverged.v4.20.0', 'quay.io/kubevirt/must-gather:v4.20'),
      csv('default', 'kubevirt-hyperconverged.v4.20.0', 'quay.io/attacker/copied:v1', 'label'),
      csv('team-a', 'kubevirt-hyperconverged.v4.20.0', 'quay.io/attacker/copied-by-reason:v1', 'reason'),
      co('network'),
      co('storage', 'quay.io/openshift/storage-must-gather:v1'),
      co('another-storage', 'quay.io/openshift/storage-must-gather:v1'),
      csv('openshift-logging', 'cluster-logging.v6', '  quay.io/logging/must-gather:v6  '),
    ];
    const forward = annotatedImages(objects);
    expect(forward).toEqual({
      images: [
        { image: 'quay.io/kubevirt/must-gather:v4.20', source: 'ClusterServiceVersion/openshift-cnv/kubevirt-hyperconverged.v4.20.0' },
        { image: 'quay.io/logging/must-gather:v6', source: 'ClusterServiceVersion/openshift-logging/cluster-logging.v6' },
        { image: 'quay.io/openshift/storage-must-gather:v1', source: 'ClusterOperator/another-storage' },
      ],
      problems: [],
    });
    // The order of the lists read does not matter.
    expect(annotatedImages([...objects].reverse())).toEqual(forward);
  });

  it('names an annotation that is no image reference', () => {
    expect(annotatedImages([co('bad', 'not an image!')]).problems).toEqual([`ClusterOperator/bad annotation ${MUST_GATHER_IMAGE_ANNOTATION} "not an image!" is not an image reference`]);
  });

  it('tells OLM copies by label or by status.reason', () => {
    expect(isCopiedCsv(csv('a', 'b', 'x', 'label'))).toBe(true);
    expect(isCopiedCsv(csv('a', 'b', 'x', 'reason'))).toBe(true);
    expect(isCopiedCsv(csv('a', 'b', 'x'))).toBe(false);
  });
});

describe('the final list', () => {
  it.each([
    [{}, true],
    [{ images: ['a'] }, false],
    [{ imageStreams: ['ns/s:t'] }, false],
    [{ images: ['a'], allImages: true }, true],
    [{ allImages: false }, true],
  ])('runs the default image for %j: %s', (spec, expected) => expect(runsDefaultImage(spec)).toBe(expected));

  it('puts the default first, then spec.images, streams and annotations, each once (first place wins)', () => {
    expect(imageList({
      defaultImage: 'quay.io/openshift/must-gather:4.20',
      images: ['quay.io/x/a:v1', 'quay.io/openshift/must-gather:4.20'],
      streamImages: ['quay.io/x/b:v1', 'quay.io/x/a:v1'],
      annotated: [{ image: 'quay.io/x/c:v1', source: 'ClusterOperator/c' }, { image: 'quay.io/x/b:v1', source: 'ClusterOperator/b' }],
    })).toEqual(['quay.io/openshift/must-gather:4.20', 'quay.io/x/a:v1', 'quay.io/x/b:v1', 'quay.io/x/c:v1']);
    expect(imageList({ images: ['quay.io/x/a:v1'] })).toEqual(['quay.io/x/a:v1']);
  });

  it(`refuses more than ${MAX_RESOLVED_IMAGES} images`, () => {
    const many = Array.from({ length: MAX_RESOLVED_IMAGES + 1 }, (_, i) => `quay.io/x/i${i}:v1`);
    expect(checkedImages(many, [], undefined)).toMatchObject({ failure: { reason: 'ImageResolutionFailed', message: expect.stringContaining(`at most ${MAX_RESOLVED_IMAGES}`) } });
    expect(checkedImages(many.slice(1), ['n'], undefined)).toEqual({ images: many.slice(1), notes: ['n'] });
  });
});

describe('allowed registries', () => {
  it('normalizes repositories as the runtime does', () => {
    expect(normalizedRepository('busybox')).toBe('docker.io/library/busybox');
    expect(normalizedRepository('busybox:1.36')).toBe('docker.io/library/busybox');
    expect(normalizedRepository('library/busybox@' + DIGEST)).toBe('docker.io/library/busybox');
    expect(normalizedRepository('docker.io/busybox')).toBe('docker.io/library/busybox');
    expect(normalizedRepository('index.docker.io/org/x:v1')).toBe('docker.io/org/x');
    expect(normalizedRepository('localhost:5000/a/b:v1')).toBe('localhost:5000/a/b');
    expect(normalizedRepository('localhost/mustgather/demo:v1')).toBe('localhost/mustgather/demo');
    expect(normalizedRepository('quay.io/openshift/must-gather@' + DIGEST)).toBe('quay.io/openshift/must-gather');
  });

  it.each([
    ['quay.io/openshift/must-gather:4.20', ['quay.io'], true],
    ['quay.io/openshift/must-gather:4.20', ['quay.io/openshift'], true],
    ['quay.io/openshiftx/must-gather:4.20', ['quay.io/openshift'], false],
    ['quay.io.evil.com/openshift/must-gather:4.20', ['quay.io'], false],
    ['quay.io:443/openshift/must-gather:4.20', ['quay.io'], false],
    ['registry.redhat.io/openshift4/ose-must-gather@' + DIGEST, ['quay.io', 'registry.redhat.io'], true],
    ['busybox', ['docker.io/library'], true],
    ['busybox', ['quay.io'], false],
    ['org/tool:v1', ['docker.io'], true],
    ['org/tool:v1', ['index.docker.io/org'], true],
    ['localhost/mustgather/demo-must-gather:v1', ['localhost/mustgather'], true],
    ['localhost:5000/mustgather/demo:v1', ['localhost'], false],
  ])('%s with %j: %s', (image, allowed, expected) => expect(isAllowedImage(image, allowed)).toBe(expected));

  it('parses the flag and names a malformed entry', () => {
    expect(parseAllowedRegistries(' quay.io, registry.redhat.io:5000 ,quay.io/openshift,,localhost/mustgather ')).toEqual(['quay.io', 'registry.redhat.io:5000', 'quay.io/openshift', 'localhost/mustgather']);
    expect(parseAllowedRegistries('')).toEqual([]);
    for (const bad of ['quay', 'quay.io/openshift:v1', 'quay.io/x@' + DIGEST, 'Quay.IO/Upper', 'https://quay.io']) {
      expect(() => parseAllowedRegistries(bad), bad).toThrow(`"${bad}" is not a registry or repository prefix`);
    }
  });

  it('refuses every image outside the list, naming each, and nothing else', () => {
    const result = checkedImages(['quay.io/ok/a:v1', 'evil.example.com/x:v1', 'docker.io/y/z:v1'], [], ['quay.io']);
    expect(result).toEqual({ failure: { reason: 'ImageNotAllowed', message: expect.stringContaining('Images evil.example.com/x:v1, docker.io/y/z:v1 are not from an allowed registry') } });
    expect(checkedImages(['quay.io/ok/a:v1'], [], ['quay.io'])).toEqual({ images: ['quay.io/ok/a:v1'], notes: [] });
    expect(checkedImages(['anything.example.com/x:v1'], [], [])).toEqual({ images: ['anything.example.com/x:v1'], notes: [] });
  });
});
