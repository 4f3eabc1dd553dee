/**
 * Tests of controlplane/images.ts: image names, the OCI archive writer (parsed back: digests, config, layer entries,
 * determinism), the project's images (cached), and a real import into a throwaway containerd whose containers run
 * the images (root only, with the node build's containerd and Debian's runc).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { create as createTar, extract as extractTar, list as listTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATHER_SCRIPT } from '../constructs/gather-script.js';
import { DEFAULT_IMAGES } from '../constructs/operator-config.js';
import { parseGatherResult } from '../constructs/pod-contract.js';
import { cacheRoot, repoRoot } from './binaries.js';
import {
  GATHER_TOOLS,
  PAUSE_IMAGE,
  TEST_GATHER_IMAGES,
  buildImageArchive,
  demoGatherImage,
  loadImage,
  loadableImageName,
  normalizeImageName,
  pauseImage,
  projectImage,
  testGatherImages,
  type ContainerdTarget,
} from './images.js';

const run = promisify(execFile);
const BUILD_TIMEOUT = 15 * 60_000; // a cold project image packs and installs the project from the npm registry
// The operator's default image: the name the node suites load, so the cache holds one project image, not two.
const PROJECT_IMAGE = normalizeImageName(DEFAULT_IMAGES.operator);

/** Every file of a tar archive (a small one), by path. */
async function tarFiles(file: string): Promise<Map<string, { buf: Buffer; mode: number; uid: number; gid: number; mtime: number; type: string; linkpath: string }>> {
  const files = new Map();
  await listTar({
    file,
    onReadEntry: (e) => {
      const chunks: Buffer[] = [];
      e.on('data', (d: Buffer) => chunks.push(d));
      e.on('end', () =>
        files.set(e.path, { buf: Buffer.concat(chunks), mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime?.getTime(), type: e.type, linkpath: e.linkpath }),
      );
    },
  });
  return files;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Parses an OCI archive back and checks every digest and size; returns index, manifest, config and layer tar. */
async function readOciArchive(file: string) {
  const files = await tarFiles(file);
  expect(JSON.parse(files.get('oci-layout')!.buf.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
  for (const [p, f] of files) if (p.startsWith('blobs/sha256/') && f.type === 'File') expect(sha256(f.buf)).toBe(`sha256:${path.basename(p)}`);
  const blob = (d: { digest: string; size: number }) => {
    const f = files.get(`blobs/sha256/${d.digest.slice(7)}`)!;
    expect(f.buf.length).toBe(d.size);
    return f.buf;
  };
  const index = JSON.parse(files.get('index.json')!.buf.toString());
  const manifest = JSON.parse(blob(index.manifests[0]).toString());
  const config = JSON.parse(blob(manifest.config).toString());
  const layer = gunzipSync(blob(manifest.layers[0]));
  expect(config.rootfs.diff_ids).toEqual([sha256(layer)]);
  return { index, manifest, config, layer };
}

/** The entries of an uncompressed layer tar. */
async function layerEntries(layer: Buffer, dir: string) {
  const file = path.join(dir, `layer-${Math.random()}.tar`);
  await fs.writeFile(file, layer);
  return tarFiles(file);
}

describe('normalizeImageName', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['foo/bar:1', 'docker.io/foo/bar:1'],
    ['docker.io/busybox:v1', 'docker.io/library/busybox:v1'],
    ['index.docker.io/foo/bar', 'docker.io/foo/bar:latest'],
    ['localhost/x', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost:5000/a/b:v2', 'localhost:5000/a/b:v2'],
    ['quay.io/openshift/origin-must-gather', 'quay.io/openshift/origin-must-gather:latest'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`],
    [`quay.io/x/y:v1@sha256:${'b'.repeat(64)}`, `quay.io/x/y:v1@sha256:${'b'.repeat(64)}`],
    ['Registry.Example/x:v1', 'Registry.Example/x:v1'],
  ])('%s -> %s', (name, expected) => {
    expect(normalizeImageName(name)).toBe(expected);
  });

  it.each(['', 'Busybox', 'quay.io/Upper/x', 'foo/Bar:v1', 'foo:bad tag', 'foo@sha256:short', 'foo//bar', '-foo'])('rejects %j', (name) => {
    expect(() => normalizeImageName(name)).toThrow(/invalid image name/);
  });

  it('refuses loading an untagged, latest or digest name, naming the image', () => {
    expect(() => loadableImageName('busybox')).toThrow(/image busybox: a loaded image needs an explicit tag other than "latest"/);
    expect(() => loadableImageName('quay.io/x/y:latest')).toThrow(/image quay.io\/x\/y:latest: .*explicit tag/);
    expect(() => loadableImageName(`x@sha256:${'c'.repeat(64)}`)).toThrow(/named by a tag, not a digest/);
    expect(loadableImageName('x:v1')).toBe('docker.io/library/x:v1');
  });

  it('loadImage refuses an untagged name before touching containerd, naming image and source', async () => {
    await expect(loadImage({ ctr: '/nonexistent/ctr', address: '/nonexistent.sock' }, 'busybox', '/some/rootfs')).rejects.toThrow(
      /^image busybox: .* \(loading \/some\/rootfs\)$/,
    );
  });
});

describe('buildImageArchive', () => {
  let dir: string;
  let rootfs: string;
  const longPath = `usr/share/${'deep/'.repeat(25)}file-with-a-long-name.txt`;
  const longTarget = `../${'x'.repeat(120)}`;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'images-test-'));
    rootfs = path.join(dir, 'rootfs');
    await fs.mkdir(path.join(rootfs, 'usr/bin'), { recursive: true });
    await fs.writeFile(path.join(rootfs, 'usr/bin/hello'), '#!/bin/sh\necho hello\n');
    await fs.chmod(path.join(rootfs, 'usr/bin/hello'), 0o755);
    await fs.writeFile(path.join(rootfs, 'usr/bin/setuid'), 'x');
    await fs.chmod(path.join(rootfs, 'usr/bin/setuid'), 0o4750);
    await fs.symlink('usr/bin', path.join(rootfs, 'bin'));
    await fs.symlink(longTarget, path.join(rootfs, 'long-link'));
    await fs.mkdir(path.join(rootfs, 'tmp'));
    await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
    await fs.mkdir(path.dirname(path.join(rootfs, longPath)), { recursive: true });
    await fs.writeFile(path.join(rootfs, longPath), 'deep\n');
    await fs.writeFile(path.join(rootfs, 'empty'), '');
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('writes a valid OCI layout whose digests, config and layer match the input', async () => {
    const out = path.join(dir, 'a.tar');
    const config = { name: 'localhost/test/hello:v1', entrypoint: ['/bin/hello'], cmd: ['--x'], user: '1001', env: ['PATH=/bin', 'A=b'], workingDir: '/tmp' };
    const built = await buildImageArchive(rootfs, config, out);
    const { index, manifest, config: imageConfig, layer } = await readOciArchive(out);

    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: built.manifestDigest,
      annotations: { 'io.containerd.image.name': 'localhost/test/hello:v1', 'org.opencontainers.image.ref.name': 'v1' },
    });
    expect(manifest.config.digest).toBe(built.configDigest);
    expect(manifest.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: built.layerDigest, size: expect.any(Number) }]);
    expect(imageConfig).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/bin/hello'], Cmd: ['--x'], User: '1001', Env: ['PATH=/bin', 'A=b'], WorkingDir: '/tmp' },
      rootfs: { type: 'layers', diff_ids: [built.diffId] },
    });

    const entries = await layerEntries(layer, dir);
    expect([...entries.keys()]).toEqual(['bin', 'empty', 'long-link', 'tmp/', 'usr/', 'usr/bin/', 'usr/bin/hello', 'usr/bin/setuid', ...[...entries.keys()].slice(8)]);
    expect(entries.get('usr/bin/hello')).toMatchObject({ mode: 0o755, uid: 0, gid: 0, mtime: 0, buf: Buffer.from('#!/bin/sh\necho hello\n') });
    expect(entries.get('usr/bin/setuid')!.mode).toBe(0o4750);
    expect(entries.get('tmp/')).toMatchObject({ type: 'Directory', mode: 0o1777 });
    expect(entries.get('bin')).toMatchObject({ type: 'SymbolicLink', linkpath: 'usr/bin' });
    expect(entries.get('long-link')).toMatchObject({ type: 'SymbolicLink', linkpath: longTarget });
    expect(entries.get(longPath)!.buf.toString()).toBe('deep\n');
    expect(entries.get('empty')!.buf.length).toBe(0);
  });

  it('is deterministic: the same tree gives the same bytes', async () => {
    const config = { name: 'localhost/test/hello:v1' };
    const a = await buildImageArchive(rootfs, config, path.join(dir, 'b1.tar'));
    const b = await buildImageArchive(rootfs, config, path.join(dir, 'b2.tar'));
    expect(b).toEqual(a);
    const [x, y] = await Promise.all([fs.readFile(path.join(dir, 'b1.tar')), fs.readFile(path.join(dir, 'b2.tar'))]);
    expect(sha256(x)).toBe(sha256(y));
  });

  it('names the image and the directory when the rootfs is missing', async () => {
    await expect(buildImageArchive(path.join(dir, 'nope'), { name: 'localhost/x:v1' }, path.join(dir, 'c.tar'))).rejects.toThrow(
      /^image localhost\/x:v1 from .*nope: cannot write .*c\.tar: ENOENT/,
    );
    expect(existsSync(path.join(dir, 'c.tar'))).toBe(false);
  });
});

/** kubectl from KUBEBUILDER_ASSETS or the control-plane build, found without building anything. */
function builtKubectl(): string | undefined {
  const builds = path.join(cacheRoot(), 'controlplane');
  const dirs = existsSync(builds) ? readdirSync(builds).map((d) => path.join(builds, d)) : [];
  if (process.env.KUBEBUILDER_ASSETS) dirs.unshift(process.env.KUBEBUILDER_ASSETS);
  return dirs.map((d) => path.join(d, 'kubectl')).find((p) => existsSync(p));
}
const kubectl = builtKubectl();

describe('the project images', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'images-test-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('pause: a static /pause run as 65535, cached by content', { timeout: BUILD_TIMEOUT }, async () => {
    const first = await pauseImage();
    expect(first.name).toBe(PAUSE_IMAGE);
    expect(path.dirname(first.archive)).toBe(path.join(cacheRoot(), 'images'));
    const { config, layer } = await readOciArchive(first.archive);
    expect(config.config).toMatchObject({ Entrypoint: ['/pause'], User: '65535:65535' });
    expect((await layerEntries(layer, dir)).get('pause')!.mode).toBe(0o755);
    const started = Date.now();
    expect(await pauseImage()).toEqual(first);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('test gathers: bash, the gather wrapper\'s tools and a /usr/bin/gather per mode', { timeout: BUILD_TIMEOUT }, async () => {
    const images = await testGatherImages();
    expect(Object.fromEntries(Object.entries(images).map(([k, v]) => [k, v.name]))).toEqual(TEST_GATHER_IMAGES);
    const { config, layer } = await readOciArchive(images.fill.archive);
    expect(config.config.Cmd).toEqual(['/usr/bin/gather']);
    const entries = await layerEntries(layer, dir);
    for (const tool of GATHER_TOOLS) expect(entries.has(`usr/bin/${tool}`), tool).toBe(true);
    expect(entries.get('usr/bin/sh')).toMatchObject({ type: 'SymbolicLink', linkpath: 'bash' });
    expect(entries.get('etc/mustgather/gather-mode')!.buf.toString()).toBe('fill\n');
    expect(entries.get('usr/lib64/ld-linux-x86-64.so.2')).toBeDefined();
    // Every tool the wrapper calls must be in the image (builtins aside).
    for (const tool of ['date', 'tee', 'tr', 'head', 'mkdir', 'mktemp', 'mkfifo', 'timeout', 'sleep', 'df', 'tail', 'rm']) {
      expect(GATHER_SCRIPT).toMatch(new RegExp(`\\b${tool}\\b`));
      expect(entries.has(`usr/bin/${tool}`), tool).toBe(true);
    }
  });

  it.runIf(kubectl)(`demo must-gather: kubectl, the gather and its version file${kubectl ? '' : ' (not run: kubectl is not built; npm run controlplane:build)'}`, { timeout: BUILD_TIMEOUT }, async () => {
    const image = await demoGatherImage({ kubectl: kubectl! });
    const { config, layer } = await readOciArchive(image.archive);
    expect(config.config.Cmd).toEqual(['/usr/bin/gather']);
    const entries = await layerEntries(layer, dir);
    expect(entries.get('usr/bin/kubectl')!.mode).toBe(0o755);
    expect(entries.get('usr/bin/gather')!.buf.toString()).toMatch(/MUST_GATHER_SINCE_TIME/);
    expect(entries.get('etc/mustgather/version')!.buf.toString()).toBe('localhost/mustgather/demo-must-gather\nv1\n');
    await run('bash', ['-n', '-c', entries.get('usr/bin/gather')!.buf.toString()]);
  });

  it('project: node with its libraries runs the packed mustgather, as user 1001', { timeout: BUILD_TIMEOUT }, async () => {
    const image = await projectImage(PROJECT_IMAGE);
    const { config, manifest } = await readOciArchive(image.archive);
    expect(config.config).toMatchObject({ Entrypoint: ['mustgather'], Cmd: ['--help'], User: '1001' });
    // Unpack the layer and run its node through its own dynamic loader and libraries: no chroot (or root) needed.
    const r = path.join(dir, 'project-rootfs');
    await fs.mkdir(r, { recursive: true });
    await run('tar', ['-xzf', await blobFile(image.archive, manifest.layers[0].digest, dir), '-C', r]); // GNU tar: 4x node-tar's speed here
    expect(await fs.readFile(path.join(r, 'etc/passwd'), 'utf8')).toMatch(/^mustgather:x:1001:0:/m);
    expect(await fs.readlink(path.join(r, 'usr/local/bin/mustgather'))).toBe('../lib/node_modules/mustgather-report-operator/dist/bin/mustgather.js');
    const installed = path.join(r, 'usr/local/lib/node_modules/mustgather-report-operator');
    expect(existsSync(path.join(installed, 'node_modules/yaml'))).toBe(true);
    expect(existsSync(path.join(installed, 'node_modules/typescript'))).toBe(false); // production dependencies only
    expect(existsSync(path.join(installed, 'dist/controlplane/images.test.js'))).toBe(false);
    const { stdout } = await run(
      path.join(r, 'usr/lib64/ld-linux-x86-64.so.2'),
      ['--library-path', path.join(r, 'usr/lib/x86_64-linux-gnu'), path.join(r, 'usr/bin/node'), path.join(r, 'usr/local/bin/mustgather'), '--help'],
      { env: {} },
    );
    expect(stdout).toMatch(/Usage: mustgather <command>/);
  });
});

/** Extracts one blob of an OCI archive into `dir`; resolves to its path. */
async function blobFile(archive: string, digest: string, dir: string): Promise<string> {
  const p = `blobs/sha256/${digest.slice(7)}`;
  await extractTar({ file: archive, cwd: dir }, [p]);
  return path.join(dir, p);
}

describe('the demo gather script', () => {
  it('collects cluster-scoped resources, namespaces and logs since MUST_GATHER_SINCE(_TIME) with kubectl', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'images-test-'));
    try {
      // A kubectl stand-in that records its arguments and answers like a cluster with one pod in "default".
      const stub = path.join(dir, 'kubectl');
      await fs.writeFile(
        stub,
        [
          '#!/bin/bash',
          'echo "$*" >> "$CALLS"',
          'case "$*" in',
          '  "get namespaces "*jsonpath*) printf "default\\nkube-system\\n" ;;',
          '  "get pods -n default "*jsonpath*) printf "web-1 init main \\n" ;;',
          '  "get pods -n "*jsonpath*) ;;',
          '  logs*--previous*) exit 1 ;;',
          '  logs*) echo "a log line" ;;',
          '  *) echo "kind: List" ;;',
          'esac',
        ].join('\n') + '\n',
      );
      await fs.chmod(stub, 0o755);
      await fs.writeFile(path.join(dir, 'version'), 'localhost/mustgather/demo-must-gather\nv1\n');
      const out = path.join(dir, 'out');
      const env = {
        PATH: process.env.PATH,
        KUBECTL: stub,
        CALLS: path.join(dir, 'calls'),
        MUST_GATHER_OUTPUT: out,
        MUST_GATHER_VERSION_FILE: path.join(dir, 'version'),
        MUST_GATHER_SINCE: '2h',
        MUST_GATHER_SINCE_TIME: '2024-01-01T00:00:00Z',
      };
      await run('bash', [path.join(repoRoot(), 'hack/images/demo-gather/gather')], { env });
      expect(await fs.readFile(path.join(out, 'version'), 'utf8')).toBe('localhost/mustgather/demo-must-gather\nv1\n');
      for (const f of [
        'cluster-scoped-resources/core/nodes.yaml',
        'cluster-scoped-resources/core/namespaces.yaml',
        'cluster-scoped-resources/rbac.authorization.k8s.io/clusterroles.yaml',
        'cluster-scoped-resources/apiextensions.k8s.io/customresourcedefinitions.yaml',
        'namespaces/default/default.yaml',
        'namespaces/default/core/pods.yaml',
        'namespaces/default/core/events.yaml',
        'namespaces/default/apps/deployments.yaml',
        'namespaces/kube-system/core/pods.yaml',
      ]) {
        expect(existsSync(path.join(out, f)), f).toBe(true);
      }
      expect(await fs.readFile(path.join(out, 'namespaces/default/pods/web-1/main/main/logs/current.log'), 'utf8')).toBe('a log line\n');
      expect(existsSync(path.join(out, 'namespaces/default/pods/web-1/init/init/logs/current.log'))).toBe(true);
      expect(existsSync(path.join(out, 'namespaces/default/pods/web-1/main/main/logs/previous.log'))).toBe(false);
      const calls = await fs.readFile(path.join(dir, 'calls'), 'utf8');
      expect(calls).toMatch(/^logs -n default web-1 -c main --since-time=2024-01-01T00:00:00Z$/m);
      expect(calls).toMatch(/^get customresourcedefinitions\.apiextensions\.k8s\.io -o yaml/m);
      expect(calls).not.toMatch(/secrets/);

      const { MUST_GATHER_SINCE_TIME: _, ...sinceOnly } = env;
      await fs.rm(path.join(dir, 'calls'));
      await run('bash', [path.join(repoRoot(), 'hack/images/demo-gather/gather')], { env: sinceOnly });
      expect(await fs.readFile(path.join(dir, 'calls'), 'utf8')).toMatch(/^logs -n default web-1 -c main --since=2h$/m);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

/** The node build's containerd directory (hack/node/build.sh: containerd, shim, ctr), newest first, if built. */
function containerdBinDir(): string | undefined {
  const base = path.join(cacheRoot(), 'node');
  if (!existsSync(base)) return undefined;
  const dirs = readdirSync(base).filter((d) => d.startsWith('containerd-v')).sort().reverse();
  return dirs.map((d) => path.join(base, d)).find((d) => ['containerd', 'containerd-shim-runc-v2', 'ctr'].every((b) => existsSync(path.join(d, b))));
}

const SEARCH_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
const binDir = containerdBinDir();
const whyNot =
  process.getuid?.() !== 0
    ? 'needs root (containerd, overlayfs mounts and runc)'
    : !binDir
      ? `containerd is not built in ${path.join(cacheRoot(), 'node')} (bash hack/node/build.sh builds it)`
      : !SEARCH_PATH.split(':').some((d) => existsSync(path.join(d, 'runc')))
        ? 'runc is not installed (apt-get install runc)'
        : undefined;

/** Unmounts everything mounted under `dir` (deepest first), e.g. what a killed container left behind. */
async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await run('umount', [p]).catch(() => run('umount', ['-l', p]));
}

/**
 * A throwaway containerd: its own root, state and socket in a temporary directory, the CRI plugins off (ctr is all
 * these tests use), found shim and runc on PATH. `stop` ends it and removes everything.
 */
async function startContainerd(dir: string): Promise<{ target: ContainerdTarget; process: ChildProcess }> {
  const config = [
    'version = 3',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images"]',
    `[grpc]\n  address = "${dir}/containerd.sock"`,
    `[ttrpc]\n  address = "${dir}/containerd.sock.ttrpc"`,
  ].join('\n');
  await fs.writeFile(path.join(dir, 'config.toml'), config + '\n');
  const log = await fs.open(path.join(dir, 'containerd.log'), 'w');
  const child = spawn(path.join(binDir!, 'containerd'), ['--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', log.fd, log.fd],
    env: { ...process.env, PATH: `${binDir}:${SEARCH_PATH}` },
  });
  await log.close();
  const target: ContainerdTarget = { ctr: path.join(binDir!, 'ctr'), address: path.join(dir, 'containerd.sock') };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await run(target.ctr, ['--address', target.address, 'version']).then(() => true, () => false)) return { target, process: child };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`containerd did not start: ${(await fs.readFile(path.join(dir, 'containerd.log'), 'utf8')).slice(-2000)}`);
}

describe(`real import into a throwaway containerd${whyNot ? ` (not run: ${whyNot})` : ''}`, () => {
  let dir: string;
  let containerd: ChildProcess | undefined;
  let target: ContainerdTarget;
  // Every `ctr run` keeps runc's state and its FIFOs in this directory too, apart from any other containerd here.
  const ctr = async (...args: string[]) => (await run(target.ctr, ['--address', target.address, '--namespace', 'k8s.io', ...args], { env: { PATH: SEARCH_PATH } })).stdout;

  beforeAll(async () => {
    if (whyNot) return;
    dir = await fs.mkdtemp('/tmp/mg-containerd-'); // short: a unix socket path holds 108 bytes
    ({ target, process: containerd } = await startContainerd(dir));
  });
  afterAll(async () => {
    if (!dir) return;
    if (containerd && containerd.exitCode === null) {
      const exited = new Promise((resolve) => containerd!.once('exit', resolve));
      containerd.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => containerd!.kill('SIGKILL'))]);
    }
    await unmountUnder(dir);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.runIf(!whyNot)('imports images unpacked for overlayfs, under their normalised names', { timeout: BUILD_TIMEOUT }, async () => {
    const [pause, gathers] = await Promise.all([pauseImage(), testGatherImages()]);
    expect(await loadImage(target, pause.name, pause.archive)).toBe(PAUSE_IMAGE);
    expect(await loadImage(target, 'gather-ok:v1', gathers.ok.archive)).toBe('docker.io/library/gather-ok:v1');
    expect(await loadImage(target, gathers.fail.name, gathers.fail.archive)).toBe(TEST_GATHER_IMAGES.fail);
    const rootfs = path.join(dir, 'rootfs');
    await fs.mkdir(path.join(rootfs, 'etc'), { recursive: true });
    await fs.writeFile(path.join(rootfs, 'etc/hello'), 'hello\n');
    expect(await loadImage(target, 'localhost:5000/from/dir:v1', rootfs)).toBe('localhost:5000/from/dir:v1');

    const names = (await ctr('images', 'ls', '-q')).split('\n');
    for (const n of [PAUSE_IMAGE, 'docker.io/library/gather-ok:v1', TEST_GATHER_IMAGES.ok, TEST_GATHER_IMAGES.fail, 'localhost:5000/from/dir:v1']) {
      expect(names).toContain(n);
    }
    const check = await ctr('images', 'check', '--snapshotter', 'overlayfs');
    for (const line of check.split('\n').slice(1).filter(Boolean)) expect(line).toMatch(/complete .* true$/);
  });

  it.runIf(!whyNot)('loads a docker archive and an OCI archive that names only a tag', { timeout: 60_000 }, async () => {
    const pause = await pauseImage();
    const work = path.join(dir, 'archives');
    await extractTar({ file: pause.archive, cwd: await fs.mkdir(work, { recursive: true }).then(() => work) });
    const index = JSON.parse(await fs.readFile(path.join(work, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await fs.readFile(path.join(work, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const blob = (d: { digest: string }) => `blobs/sha256/${d.digest.slice(7)}`;
    await fs.writeFile(
      path.join(work, 'manifest.json'),
      JSON.stringify([{ Config: blob(manifest.config), RepoTags: ['localhost/docker-archive/pause:v9'], Layers: [blob(manifest.layers[0])] }]),
    );
    await createTar({ file: path.join(dir, 'docker.tar'), cwd: work, portable: true }, ['manifest.json', blob(manifest.config), blob(manifest.layers[0])]);
    expect(await loadImage(target, 'other/name:v2', path.join(dir, 'docker.tar'))).toBe('docker.io/other/name:v2');

    index.manifests[0].annotations = { 'org.opencontainers.image.ref.name': 'v5' };
    await fs.writeFile(path.join(work, 'index.json'), JSON.stringify(index));
    await createTar({ file: path.join(dir, 'tag-only.tar'), cwd: work, portable: true }, ['oci-layout', 'index.json', 'blobs']);
    expect(await loadImage(target, 'localhost/tag-only/pause:v6', path.join(dir, 'tag-only.tar'))).toBe('localhost/tag-only/pause:v6');

    const names = (await ctr('images', 'ls', '-q')).split('\n');
    expect(names).toEqual(expect.arrayContaining(['localhost/docker-archive/pause:v9', 'docker.io/other/name:v2', 'localhost/tag-only/pause:v6']));
    await expect(loadImage(target, 'x:v1', path.join(dir, 'config.toml'))).rejects.toThrow(/^image docker.io\/library\/x:v1 from .*config\.toml: .*neither an OCI/);
  });

  it.runIf(!whyNot)('runs the gather wrapper in gather-ok and gather-fail with their data kept', { timeout: 60_000 }, async () => {
    for (const [mode, state, exitCode] of [['ok', 'Succeeded', 0], ['fail', 'Failed', 3]] as const) {
      const out = path.join(dir, `out-${mode}`);
      await fs.mkdir(out);
      await ctr(
        'run', '--runc-root', `${dir}/runc`, '--fifo-dir', `${dir}/fifo`, '--rm', '--mount', `type=bind,src=${out},dst=/must-gather,options=rbind:rw`,
        '--env', `MUST_GATHER_IMAGE=${TEST_GATHER_IMAGES[mode]}`, '--env', 'MUST_GATHER_CHECK_INTERVAL_SECONDS=1',
        TEST_GATHER_IMAGES[mode], `gather-${mode}`, '/bin/bash', '-c', GATHER_SCRIPT, 'mustgather-gather',
      );
      const result = parseGatherResult(await fs.readFile(path.join(out, 'gather-result.json'), 'utf8'));
      expect(result).toMatchObject({ state, exitCode, image: TEST_GATHER_IMAGES[mode] });
      expect(await fs.readFile(path.join(out, 'test/info.txt'), 'utf8')).toMatch(`mode ${mode}`);
      expect(await fs.readFile(path.join(out, 'gather.log'), 'utf8')).toMatch(`gather-${mode}: wrote /must-gather/test`);
    }
  });

  it.runIf(!whyNot)('runs pause until SIGTERM, then it exits 0', { timeout: 30_000 }, async () => {
    const child = spawn(target.ctr, ['--address', target.address, '-n', 'k8s.io', 'run', '--runc-root', `${dir}/runc`, '--fifo-dir', `${dir}/fifo`, '--rm', PAUSE_IMAGE, 'pause-1'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 50 && !(await ctr('tasks', 'ls')).includes('RUNNING'); i++) await sleep(100);
    expect(await ctr('tasks', 'ls')).toMatch(/pause-1\s+\d+\s+RUNNING/);
    await ctr('tasks', 'kill', '--signal', 'SIGTERM', 'pause-1');
    expect(await exited).toBe(0);
  });

  it.runIf(!whyNot)('runs the project image as user 1001: mustgather --help', { timeout: BUILD_TIMEOUT }, async () => {
    const image = await projectImage(PROJECT_IMAGE);
    expect(await loadImage(target, image.name, image.archive)).toBe(PROJECT_IMAGE);
    expect(await ctr('run', '--runc-root', `${dir}/runc`, '--fifo-dir', `${dir}/fifo`, '--rm', PROJECT_IMAGE, 'project-help')).toMatch(/Usage: mustgather <command>/);
    expect((await ctr('run', '--runc-root', `${dir}/runc`, '--fifo-dir', `${dir}/fifo`, '--rm', PROJECT_IMAGE, 'project-uid', 'node', '-e', 'console.log(process.getuid(), require("os").userInfo().username)')).trim()).toBe(
      '1001 mustgather',
    );
  });
});
