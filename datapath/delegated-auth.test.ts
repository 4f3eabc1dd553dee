import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { DelegatedAuth, type DelegatedAuthOptions, describeAccess, LruCache, TokenBucket } from './delegated-auth.js';

/**
 * An API server endpoint that never answers (it holds connections open, or cuts them): what the checker does when
 * the API cannot decide. Answers from a real API server are tested in test/integration/serve-auth.test.ts.
 */
let endpoint: Server;
let connections = 0;
let mode: 'hang' | 'cut' = 'cut';
const open = new Set<Socket>();

beforeAll(async () => {
  endpoint = createServer((socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    if (mode === 'cut') socket.destroy();
  });
  endpoint.listen(0, '127.0.0.1');
  await once(endpoint, 'listening');
});
afterAll(() => {
  for (const socket of open) socket.destroy();
  endpoint.close();
});

function checker(options: Partial<DelegatedAuthOptions> = {}): DelegatedAuth {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // Plain HTTP: client-node allows it only with skipTLSVerify.
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(endpoint.address() as { port: number }).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c',
  });
  return new DelegatedAuth({ client: new KubeClient(kc), ...options });
}

/** A request as the server sees it: headers, and a plain socket (no client certificate). */
const requestWith = (headers: Record<string, string>) => ({ headers, socket: {} }) as unknown as IncomingMessage;
const bearer = (token: string) => requestWith({ authorization: `Bearer ${token}` });

describe('DelegatedAuth without an API server to answer', () => {
  it('refuses missing and malformed credentials without calling the API', async () => {
    const auth = checker();
    const before = connections;
    for (const req of [
      requestWith({}),
      requestWith({ 'x-remote-user': 'system:admin', 'x-remote-group': 'system:masters', 'impersonate-user': 'system:admin' }),
      requestWith({ authorization: 'Bearer ' }),
      requestWith({ authorization: 'Basic YWRtaW46YWRtaW4=' }),
      bearer('a'.repeat(8 * 1024 + 1)),
      bearer('abc\u00e9def'),
    ]) {
      expect(await auth.check(req)).toMatchObject({ allowed: false, status: 401 });
    }
    expect(connections).toBe(before);
  });

  it('answers 503 while the API cannot answer, and asks again next time (nothing cached)', async () => {
    mode = 'cut';
    const errors: Error[] = [];
    const auth = checker({ onError: (err) => errors.push(err) });
    const before = connections;
    for (let i = 0; i < 3; i++) {
      expect(await auth.check(bearer('well-formed'))).toEqual({ allowed: false, status: 503, message: 'cannot check credentials with the Kubernetes API right now; retry later' });
    }
    expect(errors[0]!.message).toMatch(/^create TokenReview: /);
    expect(connections - before).toBe(3);
  });

  it('shares one check among identical requests, runs at most maxInFlight checks, and times them out', async () => {
    mode = 'hang';
    const auth = checker({ maxInFlight: 4, apiTimeoutMs: 300 });
    const before = connections;
    const same = await Promise.all(Array.from({ length: 10 }, () => auth.check(bearer('same'))));
    expect(same.every((v) => !v.allowed && v.status === 503)).toBe(true);
    expect(connections - before).toBe(1);
    const distinct = await Promise.all(Array.from({ length: 10 }, (_, i) => auth.check(bearer(`token-${i}`))));
    expect(distinct.map((v) => (v.allowed ? 200 : v.status)).sort()).toEqual([...Array(6).fill(429), ...Array(4).fill(503)]);
    expect(connections - before).toBe(5);
  });

  it('rate-limits misses beyond the burst', async () => {
    mode = 'cut';
    const auth = checker({ reviewsPerSecond: 1, reviewBurst: 3, maxInFlight: 100 });
    const before = connections;
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push(await auth.check(bearer(`t${i}`)));
    expect(verdicts.map((v) => (v.allowed ? 200 : v.status))).toEqual([503, 503, 503, 429, 429, 429]);
    expect(connections - before).toBe(3);
  });
});

describe('describeAccess', () => {
  it.each([
    [{ verb: '*', group: '*', resource: '*' }, '* * (group *) cluster-wide'],
    [{ verb: 'get', group: '', resource: 'pods', namespace: 'ns' }, 'get pods (group core) in namespace ns'],
    [{ verb: 'get', group: 'mustgather.openshift.io', resource: 'mustgatherreports', subresource: 'download', namespace: 'ns', name: 'r' },
      'get mustgatherreports/download named "r" (group mustgather.openshift.io) in namespace ns'],
  ])('%j: %s', (access, text) => {
    expect(describeAccess(access)).toBe(text);
  });
});

describe('LruCache', () => {
  it('drops the least recently used entry beyond its size, and expired ones', async () => {
    const cache = new LruCache<number>(2);
    cache.set('a', 1, 10_000);
    cache.set('b', 2, 10_000);
    expect(cache.get('a')).toBe(1); // b is now the least recently used
    cache.set('c', 3, 10_000);
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.size]).toEqual([1, undefined, 3, 2]);
    cache.set('d', 4, 20);
    await sleep(40);
    expect(cache.get('d')).toBeUndefined();
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the rate', async () => {
    const bucket = new TokenBucket(50, 3);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    await sleep(60);
    expect([bucket.take(), bucket.take()]).toEqual([true, true]);
  });
});
