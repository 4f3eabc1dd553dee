/**
 * The project's one way to make certificates: a CA and the certificates it signs, ECDSA P-256 on Node's WebCrypto
 * with @peculiar/x509 (no openssl binary). The operator's serving CA (serving-ca.ts) and the local cluster's PKI
 * (controlplane/pki.ts) are both built on it.
 */
import { webcrypto } from 'node:crypto';
import './reflect-shim.js';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
/** Certificates start an hour early: clock skew between issuing one and its first use. */
const BACKDATE_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  cert: string;
  /** PKCS#8. */
  key: string;
}

/** A certificate authority able to sign further certificates. */
export interface CertificateAuthority extends CertKeyPair {
  certificate: x509.X509Certificate;
  privateKey: webcrypto.CryptoKey;
}

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, 128 bits
  return Buffer.from(bytes).toString('hex');
}

function pem(der: ArrayBuffer, label: string): string {
  return `${x509.PemConverter.encode(der, label)}\n`;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return pem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function validity(validityMs: number, now: Date): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + validityMs) };
}

/** A new self-signed CA. `pathLength` 0: it signs leaf certificates only. */
export async function createCertificateAuthority(
  commonName: string,
  options: { validityMs: number; pathLength?: number; now?: Date },
): Promise<CertificateAuthority> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    ...validity(options.validityMs, options.now ?? new Date()),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, options.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, privateKey: keys.privateKey, cert: `${certificate.toString('pem')}\n`, key: await privateKeyPem(keys.privateKey) };
}

/** A CA from its PEM certificate and PKCS#8 key. */
export async function loadCertificateAuthority(cert: string, key: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(cert);
  const privateKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(key), EC, true, ['sign']);
  return { certificate, privateKey, cert, key };
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
export async function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): Promise<CertKeyPair> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const sans = request.sans ?? [];
  const isIp = (s: string) => /^[\d.]+$|:/.test(s);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
  ];
  if (sans.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension([
      ...sans.filter((s) => !isIp(s)).map((value) => ({ type: 'dns' as const, value })),
      ...sans.filter(isIp).map((value) => ({ type: 'ip' as const, value })),
    ]));
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [request.subject.commonName] }, ...(request.subject.organizations ?? []).map((o) => ({ O: [o] }))],
    issuer: ca.certificate.subjectName,
    ...validity(request.validityMs, request.now ?? new Date()),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions,
  });
  return { cert: `${certificate.toString('pem')}\n`, key: await privateKeyPem(keys.privateKey) };
}

/** A key pair (PKCS#8 private, SPKI public, PEM), e.g. for signing service-account tokens. */
export async function createKeyPair(): Promise<{ key: string; pub: string }> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  return { key: await privateKeyPem(keys.privateKey), pub: pem(await crypto.subtle.exportKey('spki', keys.publicKey), 'PUBLIC KEY') };
}
