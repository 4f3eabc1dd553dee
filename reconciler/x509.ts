/**
 * The project's one way to make certificates: a CA and the certificates it signs, ECDSA P-256 with SHA-256, from
 * Node's crypto and a few lines of DER (der.ts); no openssl binary, no ASN.1 library. The operator's serving CA
 * (serving-ca.ts) and the local cluster's PKI (controlplane/pki.ts) are both built on it. Issuing a certificate this
 * way costs a tenth of a millisecond of key generation and signing; the ASN.1 library it replaced spent ~5 ms of CPU
 * on each, which the operator paid once per report.
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString, boolean, children, type DerElement, explicit, implicit, namedBits, octetString, oid, readElement, sequence, set, smallInteger, time, unsignedInteger, utf8String,
} from './der.js';

/** Certificates start an hour early: clock skew between issuing one and its first use. */
const BACKDATE_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;
/** keyUsage bits (RFC 5280, 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  cert: string;
  /** PKCS#8. */
  key: string;
}

/** A certificate just issued, with its validity (so its holder need not parse it back). */
export interface IssuedCertificate extends CertKeyPair {
  notBefore: Date;
  notAfter: Date;
}

/** A certificate authority able to sign further certificates. */
export interface CertificateAuthority extends CertKeyPair {
  /** The CA certificate, parsed once (what checks a certificate it issued). */
  certificate: X509Certificate;
  /** The CA's key, which signs. */
  privateKey: KeyObject;
  /** The CA certificate's subject name, DER: the issuer name of what it signs, byte for byte. */
  subject: Buffer;
  /** The CA's key identifier: the authority key identifier of what it signs. */
  keyIdentifier: Buffer;
}

function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** 128 random bits, positive. */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

function pem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A Name of one CN and any number of O, in that order (what kube-apiserver reads as user and groups). */
function name(commonName: string, organizations: readonly string[] = []): Buffer {
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return sequence(rdn(OID.commonName, commonName), ...organizations.map((o) => rdn(OID.organization, o)));
}

/** The key identifier of a public key: SHA-1 of its subjectPublicKey bits (RFC 5280, 4.2.1.2, method 1). */
function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = children(readElement(spki));
  return createHash('sha1').update(bits!.contents.subarray(1)).digest();
}

/** The key identifier a certificate states, from its extensions (`[3] EXPLICIT SEQUENCE OF Extension`). */
function subjectKeyIdentifier(extensions: DerElement | undefined): Buffer | undefined {
  if (!extensions) return undefined;
  const wanted = oid(OID.subjectKeyIdentifier);
  for (const ext of children(children(extensions)[0]!)) {
    const [id, ...rest] = children(ext);
    if (id?.encoded.equals(wanted)) return readElement(rest[rest.length - 1]!.contents).contents;
  }
  return undefined;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** The bytes of an IPv4 or IPv6 address (`::` and a trailing dotted quad understood). */
export function ipAddressBytes(address: string): Buffer {
  const version = isIP(address);
  if (version === 4) return Buffer.from(address.split('.').map(Number));
  if (version !== 6) throw new Error(`${address}: not an IP address`);
  let text = address;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad[1]!.split('.').map(Number);
    text = `${text.slice(0, quad.index)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...(tail === undefined ? [] : Array<string>(missing).fill('0')), ...groups(tail)];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

interface Issuance {
  subject: Buffer;
  issuer: Buffer;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

/** A signed certificate, PEM. */
function certificate(issuance: Issuance): string {
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serialNumber()),
    algorithm,
    issuance.issuer,
    sequence(time(issuance.notBefore), time(issuance.notAfter)),
    issuance.subject,
    issuance.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...issuance.extensions)),
  );
  const signature = sign('sha256', tbs, { key: issuance.signingKey, dsaEncoding: 'der' });
  return pem(sequence(tbs, algorithm, bitString(signature)), 'CERTIFICATE');
}

function validity(validityMs: number, now: Date): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + validityMs) };
}

/** A new self-signed CA. `pathLength` 0: it signs leaf certificates only. */
export async function createCertificateAuthority(
  commonName: string,
  options: { validityMs: number; pathLength?: number; now?: Date },
): Promise<CertificateAuthority> {
  const keys = newKeyPair();
  const subject = name(commonName);
  const id = keyIdentifier(keys.publicKey.export({ type: 'spki', format: 'der' }));
  const cert = certificate({
    subject, issuer: subject, publicKey: keys.publicKey, signingKey: keys.privateKey,
    ...validity(options.validityMs, options.now ?? new Date()),
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true), ...(options.pathLength === undefined ? [] : [smallInteger(options.pathLength)]))),
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, octetString(id)),
    ],
  });
  return { cert, key: privateKeyPem(keys.privateKey), certificate: new X509Certificate(cert), privateKey: keys.privateKey, subject, keyIdentifier: id };
}

/** A CA from its PEM certificate and PKCS#8 key: an ECDSA key, the one the certificate holds. */
export async function loadCertificateAuthority(cert: string, key: string): Promise<CertificateAuthority> {
  const certificate = new X509Certificate(cert);
  const privateKey = createPrivateKey(key);
  if (privateKey.asymmetricKeyType !== 'ec') throw new Error(`the key is ${privateKey.asymmetricKeyType ?? 'of no known type'}, not ECDSA`);
  if (!certificate.checkPrivateKey(privateKey)) throw new Error('the key is not the certificate\'s');
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, signature, issuer, validity, subject, spki, ... } }
  const [tbs] = children(readElement(certificate.raw));
  const fields = children(tbs!);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[at + 4]?.encoded;
  const spki = fields[at + 5]?.encoded;
  if (!subject || !spki) throw new Error('the certificate has no subject or public key');
  return { cert, key, certificate, privateKey, subject, keyIdentifier: subjectKeyIdentifier(fields.find((f) => f.tag === 0xa3)) ?? keyIdentifier(spki) };
}

/** What {@link issueCertificate} puts in a certificate. */
export interface CertificateRequest {
  /** Subject: CN and, for client certificates, one O per group (what kube-apiserver reads as user and groups). */
  subject: { commonName: string; organizations?: readonly string[] };
  usage: 'server' | 'client';
  /** subjectAltNames: IP addresses and DNS names alike. @default none */
  sans?: readonly string[];
  validityMs: number;
  /** @default now */
  now?: Date;
}

/** A certificate signed by `ca`, with a fresh key. */
export async function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): Promise<IssuedCertificate> {
  const keys = newKeyPair();
  const sans = request.sans ?? [];
  const extensions = [
    extension(OID.basicConstraints, true, sequence()),
    extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
    extension(OID.extKeyUsage, false, sequence(oid(request.usage === 'server' ? OID.serverAuth : OID.clientAuth))),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(keys.publicKey.export({ type: 'spki', format: 'der' })))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, ca.keyIdentifier))),
  ];
  if (sans.length > 0) {
    // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING; DNS names first.
    const ips = sans.filter((s) => isIP(s) !== 0);
    extensions.push(extension(OID.subjectAltName, false, sequence(
      ...sans.filter((s) => isIP(s) === 0).map((dns) => implicit(2, Buffer.from(dns, 'ascii'))),
      ...ips.map((ip) => implicit(7, ipAddressBytes(ip))),
    )));
  }
  const { notBefore, notAfter } = validity(request.validityMs, request.now ?? new Date());
  const cert = certificate({
    subject: name(request.subject.commonName, request.subject.organizations),
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    notBefore,
    notAfter,
    extensions,
  });
  return { cert, key: privateKeyPem(keys.privateKey), notBefore, notAfter };
}

/** A key pair (PKCS#8 private, SPKI public, PEM), e.g. for signing service-account tokens. */
export async function createKeyPair(): Promise<{ key: string; pub: string }> {
  const keys = newKeyPair();
  return { key: privateKeyPem(keys.privateKey), pub: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
