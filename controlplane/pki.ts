/**
 * A tiny PKI for a local control plane: one CA, the kube-apiserver serving certificate (127.0.0.1, localhost),
 * client certificates (CN = user, O = groups) and the service-account signing key pair. ECDSA P-256 throughout
 * (fast to generate; kube-apiserver, etcd clients and client-node all accept it). Built on @peculiar/x509 with Node's
 * WebCrypto, so no openssl binary is needed.
 */
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import '../reconciler/reflect-shim.js';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

/** A certificate authority able to sign further certificates. */
export interface CertificateAuthority extends CertKeyPair {
  /** The parsed CA certificate. */
  certificate: x509.X509Certificate;
  /** The CA's private signing key. */
  privateKey: CryptoKey;
}

/** File names inside a PKI directory. */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  servingCert: 'apiserver.crt',
  servingKey: 'apiserver.key',
  saKey: 'sa.key',
  saPub: 'sa.pub',
} as const;

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
}

function pem(der: ArrayBuffer, label: string): string {
  return x509.PemConverter.encode(der, label) + '\n';
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  // Positive 128-bit serial number.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return Buffer.from(bytes).toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // Back-dated a little to tolerate clock skew between the certificate's creation and its first use.
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + days * DAY) };
}

/** Creates a self-signed CA (10 years). */
export async function createCA(commonName = 'mustgather-controlplane-ca'): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [commonName] }],
    ...validity(3650),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, privateKey: keys.privateKey, cert: certificate.toString('pem') + '\n', key: await privateKeyPem(keys.privateKey) };
}

/** Loads a CA written by {@link writeCA}. */
export async function loadCA(dir: string): Promise<CertificateAuthority> {
  const cert = await readFile(path.join(dir, PKI_FILES.caCert), 'utf8');
  const key = await readFile(path.join(dir, PKI_FILES.caKey), 'utf8');
  const certificate = new x509.X509Certificate(cert);
  const privateKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(key), EC, true, ['sign']);
  return { certificate, privateKey, cert, key };
}

/** Writes a CA's certificate and key into dir (key mode 0600). */
export async function writeCA(dir: string, ca: CertificateAuthority): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, PKI_FILES.caCert), ca.cert, { mode: 0o644 });
  await writeFile(path.join(dir, PKI_FILES.caKey), ca.key, { mode: 0o600 });
}

async function issue(
  ca: CertificateAuthority,
  subject: x509.JsonName,
  usage: 'server' | 'client',
  sans: x509.JsonGeneralNames = [],
  days = 365,
): Promise<CertKeyPair> {
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.certificate.subjectName,
    ...validity(days),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions,
  });
  return { cert: certificate.toString('pem') + '\n', key: await privateKeyPem(keys.privateKey) };
}

/** Issues a serving certificate for `commonName`, valid for each of `sans` (IP addresses and DNS names alike). */
export async function issueServingCertFor(ca: CertificateAuthority, commonName: string, sans: string[]): Promise<CertKeyPair> {
  const isIp = (s: string) => /^[\d.]+$|:/.test(s);
  return issue(ca, [{ CN: [commonName] }], 'server', [
    ...sans.filter((s) => !isIp(s)).map((value) => ({ type: 'dns' as const, value })),
    ...sans.filter(isIp).map((value) => ({ type: 'ip' as const, value })),
  ]);
}

/**
 * Issues the kube-apiserver's serving certificate: 127.0.0.1, ::1, localhost, the in-cluster kubernetes service
 * names and `extraSans` (the first address of the Service range, where pods reach it).
 */
export async function issueServingCert(ca: CertificateAuthority, extraSans: string[] = []): Promise<CertKeyPair> {
  const dns = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  return issueServingCertFor(ca, 'kube-apiserver', [...dns, '127.0.0.1', '::1', ...extraSans]);
}

/** Issues a client certificate for user `name` in `groups` (CN = name, one O per group). */
export async function issueClientCert(ca: CertificateAuthority, name: string, groups: string[] = [], days = 365): Promise<CertKeyPair> {
  const subject: x509.JsonName = [{ CN: [name] }, ...groups.map((g) => ({ O: [g] }))];
  return issue(ca, subject, 'client', [], days);
}

/** Creates the service-account token signing key pair (PKCS#8 private key, SPKI public key, PEM). */
export async function createServiceAccountKeyPair(): Promise<{ key: string; pub: string }> {
  const keys = await newKeys();
  return { key: await privateKeyPem(keys.privateKey), pub: pem(await crypto.subtle.exportKey('spki', keys.publicKey), 'PUBLIC KEY') };
}

/** Everything a control plane needs, written into `dir` (see {@link PKI_FILES}). */
export async function createControlPlanePki(dir: string, extraSans: string[] = []): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCA();
  const [serving, sa] = await Promise.all([issueServingCert(ca, extraSans), createServiceAccountKeyPair()]);
  await writeCA(dir, ca);
  await writeFile(path.join(dir, PKI_FILES.servingCert), serving.cert, { mode: 0o644 });
  await writeFile(path.join(dir, PKI_FILES.servingKey), serving.key, { mode: 0o600 });
  await writeFile(path.join(dir, PKI_FILES.saKey), sa.key, { mode: 0o600 });
  await writeFile(path.join(dir, PKI_FILES.saPub), sa.pub, { mode: 0o644 });
  return ca;
}
