import { describe, expect, it } from 'vitest';
import { GATHER_TOKEN_ANNOTATIONS } from '../constructs/gather-token-secret.js';
import type { KubeObject } from '../kube/client.js';
import { currentToken, gatherTokenSeconds, renewalDue, tokenOf } from './gather-token.js';

const secret = (token: string | undefined, issuedAt: string | undefined, expiresAt: string | undefined): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret',
  metadata: {
    name: 'must-gather-admin-token', namespace: 'ns',
    annotations: {
      ...(issuedAt ? { [GATHER_TOKEN_ANNOTATIONS.issuedAt]: issuedAt } : {}),
      ...(expiresAt ? { [GATHER_TOKEN_ANNOTATIONS.expiresAt]: expiresAt } : {}),
    },
  },
  ...(token !== undefined ? { data: { token: Buffer.from(token).toString('base64') } } : {}),
});

describe('gatherTokenSeconds', () => {
  it.each([
    // start timeout + images x timeout + 10m margin
    [{ timeout: '10m' }, 1, 10 * 60_000, 30 * 60],
    [{ timeout: '1h' }, 3, 10 * 60_000, 10 * 60 + 3 * 3600 + 10 * 60],
    // a start timeout of 0 (never) counts an hour: the token is renewed while the pod waits longer
    [{ timeout: '10m' }, 2, 0, 3600 + 2 * 600 + 600],
  ])('%o x %i images, start timeout %i ms: %i s', (spec, images, startTimeoutMs, seconds) => {
    expect(gatherTokenSeconds(spec, images, startTimeoutMs)).toBe(seconds);
  });

  it('never asks for less than the API server issues (600 s)', () => {
    expect(gatherTokenSeconds({ timeout: '10s' }, 1, 1)).toBeGreaterThanOrEqual(600);
  });
});

describe('the token a Secret holds', () => {
  const issued = '2026-12-06T10:00:00Z';
  const expires = '2026-12-06T11:00:00Z';

  it('reads the token and its times, and nothing from a Secret missing any of them', () => {
    expect(tokenOf(secret('jwt', issued, expires))).toEqual({ token: 'jwt', issuedAt: issued, expiresAt: expires });
    expect(tokenOf(secret(undefined, issued, expires))).toBeUndefined();
    expect(tokenOf(secret('jwt', undefined, expires))).toBeUndefined();
    expect(tokenOf(secret('jwt', issued, undefined))).toBeUndefined();
    expect(tokenOf(undefined)).toBeUndefined();
  });

  it('is current until 80% of its life, then due for renewal', () => {
    const live = secret('jwt', issued, expires);
    expect(renewalDue(tokenOf(live)!)).toBe(Date.parse('2026-12-06T10:48:00Z'));
    expect(currentToken(live, new Date('2026-12-06T10:47:59Z'))?.token).toBe('jwt');
    expect(currentToken(live, new Date('2026-12-06T10:48:00Z'))).toBeUndefined();
  });

  it('treats unreadable times as due now', () => {
    expect(currentToken(secret('jwt', 'yesterday', expires), new Date(issued))).toBeUndefined();
  });
});
