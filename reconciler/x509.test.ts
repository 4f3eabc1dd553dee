import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { children, readElement } from './der.js';
import { createCertificateAuthority, createKeyPair, DAY_MS, ipAddressBytes, issueCertificate, loadCertificateAuthority } from './x509.js';

/** The value of extension `id` (dotted), or undefined, read from the certificate's DER. */
function extensionValue(cert: string, id: string): Buffer | undefined {
  const [tbs] = children(readElement(new X509Certificate(cert).raw));
  const extensions = children(tbs!).find((f) => f.tag === 0xa3);
  const arcs = id.split('.').map(Number);
  for (const ext of children(children(extensions!)[0]!)) {
    const [oid, ...rest] = children(ext);
    // Compare through Node's own rendering of the OID: the DER of the short OIDs used here is 55 1d xx.
    if (arcs[0] === 2 && arcs[1] === 5 && arcs[2] === 29 && oid!.contents.equals(Buffer.from([0x55, 0x1d, arcs[3]!]))) return rest[rest.length - 1]!.contents;
  }
  return undefined;
}

/**
 * A TLS handshake between a server holding `server` and a client trusting `ca` that expects `host` (and presents
 * `client`, when given, to a server trusting `ca`): whether each side's certificate was found good.
 */
async function handshake(ca: string, server: { cert: string; key: string }, host: string, client?: { cert: string; key: string }): Promise<{ serverAuthorized: boolean; clientAuthorized?: boolean; error?: string }> {
  const srv = tls.createServer({ ...server, ...(client ? { requestCert: true, rejectUnauthorized: false, ca } : {}) });
  const accepted = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const socket = tls.connect({
    port: (srv.address() as AddressInfo).port, host: '127.0.0.1', ...(host === '127.0.0.1' ? {} : { servername: host }),
    ca, rejectUnauthorized: false, ...(client ?? {}),
  });
  try {
    await once(socket, 'secureConnect');
    const [serverSide] = await accepted;
    const error = socket.authorizationError ? String(socket.authorizationError) : tls.checkServerIdentity(host, socket.getPeerCertificate())?.message;
    return { serverAuthorized: socket.authorized && !error, ...(client ? { clientAuthorized: serverSide.authorized } : {}), ...(error ? { error } : {}) };
  } finally {
    socket.destroy();
    srv.close();
  }
}

describe('x509', () => {
  it('makes a self-signed CA that signs leaf certificates only', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const ca = await createCertificateAuthority('test CA', { validityMs: 10 * DAY_MS, pathLength: 0, now });
    const cert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=test CA');
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(new Date(cert.validFrom).toISOString()).toBe('2025-12-31T23:00:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2026-01-11T00:00:00.000Z');
    // basicConstraints: cA TRUE, pathLen 0; keyUsage digitalSignature, keyCertSign, cRLSign
    expect(extensionValue(ca.cert, '2.5.29.19')!.toString('hex')).toBe('30060101ff020100');
    expect(extensionValue(ca.cert, '2.5.29.15')!.toString('hex')).toBe('03020186');
  });

  it('issues server certificates a TLS client accepts by DNS name and by IPv4 or IPv6 address', async () => {
    const ca = await createCertificateAuthority('test CA', { validityMs: DAY_MS });
    const server = await issueCertificate(ca, { subject: { commonName: 'svc.ns.svc' }, usage: 'server', sans: ['svc.ns.svc', 'svc.ns.svc.cluster.local', '127.0.0.1', '::1'], validityMs: DAY_MS });
    const cert = new X509Certificate(server.cert);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:svc.ns.svc, DNS:svc.ns.svc.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    // The authority key identifier is the CA's subject key identifier.
    expect(extensionValue(server.cert, '2.5.29.35')!.subarray(4).equals(extensionValue(ca.cert, '2.5.29.14')!.subarray(2))).toBe(true);
    expect(await handshake(ca.cert, server, 'svc.ns.svc.cluster.local')).toEqual({ serverAuthorized: true });
    expect(await handshake(ca.cert, server, '127.0.0.1')).toEqual({ serverAuthorized: true });
    const other = await createCertificateAuthority('other CA', { validityMs: DAY_MS });
    expect((await handshake(other.cert, server, 'svc.ns.svc')).serverAuthorized).toBe(false);
    expect((await handshake(ca.cert, server, 'elsewhere.ns.svc')).error).toMatch(/ALTNAME_INVALID/);
  });

  it('issues client certificates with CN and one O per group, accepted as clients but not as servers', async () => {
    const ca = await createCertificateAuthority('test CA', { validityMs: DAY_MS });
    const alice = await issueCertificate(ca, { subject: { commonName: 'alice', organizations: ['system:masters', 'team-a'] }, usage: 'client', validityMs: DAY_MS });
    expect(new X509Certificate(alice.cert).subject).toBe('CN=alice\nO=system:masters\nO=team-a');
    expect(new X509Certificate(alice.cert).keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const server = await issueCertificate(ca, { subject: { commonName: 'localhost' }, usage: 'server', sans: ['localhost'], validityMs: DAY_MS });
    expect(await handshake(ca.cert, server, 'localhost', alice)).toEqual({ serverAuthorized: true, clientAuthorized: true });
    // A client certificate is no server certificate (extended key usage): the client refuses it.
    const clientWithName = await issueCertificate(ca, { subject: { commonName: 'localhost' }, usage: 'client', sans: ['localhost'], validityMs: DAY_MS });
    expect(await handshake(ca.cert, clientWithName, 'localhost')).toEqual({ serverAuthorized: false, error: 'INVALID_PURPOSE' });
  });

  it('signs with a CA loaded back from its PEM, naming it as the issuer byte for byte', async () => {
    const made = await createCertificateAuthority('loaded CA', { validityMs: DAY_MS });
    const loaded = await loadCertificateAuthority(made.cert, made.key);
    expect(loaded.subject.equals(made.subject)).toBe(true);
    expect(loaded.keyIdentifier.equals(made.keyIdentifier)).toBe(true);
    const leaf = await issueCertificate(loaded, { subject: { commonName: 'x' }, usage: 'server', sans: ['x'], validityMs: DAY_MS });
    expect(new X509Certificate(leaf.cert).verify(new X509Certificate(made.cert).publicKey)).toBe(true);
  });

  it('refuses to load a CA whose key is not its certificate\'s', async () => {
    const ca = await createCertificateAuthority('a', { validityMs: DAY_MS });
    await expect(loadCertificateAuthority(ca.cert, (await createKeyPair()).key)).rejects.toThrow(/not the certificate's/);
  });

  it('writes validity past 2049 as GeneralizedTime', async () => {
    const ca = await createCertificateAuthority('long', { validityMs: 40 * 365 * DAY_MS, now: new Date('2026-01-01T00:00:00Z') });
    expect(new Date(new X509Certificate(ca.cert).validTo).getUTCFullYear()).toBe(2065);
  });

  it.each([
    ['10.0.0.1', '0a000001'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['2001:db8::ff00:42:8329', '20010db8000000000000ff0000428329'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
  ])('reads IP address %s', (address, bytes) => {
    expect(ipAddressBytes(address).toString('hex')).toBe(bytes);
  });
});
