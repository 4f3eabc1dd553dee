import { describe, expect, it } from 'vitest';
import { checkServingCertificate, createServingCa, issueServingCertificate, renewalTime, SERVING_CERT_VALIDITY_MS } from './serving-ca.js';

describe('serving certificates', () => {
  const hostnames = ['must-gather.ns.svc', 'must-gather.ns.svc.cluster.local'];
  const now = new Date('2026-06-01T00:00:00Z');

  it('keeps a good certificate until two thirds of its lifetime have passed', async () => {
    const ca = await createServingCa(now);
    const issued = await issueServingCertificate(ca, hostnames, { now });
    const renewAt = renewalTime(issued);
    expect(renewAt).toBe(issued.notAfter.getTime() - (issued.notAfter.getTime() - issued.notBefore.getTime()) / 3);
    expect(issued.notAfter.getTime() - now.getTime()).toBe(SERVING_CERT_VALIDITY_MS);
    // What the reconciler reads back from the certificate is what it was told at issuance.
    expect(checkServingCertificate(issued, ca, hostnames, now)).toEqual({ renewAt });
    expect(checkServingCertificate(issued, ca, [...hostnames].reverse(), now)).toEqual({ renewAt });
    expect(checkServingCertificate(issued, ca, hostnames, new Date(renewAt + 1))).toEqual({ problem: expect.stringMatching(/^expires /) });
  });

  it.each([
    ['no certificate', undefined, /no certificate yet/],
    ['garbage', { cert: 'not a certificate', key: 'x' }, /does not parse/],
  ])('replaces %s', async (_what, live, problem) => {
    const ca = await createServingCa(now);
    expect(checkServingCertificate(live, ca, hostnames, now)).toEqual({ problem: expect.stringMatching(problem) });
  });

  it('replaces a certificate of another CA, or for other names', async () => {
    const ca = await createServingCa(now);
    const other = await createServingCa(now);
    expect(checkServingCertificate(await issueServingCertificate(other, hostnames, { now }), ca, hostnames, now)).toEqual({ problem: 'not issued by the operator\'s CA' });
    expect(checkServingCertificate(await issueServingCertificate(ca, ['elsewhere.ns.svc'], { now }), ca, hostnames, now))
      .toEqual({ problem: `names elsewhere.ns.svc instead of ${hostnames.join(', ')}` });
  });
});
