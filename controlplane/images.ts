/**
 * Images without a registry, for the local development node (containerd + runc + kubelet under controlplane/).
 *
 * No registry can be reached from this machine, so every image a pod on the local node runs is made here, from what
 * the machine already has (host binaries and their shared libraries, the project packed by npm, Go built offline),
 * and loaded into containerd directly:
 *
 * - {@link buildImageArchive}: a root filesystem directory -> an OCI image-layout tar (one gzip layer), our own code,
 *   byte-for-byte deterministic for the same input.
 * - {@link loadImage}: a docker-archive tar, an OCI archive tar or a root filesystem directory -> image NAME in
 *   containerd's `k8s.io` namespace, unpacked into the overlayfs snapshotter the kubelet's CRI uses.
 * - {@link pauseImage}, {@link projectImage}, {@link demoGatherImage}, {@link testGatherImages}: the images the project
 *   needs, cached under `<cacheRoot>/images/` by a content hash of their inputs (a second run reads a few files).
 *
 * Every loaded image carries a fixed tag (never `latest`), so `imagePullPolicy: IfNotPresent` uses it and nothing asks
 * the sealed registry.
 */
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { list as listTar } from 'tar';
import { cacheRoot, ensureBinaries, repoRoot } from './binaries.js';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------------
// Image names
// ---------------------------------------------------------------------------------------------------------------

/** The sandbox ("pause") image of the local node, see {@link pauseImage}. */
export const PAUSE_IMAGE = 'localhost/mustgather/pause:3.10';
/** The demo must-gather image, see {@link demoGatherImage}. */
export const DEMO_GATHER_IMAGE = 'localhost/mustgather/demo-must-gather:v1';
/** The test gather images, see {@link testGatherImages}: the mode is what /usr/bin/gather does after writing data. */
export const TEST_GATHER_IMAGES = {
  ok: 'localhost/mustgather/gather-ok:v1',
  fail: 'localhost/mustgather/gather-fail:v1',
  sleep: 'localhost/mustgather/gather-sleep:v1',
  fill: 'localhost/mustgather/gather-fill:v1',
} as const;
export type TestGatherMode = keyof typeof TEST_GATHER_IMAGES;

/** A built image: its normalised name and the OCI archive (a file in the cache) that holds it. */
export interface ImageArchive {
  name: string;
  archive: string;
}

const REPOSITORY_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** The parts of an image reference, as docker's reference.ParseNormalizedNamed splits it. */
export interface ImageReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

/**
 * Splits and normalises an image reference exactly like the kubelet and docker do (distribution/reference's
 * ParseNormalizedNamed): a first component without `.` or `:` that is not `localhost` (and is lower case) is not a
 * registry, so the image is on docker.io, and docker.io's single-component names live under `library/`.
 * Throws on a reference docker would reject.
 */
export function parseImageName(name: string): ImageReference {
  const fail = (why: string): never => {
    throw new Error(`invalid image name ${JSON.stringify(name)}: ${why}`);
  };
  if (name === '' || name.length > 4096) fail('empty or too long');
  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`bad tag ${JSON.stringify(tag)}`);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const isDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  let domain = isDomain ? first : 'docker.io';
  let repoPath = isDomain ? rest.slice(slash + 1) : rest;
  if (isDomain && !DOMAIN.test(domain)) fail(`bad registry ${JSON.stringify(domain)}`);
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !repoPath.includes('/')) repoPath = `library/${repoPath}`;
  for (const component of repoPath.split('/')) {
    if (!REPOSITORY_COMPONENT.test(component)) {
      fail(component.toLowerCase() !== component ? 'repository name must be lowercase' : `bad path component ${JSON.stringify(component)}`);
    }
  }
  return { domain, path: repoPath, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/**
 * The fully qualified form of an image name, as the kubelet and `docker pull` use it: `busybox` ->
 * `docker.io/library/busybox:latest`, `foo/bar:1` -> `docker.io/foo/bar:1`, `localhost:5000/x` ->
 * `localhost:5000/x:latest`; a digest is kept (and then no `latest` is added).
 */
export function normalizeImageName(name: string): string {
  const ref = parseImageName(name);
  const tag = ref.tag ?? (ref.digest ? undefined : 'latest');
  return `${ref.domain}/${ref.path}${tag !== undefined ? `:${tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * The normalised name of an image that is loaded rather than pulled. It must carry an explicit tag other than
 * `latest` (and no digest: a locally built image has its own): the kubelet's default pull policy for `latest` (or no
 * tag) is Always, which would ask the sealed registry and fail.
 */
export function loadableImageName(name: string): string {
  const ref = parseImageName(name);
  if (ref.digest) throw new Error(`image ${name}: a loaded image is named by a tag, not a digest`);
  if (ref.tag === undefined || ref.tag === 'latest') {
    throw new Error(
      `image ${name}: a loaded image needs an explicit tag other than "latest" (e.g. ${ref.domain}/${ref.path}:v1), ` +
        'so that imagePullPolicy IfNotPresent applies and nothing tries to pull it',
    );
  }
  return normalizeImageName(name);
}

// ---------------------------------------------------------------------------------------------------------------
// A deterministic tar writer
// ---------------------------------------------------------------------------------------------------------------

/** The mtime of every entry: fixed, so the same tree gives the same bytes (and the same digest). */
const FIXED_MTIME = 0;

interface TarEntry {
  /** Relative path, `/`-separated, without a leading `./` (directories without the trailing slash). */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  linkname?: string;
  /** The content of a file: its bytes, or a file to stream. */
  content?: Buffer | { file: string };
}

/** A NUL-terminated octal field of `width` bytes; a value that does not fit (a file of 8 GiB, a huge uid) is refused. */
function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`${value} does not fit a ${width}-byte tar header field`);
  return digits.padStart(width - 1, '0') + '\0';
}

/** A PAX extended header record: "<length> key=value\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes), or undefined when it does not fit. */
function ustarName(p: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(p) <= 100) return { name: p, prefix: '' };
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  return undefined;
}

function header(fields: { name: string; prefix: string; mode: number; uid: number; gid: number; size: number; type: string; linkname: string }): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name, 0, 100);
  h.write(octal(fields.mode, 8), 100);
  h.write(octal(fields.uid, 8), 108);
  h.write(octal(fields.gid, 8), 116);
  h.write(octal(fields.size, 12), 124);
  h.write(octal(FIXED_MTIME, 12), 136);
  h.write(' '.repeat(8), 148);
  h.write(fields.type, 156);
  h.write(fields.linkname, 157, 100);
  h.write('ustar\0' + '00', 257);
  h.write(fields.prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

const padding = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

/** The tar blocks of one entry: a PAX header first when the path or link target does not fit ustar's fields. */
async function* tarEntry(e: TarEntry): AsyncGenerator<Buffer> {
  const entryPath = e.type === 'directory' ? `${e.path}/` : e.path;
  const linkname = e.linkname ?? '';
  const split = ustarName(entryPath);
  const pax = (split ? '' : paxRecord('path', entryPath)) + (Buffer.byteLength(linkname) > 100 ? paxRecord('linkpath', linkname) : '');
  if (pax) {
    const body = Buffer.from(pax);
    const paxName = `PaxHeaders/${path.posix.basename(e.path)}`.slice(0, 100);
    yield header({ name: paxName, prefix: '', mode: 0o644, uid: 0, gid: 0, size: body.length, type: 'x', linkname: '' });
    yield Buffer.concat([body, padding(body.length)]);
  }
  const names = split ?? { name: entryPath.slice(0, 100), prefix: '' };
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const type = { file: '0', directory: '5', symlink: '2' }[e.type];
  yield header({ ...names, mode: e.mode, uid: e.uid, gid: e.gid, size, type, linkname: linkname.slice(0, 100) });
  if (e.type !== 'file') return;
  let written = 0;
  if (Buffer.isBuffer(e.content)) {
    written = e.content.length;
    yield e.content;
  } else if (e.content) {
    for await (const chunk of createReadStream(e.content.file)) {
      written += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  // The header already promised `size` bytes: a file that changed while being read would corrupt the stream.
  if (written !== size) throw new Error(`${e.path} changed while it was archived (${written} bytes, expected ${size})`);
  yield padding(size);
}

/** A whole tar stream: the entries in the order given, then the two zero blocks that end an archive. */
async function* tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const e of entries) yield* tarEntry(e);
  yield Buffer.alloc(1024);
}

/**
 * The entries of a root filesystem directory, depth first in byte order of names (a stable order). Files owned by the
 * building user become root's (a rootless build gives the same layer as a root one); other owners are kept, numeric.
 * Hard links are stored as separate files; sockets, FIFOs and devices are refused (a runtime provides /dev).
 */
async function* treeEntries(root: string, rel = ''): AsyncGenerator<TarEntry> {
  const names = (await fs.readdir(path.join(root, rel))).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const self = process.getuid?.() ?? 0;
  const selfGroup = process.getgid?.() ?? 0;
  for (const name of names) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await fs.lstat(path.join(root, p));
    const owner = { uid: st.uid === self ? 0 : st.uid, gid: st.gid === selfGroup ? 0 : st.gid, mode: st.mode & 0o7777 };
    if (st.isDirectory()) {
      yield { path: p, type: 'directory', ...owner };
      yield* treeEntries(root, p);
    } else if (st.isSymbolicLink()) {
      yield { path: p, type: 'symlink', ...owner, linkname: await fs.readlink(path.join(root, p)) };
    } else if (st.isFile()) {
      yield { path: p, type: 'file', ...owner, size: st.size, content: { file: path.join(root, p) } };
    } else {
      throw new Error(`${path.join(root, p)} is not a file, directory or symlink`);
    }
  }
}

/** A pass-through stream that hashes what flows through it and counts the bytes. */
class Digester extends Transform {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// OCI archives
// ---------------------------------------------------------------------------------------------------------------

/** What goes into an image's config besides its root filesystem. */
export interface ImageConfig {
  /** The image's name (normalised into the archive's annotations); it must carry a tag. */
  name: string;
  entrypoint?: string[];
  cmd?: string[];
  /** Numeric `uid[:gid]` preferred: the kubelet checks runAsNonRoot against a numeric user only. */
  user?: string;
  /** `KEY=value` entries; default: a PATH covering /usr/local/bin, /usr/bin and /bin. */
  env?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

/** The digests of a written archive. */
export interface BuiltArchive {
  /** The manifest's digest: the image's identity (`ctr images ls` shows it). */
  manifestDigest: string;
  configDigest: string;
  /** The compressed layer's digest, and the uncompressed one (the config's rootfs.diff_ids). */
  layerDigest: string;
  diffId: string;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const blobPath = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;

/** Writes the rootfs as one gzip layer to `file`; resolves to its compressed and uncompressed digests and size. */
async function writeLayer(rootfsDir: string, file: string): Promise<{ digest: string; diffId: string; size: number }> {
  const uncompressed = new Digester();
  const compressed = new Digester();
  await pipeline(Readable.from(tarStream(treeEntries(rootfsDir))), uncompressed, createGzip({ level: 6 }), compressed, createWriteStream(file));
  return { digest: compressed.digest(), diffId: uncompressed.digest(), size: compressed.size };
}

function imageConfig(config: ImageConfig, diffId: string): Buffer {
  return json({
    created: new Date(FIXED_MTIME * 1000).toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: {
      ...(config.user !== undefined && { User: config.user }),
      Env: config.env ?? [DEFAULT_PATH],
      ...(config.entrypoint && { Entrypoint: config.entrypoint }),
      ...(config.cmd && { Cmd: config.cmd }),
      ...(config.workingDir && { WorkingDir: config.workingDir }),
      ...(config.labels && { Labels: config.labels }),
    },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: new Date(FIXED_MTIME * 1000).toISOString(), created_by: 'mustgather controlplane/images.ts' }],
  });
}

const descriptor = (mediaType: string, digest: string, size: number) => ({ mediaType, digest, size });
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * Turns a root filesystem directory into an OCI image-layout tar at `outTar`: `oci-layout`, `index.json` (one
 * manifest, annotated with the tag as `org.opencontainers.image.ref.name` and the full name as containerd's
 * `io.containerd.image.name`, which `ctr images import` uses), and under `blobs/sha256/` one gzip layer, the config
 * (linux/amd64) and the manifest. Modes, symlinks and numeric owners are kept; mtimes are fixed, so the same tree
 * gives the same bytes. The archive appears at `outTar` only once complete.
 */
export async function buildImageArchive(rootfsDir: string, config: ImageConfig, outTar: string): Promise<BuiltArchive> {
  const name = normalizeImageName(config.name);
  const tag = parseImageName(config.name).tag;
  if (tag === undefined) throw new Error(`image ${config.name}: an archive needs a tagged name`);
  const tmpLayer = `${outTar}.layer-${process.pid}`;
  const tmpTar = `${outTar}.tmp-${process.pid}`;
  try {
    const layer = await writeLayer(rootfsDir, tmpLayer);
    const configBlob = imageConfig(config, layer.diffId);
    const manifest = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: descriptor('application/vnd.oci.image.config.v1+json', sha256(configBlob), configBlob.length),
      layers: [descriptor('application/vnd.oci.image.layer.v1.tar+gzip', layer.digest, layer.size)],
    });
    const manifestDigest = sha256(manifest);
    const index = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          ...descriptor('application/vnd.oci.image.manifest.v1+json', manifestDigest, manifest.length),
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    });
    const file = (p: string, content: Buffer): TarEntry => ({ path: p, type: 'file', mode: 0o644, uid: 0, gid: 0, size: content.length, content });
    const dir = (p: string): TarEntry => ({ path: p, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    const blobs = [
      { digest: layer.digest, entry: { ...file(blobPath(layer.digest), Buffer.alloc(0)), size: layer.size, content: { file: tmpLayer } } },
      { digest: sha256(configBlob), entry: file(blobPath(sha256(configBlob)), configBlob) },
      { digest: manifestDigest, entry: file(blobPath(manifestDigest), manifest) },
    ].sort((a, b) => (a.digest < b.digest ? -1 : 1)); // byte order, whatever the locale
    const entries: TarEntry[] = [
      file('oci-layout', json({ imageLayoutVersion: '1.0.0' })),
      file('index.json', index),
      dir('blobs'),
      dir('blobs/sha256'),
      ...blobs.map((b) => b.entry),
    ];
    await pipeline(Readable.from(tarStream(entries)), createWriteStream(tmpTar));
    await fs.rename(tmpTar, outTar);
    return { manifestDigest, configDigest: sha256(configBlob), layerDigest: layer.digest, diffId: layer.diffId };
  } catch (cause) {
    throw new Error(`image ${config.name} from ${rootfsDir}: cannot write ${outTar}: ${(cause as Error).message}`, { cause });
  } finally {
    await fs.rm(tmpLayer, { force: true });
    await fs.rm(tmpTar, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loading into containerd
// ---------------------------------------------------------------------------------------------------------------

/** How to reach containerd. */
export interface ContainerdTarget {
  /** The ctr binary (from the node build). */
  ctr: string;
  /** containerd's gRPC socket. */
  address: string;
  /** The CRI's namespace, where the kubelet looks for images. */
  namespace?: 'k8s.io';
}

/** What an archive says about itself: its format and the image name `ctr images import` will create from it. */
interface ArchiveFacts {
  format: 'oci' | 'docker';
  /** The full name import creates, or, for an OCI archive that names only a tag, that tag. */
  importedName?: string;
  tagOnly?: string;
}

/** Reads the small JSON files at the top of an archive (index.json, manifest.json) without unpacking it. */
async function readArchiveFacts(file: string): Promise<ArchiveFacts> {
  const wanted = new Map<string, string>();
  await listTar({
    file,
    onReadEntry: (entry) => {
      const p = entry.path.replace(/^\.\//, '');
      if (!['index.json', 'manifest.json', 'oci-layout'].includes(p)) return entry.resume();
      let text = '';
      entry.on('data', (d: Buffer) => (text += d.toString('utf8')));
      entry.on('end', () => wanted.set(p, text));
    },
  });
  if (wanted.has('index.json') && wanted.has('oci-layout')) {
    const index = JSON.parse(wanted.get('index.json')!) as { manifests?: { annotations?: Record<string, string> }[] };
    const annotations = index.manifests?.[0]?.annotations ?? {};
    const ref = annotations['org.opencontainers.image.ref.name'];
    const full = annotations['io.containerd.image.name'] ?? (ref?.includes('/') ? ref : undefined);
    // containerd stores an OCI archive's name as written (docker archives' RepoTags are normalised, as below).
    return { format: 'oci', ...(full ? { importedName: full } : ref ? { tagOnly: ref } : {}) };
  }
  if (wanted.has('manifest.json')) {
    const manifest = JSON.parse(wanted.get('manifest.json')!) as { RepoTags?: string[] | null }[];
    const tag = manifest[0]?.RepoTags?.[0];
    return { format: 'docker', ...(tag ? { importedName: normalizeImageName(tag) } : {}) };
  }
  throw new Error('neither an OCI image layout (oci-layout, index.json) nor a docker archive (manifest.json)');
}

/** ctr's stderr without the cgroup v1 deprecation warnings it prints on every call on this kind of host. */
const withoutWarnings = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.trim() && !l.includes('DEPRECATION'))
    .join('\n');

async function ctr(target: ContainerdTarget, args: string[]): Promise<string> {
  const { stdout } = await run(target.ctr, ['--address', target.address, '--namespace', target.namespace ?? 'k8s.io', ...args], {
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/**
 * Makes `source` available in containerd as image `name` (normalised; it must carry a tag other than `latest`, see
 * {@link loadableImageName}), unpacked into the `overlayfs` snapshotter that the kubelet's CRI runs containers from
 * (an image that is only in the content store makes the kubelet fail to create containers). `source` is a
 * docker-archive tar (`docker save`, `skopeo copy ... docker-archive:`), an OCI image-layout tar, or a root filesystem
 * directory (archived with {@link buildImageArchive} first). The import creates the names the archive declares; the
 * image is then tagged as `name`. Resolves to the normalised name.
 */
export async function loadImage(target: ContainerdTarget, name: string, source: string): Promise<string> {
  let fullName: string;
  try {
    fullName = loadableImageName(name);
  } catch (cause) {
    throw new Error(`${(cause as Error).message} (loading ${source})`, { cause });
  }
  let tmpDir: string | undefined;
  try {
    let archive = source;
    if ((await fs.stat(source)).isDirectory()) {
      tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mustgather-image-'));
      archive = path.join(tmpDir, 'image.tar');
      await buildImageArchive(source, { name: fullName }, archive);
    }
    const facts = await readArchiveFacts(archive);
    // An OCI archive that names only a tag gets a repository from --base-name (containerd would otherwise invent
    // "import-<date>"); a docker archive without RepoTags has nothing to tag from.
    const base = parseImageName(fullName);
    const imported = facts.importedName ?? (facts.tagOnly ? `${base.domain}/${base.path}:${facts.tagOnly}` : undefined);
    if (!imported) throw new Error(`the ${facts.format} archive names no image (no RepoTags / ref.name)`);
    const baseName = facts.importedName ? [] : ['--base-name', `${base.domain}/${base.path}`];
    await ctr(target, ['images', 'import', '--snapshotter', 'overlayfs', ...baseName, archive]);
    if (imported !== fullName) await ctr(target, ['images', 'tag', '--force', imported, fullName]);
    return fullName;
  } catch (cause) {
    const detail = withoutWarnings((cause as { stderr?: string }).stderr ?? '') || (cause as Error).message;
    throw new Error(`image ${fullName} from ${source}: cannot load it into containerd at ${target.address}: ${detail}`, { cause });
  } finally {
    if (tmpDir) await fs.rm(tmpDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Root filesystems from the host
// ---------------------------------------------------------------------------------------------------------------

/**
 * One thing a root filesystem holds. The list is planned first and hashed (the cache key), and only materialised
 * when the cache misses. `tree` items are produced by a step (go build, npm install) whose inputs `key` stands for.
 */
export type RootfsItem =
  | { kind: 'host'; path: string; from: string }
  | { kind: 'file'; path: string; content: string; mode: number }
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'tree'; key: string; fill: (rootfs: string) => Promise<void> };

/**
 * Where a host path lives in an image. The images use Debian's merged /usr (bin, sbin, lib and lib64 are symlinks
 * into /usr), so /lib/x86_64-linux-gnu/libc.so.6, as ldd names it, is stored once under /usr/lib.
 */
function inImage(hostPath: string): string {
  return /^\/(bin|sbin|lib|lib64)\//.test(hostPath) ? `/usr${hostPath}` : hostPath;
}

/** The shared libraries ldd names for a binary, the dynamic loader included; none for static binaries and scripts. */
async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary]));
  } catch (cause) {
    const out = `${(cause as { stdout?: string }).stdout ?? ''}${(cause as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(out)) return [];
    throw new Error(`ldd ${binary}: ${out.trim() || (cause as Error).message}`, { cause });
  }
  if (/statically linked/.test(stdout)) return [];
  return [...stdout.matchAll(/(?:=>\s*|^\s*)(\/\S+)\s+\(0x/gm)].map((m) => m[1]!);
}

/** Resolves a command name the way a shell on the host would (absolute paths are taken as they are). */
async function hostCommand(name: string): Promise<string> {
  if (name.startsWith('/')) return name;
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const candidate = path.join(dir, name);
    if (await fs.access(candidate, fs.constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error(`command ${name} is not installed on this machine`);
}

const hostBinariesSeen = new Map<string, Promise<RootfsItem[]>>();

/**
 * Host commands, each at its own path in the image (/bin/x under /usr/bin), with every shared library they need.
 * Remembered per process: the gather images ask for the same tools, and ldd costs a process per binary.
 */
export function hostBinaries(commands: string[]): Promise<RootfsItem[]> {
  const key = commands.join('\0');
  const known = hostBinariesSeen.get(key) ?? resolveHostBinaries(commands);
  hostBinariesSeen.set(key, known);
  known.catch(() => hostBinariesSeen.delete(key));
  return known;
}

async function resolveHostBinaries(commands: string[]): Promise<RootfsItem[]> {
  const binaries = await Promise.all(commands.map(hostCommand));
  const libraries = new Set((await Promise.all(binaries.map(sharedLibraries))).flat());
  const items = new Map<string, RootfsItem>();
  for (const from of [...binaries, ...libraries]) items.set(inImage(from), { kind: 'host', path: inImage(from), from });
  return [...items.values()];
}

/**
 * The skeleton every image shares: merged /usr, a world-writable sticky /tmp, and /etc/passwd and /etc/group with
 * root and user 1001 (group 0, OpenShift's convention for arbitrary uids), so tools that look their user up work.
 */
export function baseItems(): RootfsItem[] {
  const dirs = ['/etc', '/usr', '/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib64', '/usr/local', '/usr/local/bin', '/var'];
  return [
    ...dirs.map((p): RootfsItem => ({ kind: 'dir', path: p, mode: 0o755 })),
    { kind: 'dir', path: '/tmp', mode: 0o1777 },
    { kind: 'dir', path: '/root', mode: 0o700 },
    ...['bin', 'sbin', 'lib', 'lib64'].map((d): RootfsItem => ({ kind: 'symlink', path: `/${d}`, target: `usr/${d}` })),
    { kind: 'file', path: '/etc/passwd', mode: 0o644, content: 'root:x:0:0:root:/root:/bin/bash\nmustgather:x:1001:0:mustgather:/tmp:/sbin/nologin\n' },
    { kind: 'file', path: '/etc/group', mode: 0o644, content: 'root:x:0:\nmustgather:x:1001:\n' },
  ];
}

const digestsSeen = new Map<string, Promise<string>>();

/** The sha256 of a file's content, remembered while its inode, size and mtime stay the same. */
async function fileDigest(file: string): Promise<string> {
  const st = await fs.stat(file);
  const key = `${file}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
  const known = digestsSeen.get(key) ?? hashFile(file);
  digestsSeen.set(key, known);
  known.catch(() => digestsSeen.delete(key));
  return known;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The cache key of an image: its config, every item (host files by content) and this module's own source. */
async function imageKey(config: ImageConfig, items: RootfsItem[]): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await fs.readFile(fileURLToPath(import.meta.url)));
  hash.update(JSON.stringify(config));
  for (const item of items) {
    const { fill: _fill, ...described } = item as RootfsItem & { fill?: unknown };
    hash.update(JSON.stringify(described));
    if (item.kind === 'host') hash.update(await fileDigest(item.from));
  }
  return hash.digest('hex').slice(0, 20);
}

async function materialise(rootfs: string, items: RootfsItem[]): Promise<void> {
  for (const item of items) {
    if (item.kind === 'tree') {
      await item.fill(rootfs);
      continue;
    }
    const target = path.join(rootfs, item.path);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (item.kind === 'dir') {
      await fs.mkdir(target, { recursive: true });
      await fs.chmod(target, item.mode); // mkdir's mode is filtered by the umask, and cannot set the sticky bit
    } else if (item.kind === 'symlink') {
      await fs.symlink(item.target, target);
    } else if (item.kind === 'file') {
      await fs.writeFile(target, item.content);
      await fs.chmod(target, item.mode);
    } else {
      await fs.copyFile(item.from, target); // follows symlinks: the image holds the library itself
      await fs.chmod(target, (await fs.stat(item.from)).mode & 0o7777);
    }
  }
}

/** The images cache: `<cacheRoot>/images` ($MUSTGATHER_CACHE or ~/.cache/mustgather). */
export function imagesCacheDir(): string {
  return path.join(cacheRoot(), 'images');
}

const building = new Map<string, Promise<ImageArchive>>();

/** Runs `work`; an error gets `subject` (`image NAME from SOURCE`) in front unless it already names an image. */
async function describing<T>(subject: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (cause) {
    if ((cause as Error).message.startsWith('image ')) throw cause;
    throw new Error(`${subject}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * The image built from `items` with `config`, from the cache when an archive with the same key is there. A new
 * archive replaces the older ones of the same image. The root filesystem is built in a temporary directory that is
 * removed afterwards.
 */
export async function cachedImage(config: ImageConfig, items: RootfsItem[]): Promise<ImageArchive> {
  const name = loadableImageName(config.name);
  const slug = name.replace(/[^a-zA-Z0-9.-]+/g, '_');
  const archive = path.join(imagesCacheDir(), `${slug}-${await imageKey(config, items)}.tar`);
  if (await fs.access(archive).then(() => true, () => false)) return { name, archive };
  const pending = building.get(archive) ?? buildCached(config, items, archive, slug);
  building.set(archive, pending);
  try {
    return await pending;
  } finally {
    building.delete(archive);
  }
}

async function buildCached(config: ImageConfig, items: RootfsItem[], archive: string, slug: string): Promise<ImageArchive> {
  const name = normalizeImageName(config.name);
  await fs.mkdir(path.dirname(archive), { recursive: true });
  const rootfs = await fs.mkdtemp(path.join(os.tmpdir(), 'mustgather-rootfs-'));
  try {
    await describing(`image ${name} from ${rootfs}`, async () => {
      await materialise(rootfs, items);
      await buildImageArchive(rootfs, config, archive);
    });
  } finally {
    await fs.rm(rootfs, { recursive: true, force: true });
  }
  const sameImage = new RegExp(`^${slug.replace(/\./g, '\\.')}-[0-9a-f]{20}\\.tar$`);
  for (const old of await fs.readdir(path.dirname(archive))) {
    if (sameImage.test(old) && old !== path.basename(archive)) {
      await fs.rm(path.join(path.dirname(archive), old), { force: true });
    }
  }
  return { name, archive };
}

// ---------------------------------------------------------------------------------------------------------------
// The project's images
// ---------------------------------------------------------------------------------------------------------------

const hackImages = () => path.join(repoRoot(), 'hack', 'images');

/** A content hash of files (relative to `dir`), in a stable order. */
async function filesKey(dir: string, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of [...files].sort()) hash.update(`${f}\0${await fileDigest(path.join(dir, f))}\0`);
  return hash.digest('hex');
}

/**
 * The pod sandbox image: `/pause`, a static Go binary built offline from hack/images/pause (reaps zombies, exits 0
 * on SIGINT/SIGTERM), running as 65535 like upstream's pause. The node's containerd uses it as its sandbox image.
 */
export function pauseImage(): Promise<ImageArchive> {
  const source = path.join(hackImages(), 'pause');
  return describing(`image ${PAUSE_IMAGE} from ${source}`, () => buildPause(source));
}

async function buildPause(source: string): Promise<ImageArchive> {
  const go = process.env.GO ?? ((await fs.access('/usr/local/go/bin/go').then(() => true, () => false)) ? '/usr/local/go/bin/go' : 'go');
  const { stdout: goVersion } = await run(go, ['version']);
  const build: RootfsItem = {
    kind: 'tree',
    key: `pause ${goVersion.trim()} ${await filesKey(source, ['go.mod', 'main.go'])}`,
    fill: async (rootfs) => {
      const env = { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', GOOS: 'linux', GOARCH: 'amd64' };
      await run(go, ['build', '-trimpath', '-ldflags', '-s -w -buildid=', '-o', path.join(rootfs, 'pause'), '.'], { cwd: source, env });
    },
  };
  return cachedImage({ name: PAUSE_IMAGE, entrypoint: ['/pause'], user: '65535:65535' }, [build]);
}

/**
 * Every tool the gather wrapper (constructs/gather-script.ts) and the gathers of hack/images use, from GNU coreutils
 * (busybox's timeout lacks --kill-after), plus a few any must-gather script expects to find.
 */
export const GATHER_TOOLS = [
  'bash', 'basename', 'cat', 'chmod', 'cp', 'cut', 'date', 'dd', 'df', 'dirname', 'du', 'env', 'false', 'head', 'id',
  'ln', 'ls', 'mkdir', 'mkfifo', 'mktemp', 'mv', 'rm', 'seq', 'sleep', 'sort', 'stat', 'sync', 'tail', 'tee',
  'timeout', 'touch', 'tr', 'true', 'uname', 'wc',
];

/**
 * A must-gather image: bash and the {@link GATHER_TOOLS} from the host, `/bin/sh` -> bash, the gather script as
 * /usr/bin/gather and `extra` items; runs /usr/bin/gather by default, like openshift/must-gather.
 */
function gatherImage(name: string, gatherScript: string, extra: RootfsItem[]): Promise<ImageArchive> {
  return describing(`image ${name} from ${gatherScript}`, async () => {
    const items: RootfsItem[] = [
      ...baseItems(),
      ...(await hostBinaries(GATHER_TOOLS)),
      { kind: 'symlink', path: '/usr/bin/sh', target: 'bash' },
      { kind: 'dir', path: '/must-gather', mode: 0o777 },
      { kind: 'file', path: '/usr/bin/gather', mode: 0o755, content: await fs.readFile(gatherScript, 'utf8') },
      ...extra,
    ];
    return cachedImage({ name, cmd: ['/usr/bin/gather'] }, items);
  });
}

/**
 * The demo must-gather image (`localhost/mustgather/demo-must-gather:v1`): hack/images/demo-gather/gather collects
 * cluster-scoped resources, each namespace's resources and events, and pod logs with kubectl, in-cluster (service
 * account token), and writes `version`. kubectl is the control plane build's (static), or `opts.kubectl`.
 */
export async function demoGatherImage(opts: { kubectl?: string } = {}): Promise<ImageArchive> {
  const bins = opts.kubectl ? undefined : await ensureBinaries();
  const kubectl = opts.kubectl ?? bins?.kubectl;
  if (!kubectl) throw new Error(`image ${DEMO_GATHER_IMAGE}: the control-plane binaries in ${bins?.dir} include no kubectl (pass opts.kubectl)`);
  const ref = parseImageName(DEMO_GATHER_IMAGE);
  return gatherImage(DEMO_GATHER_IMAGE, path.join(hackImages(), 'demo-gather', 'gather'), [
    { kind: 'host', path: '/usr/bin/kubectl', from: kubectl },
    { kind: 'file', path: '/etc/mustgather/version', mode: 0o644, content: `${ref.domain}/${ref.path}\n${ref.tag}\n` },
  ]);
}

/**
 * The test gather images, one per mode of hack/images/test-gather/gather (which first writes a little data): `ok`
 * exits 0, `fail` exits 3, `sleep` never ends (timeouts), `fill` fills the volume and then waits (volume limit).
 */
export async function testGatherImages(): Promise<Record<TestGatherMode, ImageArchive>> {
  const script = path.join(hackImages(), 'test-gather', 'gather');
  const modes = Object.keys(TEST_GATHER_IMAGES) as TestGatherMode[];
  const built = await Promise.all(
    modes.map((mode) =>
      gatherImage(TEST_GATHER_IMAGES[mode], script, [{ kind: 'file', path: '/etc/mustgather/gather-mode', mode: 0o644, content: `${mode}\n` }]),
    ),
  );
  return Object.fromEntries(modes.map((mode, i) => [mode, built[i]!])) as Record<TestGatherMode, ImageArchive>;
}

/** The files `npm pack` builds the package from: tsconfig.build.json's sources (no tests) and the package files. */
async function projectInputs(root: string): Promise<string[]> {
  const build = JSON.parse(await fs.readFile(path.join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  const files = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md'];
  for (const dir of build.include) {
    for (const f of await fs.readdir(path.join(root, dir), { recursive: true })) {
      const rel = path.join(dir, f);
      if (/\.(ts|json)$/.test(rel) && !rel.endsWith('.test.ts') && (await fs.stat(path.join(root, rel))).isFile()) files.push(rel);
    }
  }
  return files;
}

/**
 * Packs the project like the Containerfile's build stage (`npm pack`, whose prepack runs `npm run build`) in a
 * temporary copy of its sources, and installs the package with production dependencies only into the image's
 * /usr/local (as `npm install --global` does there): /usr/local/bin/mustgather is the entry on PATH.
 */
async function packAndInstall(root: string, files: string[], rootfs: string): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mustgather-pack-'));
  const npm = (args: string[], cwd: string) => run('npm', args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } });
  try {
    const src = path.join(tmp, 'src');
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(src, f)), { recursive: true });
      await fs.copyFile(path.join(root, f), path.join(src, f));
    }
    // The build needs the dev dependencies (tsc): the checkout's when installed, else a clean install of the lock.
    if (await fs.access(path.join(root, 'node_modules', '.bin', 'tsc')).then(() => true, () => false)) {
      await fs.symlink(path.join(root, 'node_modules'), path.join(src, 'node_modules'));
    } else {
      await npm(['ci', '--ignore-scripts', '--no-audit', '--no-fund'], src);
    }
    await npm(['pack', '--pack-destination', tmp], src);
    const tarball = (await fs.readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no .tgz into ${tmp}`);
    const prefix = path.join(rootfs, 'usr', 'local');
    await npm(['install', '--global', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', path.join(tmp, tarball)], tmp);
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join('\n');
    throw new Error(`packing the project from ${root}: ${stderr || (cause as Error).message}`, { cause });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The project's own image, with what /work/main/Containerfile puts in it: node (the host's /usr/bin/node, with
 * exactly the shared libraries ldd names, and /usr/bin/env for the entry's `#!/usr/bin/env node`), the packed
 * project installed with production dependencies only, /etc/passwd and /etc/group with user 1001, a writable /tmp;
 * runs as user 1001 (numeric, for runAsNonRoot), `mustgather --help` by default. `name` is the image's name (e.g. the
 * operator's default image), with a fixed tag.
 */
export function projectImage(name: string): Promise<ImageArchive> {
  const root = repoRoot();
  return describing(`image ${name} from ${root}`, async () => {
    const files = await projectInputs(root);
    const items: RootfsItem[] = [
      ...baseItems(),
      ...(await hostBinaries(['/usr/bin/node', 'env'])),
      { kind: 'tree', key: `project ${await filesKey(root, files)}`, fill: (rootfs) => packAndInstall(root, files, rootfs) },
    ];
    return cachedImage({ name, entrypoint: ['mustgather'], cmd: ['--help'], user: '1001' }, items);
  });
}
