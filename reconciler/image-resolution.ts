/**
 * Which must-gather images a report runs, resolved once when it starts gathering (the reconciler makes the pod with
 * them and shows them in `status.images`, and the report runs exactly those for its whole life), as
 * `oc adm must-gather` resolves them:
 *
 * - the default image: the image stream tag `openshift/must-gather:latest` where the cluster serves image streams
 *   and has it, else the operator's `--default-gather-image`; it runs when the report lists no images and no image
 *   streams, or with `allImages`;
 * - `spec.images` as written, then each of `spec.imageStreams` (`namespace/name:tag`) at its current reference;
 * - with `allImages`, every image named by an `operators.openshift.io/must-gather-image` annotation on a
 *   ClusterOperator or on a ClusterServiceVersion in its operator's own namespace (never the copies OLM spreads to
 *   the namespaces an operator watches: those are labelled `olm.copiedFrom`), sorted;
 * - de-duplicated (first place wins), the default first when it runs.
 *
 * Pure functions over observed objects (table-tested), then {@link ImageResolver}, the reads. `allImages` runs
 * third-party images with cluster-admin: `--allowed-registries` limits every resolved image to trusted registries.
 */
import { DEFAULT_GATHER_IMAGE, DEFAULT_GATHER_IMAGE_STREAM } from '../constructs/operator-config.js';
import { isImageReference, normalizedRepository } from '../constructs/image-reference.js';
import { isImageStreamTag } from '../constructs/kube-names.js';
import type { MustGatherReportSpec } from '../constructs/report-api.js';
import type { ReadyReason } from '../constructs/ready-reasons.js';
import { isNotFound, type KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { ClusterReads } from './cluster-reads.js';

/** The annotation operators name their must-gather image with (oc adm must-gather --all-images reads it). */
export const MUST_GATHER_IMAGE_ANNOTATION = 'operators.openshift.io/must-gather-image';
/** OLM's label on the copies of a ClusterServiceVersion it puts in every namespace the operator watches. */
export const COPIED_CSV_LABEL = 'olm.copiedFrom';
/** Most images one report runs: one init container each, in one pod. */
export const MAX_RESOLVED_IMAGES = 32;

/** The parts of an ImageStream resolution reads. */
export interface ImageStreamView {
  metadata: { name: string; namespace?: string };
  spec?: { tags?: { name: string; from?: { kind?: string; name?: string }; referencePolicy?: { type?: string }; generation?: number }[] };
  status?: {
    dockerImageRepository?: string;
    tags?: { tag: string; items?: { dockerImageReference?: string; image?: string; generation?: number }[]; conditions?: { type?: string; status?: string; message?: string }[] }[];
  };
}

/** The parts of a ClusterOperator or ClusterServiceVersion resolution reads. */
export interface AnnotatedView {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { reason?: string };
}

/** An image named by an operator's annotation, with where it was found (`ClusterOperator/name`, `ClusterServiceVersion/ns/name`). */
export interface AnnotatedImage {
  readonly image: string;
  readonly source: string;
}

/** `namespace/name:tag` split; undefined when it is not one. */
export function parseImageStreamTag(text: string): { namespace: string; name: string; tag: string } | undefined {
  if (!isImageStreamTag(text)) return undefined;
  const slash = text.indexOf('/');
  const colon = text.lastIndexOf(':');
  return { namespace: text.slice(0, slash), name: text.slice(slash + 1, colon), tag: text.slice(colon + 1) };
}

/**
 * The pull spec of a stream's tag, as oc's `ResolveRecentPullSpecForTag` gives it: the most recent imported image
 * (through the integrated registry by digest when the tag's reference policy is Local), else a Source-policy spec tag's
 * DockerImage reference; otherwise why not. oc would fall back to `<repository>:<tag>` for a tag nothing was imported
 * to yet: that pulls nothing, so here it is a problem to retry (the import may be under way).
 */
export function resolveImageStreamTag(stream: ImageStreamView, tag: string): { image: string } | { problem: string } {
  const subject = `ImageStream ${stream.metadata.namespace}/${stream.metadata.name}`;
  const status = stream.status?.tags?.find((t) => t.tag === tag);
  const spec = stream.spec?.tags?.find((t) => t.name === tag);
  const latest = status?.items?.[0];
  if (latest?.dockerImageReference) {
    const local = spec?.referencePolicy?.type === 'Local' && stream.status?.dockerImageRepository && latest.image;
    const image = local ? `${stream.status!.dockerImageRepository}@${latest.image}` : latest.dockerImageReference;
    return isImageReference(image) ? { image } : { problem: `${subject} tag ${tag} resolves to "${image}", which is not an image reference` };
  }
  if (spec?.from?.kind === 'DockerImage' && spec.from.name && (spec.referencePolicy?.type ?? 'Source') === 'Source') {
    return isImageReference(spec.from.name) ? { image: spec.from.name } : { problem: `${subject} tag ${tag} names "${spec.from.name}", which is not an image reference` };
  }
  const importFailed = status?.conditions?.find((c) => c.type === 'ImportSuccess' && c.status === 'False')?.message;
  if (!status && !spec) return { problem: `${subject} has no tag ${tag}` };
  return { problem: `${subject} tag ${tag} has no image yet${importFailed ? ` (import failed: ${importFailed})` : ' (not imported yet)'}` };
}

/** Whether a ClusterServiceVersion is one of OLM's copies (in a namespace its operator watches, not its own). */
export function isCopiedCsv(csv: AnnotatedView): boolean {
  return csv.metadata.labels?.[COPIED_CSV_LABEL] !== undefined || csv.status?.reason === 'Copied';
}

function sourceOf(object: AnnotatedView): string {
  return object.metadata.namespace ? `${object.kind}/${object.metadata.namespace}/${object.metadata.name}` : `${object.kind}/${object.metadata.name}`;
}

/**
 * The images named by {@link MUST_GATHER_IMAGE_ANNOTATION} on ClusterOperators and original ClusterServiceVersions,
 * sorted by image (a stable order whatever the list order), each once with its first source; annotations that are no
 * image reference are problems, naming the object.
 */
export function annotatedImages(objects: readonly AnnotatedView[]): { images: AnnotatedImage[]; problems: string[] } {
  const found = new Map<string, string>();
  const problems: string[] = [];
  const sorted = [...objects].sort((a, b) => (sourceOf(a) < sourceOf(b) ? -1 : sourceOf(a) > sourceOf(b) ? 1 : 0));
  for (const object of sorted) {
    if (object.kind === RESOURCES.ClusterServiceVersion.kind && isCopiedCsv(object)) continue;
    const value = object.metadata.annotations?.[MUST_GATHER_IMAGE_ANNOTATION];
    if (value === undefined) continue;
    const image = value.trim();
    if (!isImageReference(image)) {
      problems.push(`${sourceOf(object)} annotation ${MUST_GATHER_IMAGE_ANNOTATION} "${value.slice(0, 200)}" is not an image reference`);
      continue;
    }
    if (!found.has(image)) found.set(image, sourceOf(object));
  }
  const images = [...found].map(([image, source]) => ({ image, source })).sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
  return { images, problems };
}

/** Whether the report runs the default image: when it names no images and no image streams, or with allImages. */
export function runsDefaultImage(spec: Pick<MustGatherReportSpec, 'images' | 'imageStreams' | 'allImages'>): boolean {
  return spec.allImages === true || ((spec.images?.length ?? 0) === 0 && (spec.imageStreams?.length ?? 0) === 0);
}

/** The final list: the default first when it runs, then spec.images, the streams' images and the annotated images; each once. */
export function imageList(parts: { defaultImage?: string; images?: readonly string[]; streamImages?: readonly string[]; annotated?: readonly AnnotatedImage[] }): string[] {
  const all = [...(parts.defaultImage ? [parts.defaultImage] : []), ...(parts.images ?? []), ...(parts.streamImages ?? []), ...(parts.annotated ?? []).map((a) => a.image)];
  return [...new Set(all)];
}

/** Whether the first component of a reference is a registry host, as the container runtime decides it. */
function isRegistryHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * `--allowed-registries`: comma-separated registries (`quay.io`, `registry.redhat.io:443`, `localhost`) or repository
 * prefixes (`quay.io/openshift`, `docker.io/library`), matched against each image's normalized repository on whole
 * path components. Throws naming a malformed entry.
 */
export function parseAllowedRegistries(text: string): string[] {
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    const first = entry.split('/')[0]!;
    if (!isRegistryHost(first) || entry.includes('@') || !isImageReference(`${entry}/x`)) {
      throw new Error(`"${entry}" is not a registry or repository prefix such as quay.io, registry.redhat.io:5000 or quay.io/openshift`);
    }
  }
  return entries;
}

/** Whether `image` comes from one of the allowed registries or repository prefixes. */
export function isAllowedImage(image: string, allowed: readonly string[]): boolean {
  const repository = normalizedRepository(image);
  return allowed.some((entry) => {
    const prefix = entry.replace(/^index\.docker\.io(?=\/|$)/, 'docker.io');
    return repository === prefix || repository.startsWith(`${prefix}/`);
  });
}

/** How resolution ended: the images, or why not (ResolvingImages is retried; the others end the report). */
export type Resolution = { readonly images: string[]; readonly notes: string[] } | ResolutionFailure;

/** Why a report's images cannot be had: ResolvingImages is retried, the others end the report. */
export interface ResolutionFailure {
  readonly failure: { readonly reason: Extract<ReadyReason, 'ResolvingImages' | 'ImageResolutionFailed' | 'ImageNotAllowed'>; readonly message: string };
}

/** Resolution's last step: the list bounded and checked against the allowed registries. */
export function checkedImages(images: string[], notes: string[], allowed: readonly string[] | undefined): Resolution {
  if (images.length > MAX_RESOLVED_IMAGES) {
    return { failure: { reason: 'ImageResolutionFailed', message: `${images.length} images resolved; one report runs at most ${MAX_RESOLVED_IMAGES}: ${images.join(', ')}.` } };
  }
  const refused = allowed && allowed.length > 0 ? images.filter((image) => !isAllowedImage(image, allowed)) : [];
  if (refused.length > 0) {
    return {
      failure: {
        reason: 'ImageNotAllowed',
        message: `Image${refused.length > 1 ? 's' : ''} ${refused.join(', ')} ${refused.length > 1 ? 'are' : 'is'} not from an allowed registry (the operator's --allowed-registries: ${allowed!.join(', ')}); nothing ran.`,
      },
    };
  }
  return { images, notes };
}

/** Options of {@link ImageResolver}. */
export interface ImageResolverOptions {
  /**
   * The default image where the cluster has no `openshift/must-gather:latest` image stream tag.
   * @default DEFAULT_GATHER_IMAGE
   */
  readonly defaultImage?: string;
  /**
   * The image stream tag of the default image.
   * @default DEFAULT_GATHER_IMAGE_STREAM
   */
  readonly defaultImageStream?: string;
  /**
   * Registries or repository prefixes every resolved image must come from.
   * @default - any
   */
  readonly allowedRegistries?: readonly string[];
}

const retry = (message: string): ResolutionFailure => ({ failure: { reason: 'ResolvingImages', message } });
const failed = (message: string): ResolutionFailure => ({ failure: { reason: 'ImageResolutionFailed', message } });
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The reads of resolution: GETs of image streams, LISTs of annotated operators; only for reports that need them. */
export class ImageResolver {
  private readonly defaultImage: string;
  private readonly defaultStream: string;

  constructor(private readonly reads: ClusterReads, private readonly options: ImageResolverOptions = {}) {
    this.defaultImage = options.defaultImage ?? DEFAULT_GATHER_IMAGE;
    this.defaultStream = options.defaultImageStream ?? DEFAULT_GATHER_IMAGE_STREAM;
    if (!parseImageStreamTag(this.defaultStream)) throw new Error(`default image stream "${this.defaultStream}" is not namespace/name:tag`);
  }

  /** The images a report with `spec` runs, or why not. Never throws: a failed read is a failure to retry. */
  async resolve(spec: Pick<MustGatherReportSpec, 'images' | 'imageStreams' | 'allImages'>): Promise<Resolution> {
    try {
      const notes: string[] = [];
      let defaultImage: string | undefined;
      if (runsDefaultImage(spec)) {
        const fromStream = await this.defaultFromStream();
        defaultImage = fromStream ?? this.defaultImage;
        notes.push(fromStream ? `the default image from image stream ${this.defaultStream}` : `the default image ${this.defaultImage} (no image stream ${this.defaultStream} here)`);
      }
      const streamImages: string[] = [];
      for (const text of spec.imageStreams ?? []) {
        const result = await this.streamTag(text);
        if ('failure' in result) return result;
        streamImages.push(result.image);
      }
      let annotated: AnnotatedImage[] = [];
      if (spec.allImages) {
        const found = await this.annotated(notes);
        if (found.problems.length > 0) return retry(`Cannot resolve allImages: ${found.problems.join('; ')}.`);
        annotated = found.images;
        notes.push(annotated.length > 0 ? `allImages: ${annotated.map((a) => `${a.image} from ${a.source}`).join(', ')}` : 'allImages: no operator names a must-gather image');
      }
      if (streamImages.length > 0) notes.push(`image streams: ${spec.imageStreams!.map((text, i) => `${text} is ${streamImages[i]}`).join(', ')}`);
      return checkedImages(imageList({ ...(defaultImage ? { defaultImage } : {}), ...(spec.images ? { images: spec.images } : {}), streamImages, annotated }), notes, this.options.allowedRegistries);
    } catch (err) {
      return retry(`Cannot resolve the images: ${errorText(err)}.`);
    }
  }

  /** The default stream tag's image, or undefined where image streams, that stream or that tag's image are not there. */
  private async defaultFromStream(): Promise<string | undefined> {
    if (!(await this.reads.served(RESOURCES.ImageStream))) return undefined;
    const { namespace, name, tag } = parseImageStreamTag(this.defaultStream)!;
    const stream = await this.stream(namespace, name);
    if (!stream) return undefined;
    const result = resolveImageStreamTag(stream, tag);
    return 'image' in result ? result.image : undefined;
  }

  private async streamTag(text: string): Promise<{ image: string } | ResolutionFailure> {
    const parsed = parseImageStreamTag(text);
    if (!parsed) return failed(`Image stream tag "${text}" is not namespace/name:tag.`);
    if (!(await this.reads.served(RESOURCES.ImageStream))) {
      return failed(`Cannot resolve image stream ${text}: this cluster does not serve image.openshift.io ImageStreams.`);
    }
    const stream = await this.stream(parsed.namespace, parsed.name);
    if (!stream) return retry(`Cannot resolve image stream ${text}: ImageStream ${parsed.namespace}/${parsed.name} not found.`);
    const result = resolveImageStreamTag(stream, parsed.tag);
    return 'image' in result ? result : retry(`Cannot resolve image stream ${text}: ${result.problem}.`);
  }

  private stream(namespace: string, name: string): Promise<ImageStreamView | undefined> {
    return this.reads.shared(`ImageStream ${namespace}/${name}`, () => this.reads.client.get<ImageStreamView>({ kind: RESOURCES.ImageStream.kind, namespace, name }));
  }

  /** Annotated images of ClusterOperators and original CSVs; kinds this cluster does not serve are noted, not errors. */
  private async annotated(notes: string[]): Promise<{ images: AnnotatedImage[]; problems: string[] }> {
    const objects: AnnotatedView[] = [];
    for (const type of [RESOURCES.ClusterOperator, RESOURCES.ClusterServiceVersion]) {
      if (!(await this.reads.served(type))) {
        notes.push(`allImages: this cluster serves no ${type.kind}s`);
        continue;
      }
      objects.push(...await this.annotatedOf(type));
    }
    return annotatedImages(objects);
  }

  /** One kind's objects, kept to what resolution reads; original CSVs only (OLM's copies are filtered by the server too). */
  private annotatedOf(type: typeof RESOURCES.ClusterOperator | typeof RESOURCES.ClusterServiceVersion): Promise<AnnotatedView[]> {
    return this.reads.shared(`annotated ${type.plural}`, async () => {
      try {
        const { items } = await this.reads.client.list<AnnotatedView>(type, {
          ...(type.kind === RESOURCES.ClusterServiceVersion.kind ? { labelSelector: `!${COPIED_CSV_LABEL}` } : {}),
          each: (item: KubeObject) => {
            const value = item.metadata.annotations?.[MUST_GATHER_IMAGE_ANNOTATION];
            const reason = (item as { status?: { reason?: string } }).status?.reason;
            return {
              kind: type.kind,
              metadata: {
                name: item.metadata.name,
                ...(item.metadata.namespace ? { namespace: item.metadata.namespace } : {}),
                ...(item.metadata.labels?.[COPIED_CSV_LABEL] !== undefined ? { labels: { [COPIED_CSV_LABEL]: item.metadata.labels[COPIED_CSV_LABEL]! } } : {}),
                ...(value !== undefined ? { annotations: { [MUST_GATHER_IMAGE_ANNOTATION]: value } } : {}),
              },
              ...(reason ? { status: { reason } } : {}),
            };
          },
        });
        return items;
      } catch (err) {
        // Removed between discovery and the list: nothing of that kind.
        if (isNotFound(err)) return [];
        throw err;
      }
    });
  }
}
