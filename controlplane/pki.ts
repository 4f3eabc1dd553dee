/**
 * A tiny PKI for a local control plane: one CA, the kube-apiserver serving certificate (127.0.0.1, localhost, the
 * in-cluster names), client certificates (CN = user, O = groups) and the service-account signing key pair, written
 * into a directory. The certificates come from the project's one x509 module (reconciler/x509.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type CertificateAuthority,
  type CertKeyPair,
  createCertificateAuthority,
  createKeyPair,
  DAY_MS,
  issueCertificate,
  loadCertificateAuthority,
} from '../reconciler/x509.js';

export type { CertificateAuthority, CertKeyPair };

/** File names inside a PKI directory. */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  servingCert: 'apiserver.crt',
  servingKey: 'apiserver.key',
  saKey: 'sa.key',
  saPub: 'sa.pub',
} as const;

/** Creates a self-signed CA (10 years). */
export function createCA(commonName = 'mustgather-controlplane-ca'): Promise<CertificateAuthority> {
  return createCertificateAuthority(commonName, { validityMs: 3650 * DAY_MS });
}

/** Loads a CA written by {@link writeCA}. */
export async function loadCA(dir: string): Promise<CertificateAuthority> {
  return loadCertificateAuthority(await readFile(path.join(dir, PKI_FILES.caCert), 'utf8'), await readFile(path.join(dir, PKI_FILES.caKey), 'utf8'));
}

/** Writes a CA's certificate and key into dir (key mode 0600). */
export async function writeCA(dir: string, ca: CertificateAuthority): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, PKI_FILES.caCert), ca.cert, { mode: 0o644 });
  await writeFile(path.join(dir, PKI_FILES.caKey), ca.key, { mode: 0o600 });
}

/** Issues a serving certificate (1 year) for `commonName`, valid for each of `sans` (IP addresses and DNS names alike). */
export function issueServingCertFor(ca: CertificateAuthority, commonName: string, sans: string[]): Promise<CertKeyPair> {
  return issueCertificate(ca, { subject: { commonName }, usage: 'server', sans, validityMs: 365 * DAY_MS });
}

/**
 * Issues the kube-apiserver's serving certificate: 127.0.0.1, ::1, localhost, the in-cluster kubernetes service
 * names and `extraSans` (the first address of the Service range, where pods reach it).
 */
export function issueServingCert(ca: CertificateAuthority, extraSans: string[] = []): Promise<CertKeyPair> {
  const dns = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  return issueServingCertFor(ca, 'kube-apiserver', [...dns, '127.0.0.1', '::1', ...extraSans]);
}

/** Issues a client certificate for user `name` in `groups` (CN = name, one O per group); negative days: expired. */
export function issueClientCert(ca: CertificateAuthority, name: string, groups: string[] = [], days = 365): Promise<CertKeyPair> {
  return issueCertificate(ca, { subject: { commonName: name, organizations: groups }, usage: 'client', validityMs: days * DAY_MS });
}

/** Everything a control plane needs, written into `dir` (see {@link PKI_FILES}). */
export async function createControlPlanePki(dir: string, extraSans: string[] = []): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCA();
  const [serving, sa] = await Promise.all([issueServingCert(ca, extraSans), createKeyPair()]);
  await writeCA(dir, ca);
  await writeFile(path.join(dir, PKI_FILES.servingCert), serving.cert, { mode: 0o644 });
  await writeFile(path.join(dir, PKI_FILES.servingKey), serving.key, { mode: 0o600 });
  await writeFile(path.join(dir, PKI_FILES.saKey), sa.key, { mode: 0o600 });
  await writeFile(path.join(dir, PKI_FILES.saPub), sa.pub, { mode: 0o644 });
  return ca;
}
