/**
 * The operator's own CA for serving certificates (Kubernetes profile, where no service CA exists): created on first
 * need and kept in a Secret of the operator's namespace, it issues each report's file-server certificate and is
 * published in the report's `status.caBundle`. It only ever signs serving certificates for report Services (never
 * client certificates), and it is not the cluster's client CA. ECDSA P-256, made by x509.ts (Node's crypto, no openssl
 * binary).
 */
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import type { CertificateAndKey } from '../constructs/serving-cert.js';
import { isConflict, type KubeClient } from '../kube/client.js';
import { refString, secretValue } from '../kube/resources.js';
import { type CertificateAuthority, createCertificateAuthority, DAY_MS, issueCertificate, type IssuedCertificate, loadCertificateAuthority } from './x509.js';

/** Name of the Secret holding the CA in the operator's namespace. */
export const SERVING_CA_SECRET = 'must-gather-serving-ca';
/** How long the CA is valid. */
export const CA_VALIDITY_MS = 3650 * DAY_MS;
/** How long a serving certificate is valid: a report lives at most 720h past Ready, plus its gathering. */
export const SERVING_CERT_VALIDITY_MS = 90 * DAY_MS;

/** The CA: its PEM certificate (what `status.caBundle` publishes) and what signs with it. */
export type ServingCa = CertificateAuthority;

/** A new self-signed CA that signs leaf serving certificates only. */
export function createServingCa(now = new Date()): Promise<ServingCa> {
  return createCertificateAuthority('must-gather-operator serving CA', { validityMs: CA_VALIDITY_MS, pathLength: 0, now });
}

/**
 * The CA from Secret `namespace/SERVING_CA_SECRET`, created (with the namespace, when missing) on first need. Two
 * operators racing to create it both end up with the one that won.
 */
export async function ensureServingCa(client: KubeClient, namespace: string, labels: Record<string, string> = {}): Promise<ServingCa> {
  const ref = { kind: 'Secret', namespace, name: SERVING_CA_SECRET };
  const read = async () => {
    const secret = await client.get(ref);
    const cert = secretValue(secret, 'tls.crt');
    const key = secretValue(secret, 'tls.key');
    if (!secret) return undefined;
    if (!cert || !key) throw new Error(`${refString(ref)}: has no tls.crt and tls.key; delete it to have a new CA made`);
    try {
      return await loadCertificateAuthority(cert, key);
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
export function issueServingCertificate(ca: ServingCa, hostnames: readonly string[], options: { now?: Date; validityMs?: number } = {}): Promise<IssuedCertificate> {
  return issueCertificate(ca, {
    subject: { commonName: hostnames[0] ?? 'must-gather' },
    usage: 'server',
    sans: hostnames,
    validityMs: options.validityMs ?? SERVING_CERT_VALIDITY_MS,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** DNS names of a certificate's subjectAltName. */
export function dnsNames(certificate: NodeX509Certificate): string[] {
  return (certificate.subjectAltName ?? '').split(', ').filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
}

/**
 * Whether a live serving certificate may stay: it must parse, be signed by this CA, name exactly `hostnames`, and have
 * more than a third of its lifetime left (renewal well before expiry, as cert-manager does). Either why it must be
 * replaced, or when it must be renewed.
 */
export function checkServingCertificate(live: CertificateAndKey | undefined, ca: ServingCa, hostnames: readonly string[], now = new Date()): { problem: string } | { renewAt: number } {
  if (!live?.cert || !live.key) return { problem: 'no certificate yet' };
  let certificate: NodeX509Certificate;
  try {
    certificate = new NodeX509Certificate(live.cert);
  } catch {
    return { problem: 'the certificate does not parse' };
  }
  if (!certificate.checkIssued(ca.certificate) || !certificate.verify(ca.certificate.publicKey)) return { problem: 'not issued by the operator\'s CA' };
  const names = dnsNames(certificate);
  if (names.length !== hostnames.length || !hostnames.every((name) => names.includes(name))) return { problem: `names ${names.join(', ')} instead of ${hostnames.join(', ')}` };
  const renewAt = renewalTime({ notBefore: new Date(certificate.validFrom), notAfter: new Date(certificate.validTo) });
  if (now.getTime() > renewAt) return { problem: `expires ${certificate.validTo}` };
  return { renewAt };
}

/** When a certificate is renewed: once two thirds of its lifetime have passed. */
export function renewalTime(validity: { readonly notBefore: Date; readonly notAfter: Date }): number {
  const notBefore = validity.notBefore.getTime();
  const notAfter = validity.notAfter.getTime();
  return notAfter - (notAfter - notBefore) / 3;
}
