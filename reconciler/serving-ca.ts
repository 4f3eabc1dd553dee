/**
 * The operator's own CA for serving certificates (Kubernetes profile, where no service CA exists): created on first
 * need and kept in a Secret of the operator's namespace, it issues each report's file-server certificate and is
 * published in the report's `status.caBundle`. It only ever signs serving certificates for report Services (never
 * client certificates), and it is not the cluster's client CA. ECDSA P-256, generated with @peculiar/x509 on Node's
 * WebCrypto (no openssl binary).
 */
import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import './reflect-shim.js';
import * as x509 from '@peculiar/x509';
import type { CertificateAndKey } from '../constructs/serving-cert.js';
import { isConflict, type KubeClient, type KubeObject } from './kube-client.js';
import { refString } from './resources.js';

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;

/** Name of the Secret holding the CA in the operator's namespace. */
export const SERVING_CA_SECRET = 'must-gather-serving-ca';
/** How long the CA is valid. */
export const CA_VALIDITY_MS = 3650 * DAY;
/** How long a serving certificate is valid: a report lives at most 720h past Ready, plus its gathering. */
export const SERVING_CERT_VALIDITY_MS = 90 * DAY;
/** Clock skew tolerated between issuing a certificate and its first use. */
const BACKDATE_MS = 60 * 60 * 1000;

/** The CA: its PEM certificate (what `status.caBundle` publishes) and what signs with it. */
export interface ServingCa {
  readonly cert: string;
  readonly certificate: x509.X509Certificate;
  readonly privateKey: webcrypto.CryptoKey;
}

function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, 128 bits
  return Buffer.from(bytes).toString('hex');
}

function pem(der: ArrayBuffer, label: string): string {
  return `${x509.PemConverter.encode(der, label)}\n`;
}

/** A new self-signed CA. */
export async function createServingCa(now = new Date()): Promise<ServingCa & { key: string }> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: ['must-gather-operator serving CA'] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      // pathLen 0: it signs leaf serving certificates only.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: `${certificate.toString('pem')}\n`, key: pem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), certificate, privateKey: keys.privateKey };
}

async function loadServingCa(cert: string, key: string): Promise<ServingCa> {
  const certificate = new x509.X509Certificate(cert);
  const privateKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(key), EC, true, ['sign']);
  return { cert, certificate, privateKey };
}

const secretData = (secret: KubeObject | undefined, key: string): string | undefined => {
  const value = (secret as { data?: Record<string, string> } | undefined)?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
};

/**
 * The CA from Secret `namespace/SERVING_CA_SECRET`, created (with the namespace, when missing) on first need. Two
 * operators racing to create it both end up with the one that won.
 */
export async function ensureServingCa(client: KubeClient, namespace: string, labels: Record<string, string> = {}): Promise<ServingCa> {
  const ref = { kind: 'Secret', namespace, name: SERVING_CA_SECRET };
  const read = async () => {
    const secret = await client.get(ref);
    const cert = secretData(secret, 'tls.crt');
    const key = secretData(secret, 'tls.key');
    if (!secret) return undefined;
    if (!cert || !key) throw new Error(`${refString(ref)}: has no tls.crt and tls.key; delete it to have a new CA made`);
    try {
      return await loadServingCa(cert, key);
    } catch (err) {
      throw new Error(`${refString(ref)}: not a usable CA: ${(err as Error).message}`, { cause: err });
    }
  };
  const existing = await read();
  if (existing) return existing;
  if (!(await client.get({ kind: 'Namespace', name: namespace }))) {
    try {
      await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } });
    } catch (err) {
      if (!isConflict(err)) throw new Error(`Namespace/${namespace}: cannot create the operator's namespace: ${(err as Error).message}`, { cause: err });
    }
  }
  const ca = await createServingCa();
  try {
    await client.create({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: SERVING_CA_SECRET, namespace, labels },
      stringData: { 'tls.crt': ca.cert, 'tls.key': ca.key },
    });
    return ca;
  } catch (err) {
    if (!isConflict(err)) throw new Error(`${refString(ref)}: cannot create the serving CA: ${(err as Error).message}`, { cause: err });
    const winner = await read();
    if (!winner) throw new Error(`${refString(ref)}: created by someone else and gone again`, { cause: err });
    return winner;
  }
}

/** A serving certificate for `hostnames` (the first is also the subject's CN), signed by the CA. */
export async function issueServingCertificate(ca: ServingCa, hostnames: readonly string[], options: { now?: Date; validityMs?: number } = {}): Promise<CertificateAndKey> {
  const now = options.now ?? new Date();
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [hostnames[0] ?? 'must-gather'] }],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (options.validityMs ?? SERVING_CERT_VALIDITY_MS)),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
      new x509.SubjectAlternativeNameExtension(hostnames.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  return { cert: `${certificate.toString('pem')}\n`, key: pem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
}

/** DNS names of a certificate's subjectAltName. */
export function dnsNames(certificate: NodeX509Certificate): string[] {
  return (certificate.subjectAltName ?? '').split(', ').filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
}

/**
 * Why a live serving certificate must be replaced, or undefined when it may stay: it must parse, be signed by this CA,
 * name exactly `hostnames`, and have more than a third of its lifetime left (renewal well before expiry, as
 * cert-manager does).
 */
export function servingCertificateProblem(live: CertificateAndKey | undefined, ca: ServingCa, hostnames: readonly string[], now = new Date()): string | undefined {
  if (!live?.cert || !live.key) return 'no certificate yet';
  let certificate: NodeX509Certificate;
  try {
    certificate = new NodeX509Certificate(live.cert);
  } catch {
    return 'the certificate does not parse';
  }
  const issuer = new NodeX509Certificate(ca.cert);
  if (!certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) return 'not issued by the operator\'s CA';
  const names = dnsNames(certificate);
  if (names.length !== hostnames.length || !hostnames.every((name) => names.includes(name))) return `names ${names.join(', ')} instead of ${hostnames.join(', ')}`;
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (now.getTime() > notAfter - (notAfter - notBefore) / 3) return `expires ${certificate.validTo}`;
  return undefined;
}
