import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { inClusterAccess, kubeconfigFileAccess, loadClusterAccess } from './cluster-access.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig file in a fresh directory, with the current context `ctx` of cluster `cluster` and user `user`. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cluster-access-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const file = path.join(dir, 'config');
  writeFileSync(file, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'ctx',
    contexts: [{ name: 'other', context: { cluster: 'c', user: 'nobody' } }, { name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'nobody', user: { token: 'wrong' } }, { name: 'u', user }],
  }));
  return file;
}

async function applied(access: { applyTo(o: https.RequestOptions): void | Promise<void> }): Promise<https.RequestOptions> {
  const options: https.RequestOptions = { headers: { Accept: 'application/json' } };
  await access.applyTo(options);
  return options;
}

describe('kubeconfigFileAccess', () => {
  it('reads the current context\'s certificates from data fields', async () => {
    const file = kubeconfig(
      { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') },
      { 'client-certificate-data': b64('CERT PEM'), 'client-key-data': b64('KEY PEM') },
    );
    const access = kubeconfigFileAccess(file)!;
    expect(access.server).toBe('https://127.0.0.1:6443');
    const options = await applied(access);
    expect([options.ca, options.cert, options.key].map(String)).toEqual(['CA PEM', 'CERT PEM', 'KEY PEM']);
    expect(options.headers).toEqual({ Accept: 'application/json' });
  });

  it('applies certificates and tokens synchronously, so a request leaves in the turn that makes it', () => {
    const file = kubeconfig({ server: 'https://h:1', 'certificate-authority-data': b64('CA PEM') }, { token: 't' });
    const options: https.RequestOptions = {};
    expect(kubeconfigFileAccess(file)!.applyTo(options)).toBeUndefined();
    expect(options.headers).toEqual({ Authorization: 'Bearer t' });
  });

  it('reads files relative to the kubeconfig, a token, and the TLS switches', async () => {
    const file = kubeconfig(
      { server: 'https://api.example.com:6443', 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes', 'insecure-skip-tls-verify': true },
      { token: 'sekret' },
      { 'ca.crt': 'CA FROM FILE' },
    );
    const options = await applied(kubeconfigFileAccess(file)!);
    expect(String(options.ca)).toBe('CA FROM FILE');
    expect(options.servername).toBe('kubernetes');
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer sekret' });
  });

  it('reads a tokenFile relative to the kubeconfig', async () => {
    const file = kubeconfig({ server: 'https://h:1' }, { tokenFile: 'token' }, { token: 'from-file\n' });
    expect((await applied(kubeconfigFileAccess(file)!)).headers).toMatchObject({ Authorization: 'Bearer from-file' });
  });

  it('leaves exec plugins, auth providers and proxies to client-node', () => {
    expect(kubeconfigFileAccess(kubeconfig({ server: 'https://h:1' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'get-token' } }))).toBeUndefined();
    expect(kubeconfigFileAccess(kubeconfig({ server: 'https://h:1' }, { 'auth-provider': { name: 'oidc' } }))).toBeUndefined();
    expect(kubeconfigFileAccess(kubeconfig({ server: 'https://h:1', 'proxy-url': 'http://proxy:3128' }, { token: 't' }))).toBeUndefined();
  });

  it('says what is missing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cluster-access-'));
    writeFileSync(path.join(dir, 'config'), YAML.stringify({ 'current-context': 'none', contexts: [] }));
    expect(() => kubeconfigFileAccess(path.join(dir, 'config'))).toThrow(/no current context/);
    expect(() => kubeconfigFileAccess(kubeconfig({ insecure: true }, {}))).toThrow(/no cluster with a server/);
  });
});

describe('loadClusterAccess', () => {
  it('hands what it does not read to client-node\'s KubeConfig, with the same result for a proxy', async () => {
    const file = kubeconfig({ server: 'https://h:1', 'proxy-url': 'http://proxy.example:3128' }, { token: 't0k' });
    const access = await loadClusterAccess(file);
    expect(access.server).toBe('https://h:1');
    const options = await applied(access);
    expect(options.headers).toMatchObject({ Authorization: 'Bearer t0k' });
    expect(options.agent?.constructor.name).toMatch(/Proxy/);
  });

  it('reads KUBECONFIG, then ~/.kube/config, else the pod\'s service account', async () => {
    const file = kubeconfig({ server: 'https://from-env:1' }, { token: 'x' });
    expect((await loadClusterAccess(undefined, { KUBECONFIG: file, HOME: '/nonexistent' })).server).toBe('https://from-env:1');
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const inHome = kubeconfig({ server: 'https://from-home:1' }, { token: 'x' });
    mkdirSync(path.join(home, '.kube'));
    copyFileSync(inHome, path.join(home, '.kube', 'config'));
    expect((await loadClusterAccess(undefined, { HOME: home })).server).toBe('https://from-home:1');
  });
});

describe('inClusterAccess', () => {
  it('is the service account\'s token and CA, the token read again as it rotates', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-'));
    writeFileSync(path.join(dir, 'token'), 'first');
    writeFileSync(path.join(dir, 'ca.crt'), 'CLUSTER CA');
    const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir, 0)!;
    expect(access.server).toBe('https://[fd00::1]:443');
    const options = await applied(access);
    expect(String(options.ca)).toBe('CLUSTER CA');
    expect(options.headers).toMatchObject({ Authorization: 'Bearer first' });
    writeFileSync(path.join(dir, 'token'), 'rotated');
    expect((await applied(access)).headers).toMatchObject({ Authorization: 'Bearer rotated' });
    // Kept for the reread interval otherwise.
    const cached = inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir)!;
    expect((await applied(cached)).headers).toMatchObject({ Authorization: 'Bearer rotated' });
    writeFileSync(path.join(dir, 'token'), 'third');
    expect((await applied(cached)).headers).toMatchObject({ Authorization: 'Bearer rotated' });
  });

  it('is undefined outside a pod', () => {
    expect(inClusterAccess({}, '/nonexistent')).toBeUndefined();
    expect(inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, '/nonexistent')).toBeUndefined();
  });
});
