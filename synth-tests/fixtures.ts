import type { MustGatherReport, MustGatherReportSpec } from '../constructs/report-api.js';

/** A fixed cookie secret: snapshots must not change between runs. */
export const COOKIE_SECRET = 'test-cookie-secret-0123456789abc';

/** A report object as the API server would hand it to the operator. */
export function report(spec: MustGatherReportSpec, metadata: Partial<MustGatherReport['metadata']> = {}): MustGatherReport {
  return {
    apiVersion: 'mustgather.openshift.io/v1alpha1',
    kind: 'MustGatherReport',
    metadata: { name: 'example', namespace: 'support', uid: '0b6c1f9e-5d6a-4c1b-9a57-3f1e2d4c5b6a', ...metadata },
    spec,
  };
}

const LONGEST_NAME = `${'a'.repeat(62)}.${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(63)}`;

/** Reports covering the general case: shortest and longest names, odd image references, every option. */
export const REPORTS: Record<string, MustGatherReport> = {
  minimal: report({ images: ['quay.io/openshift/origin-must-gather'] }),
  twoImages: report({ images: ['quay.io/kubevirt/must-gather', 'quay.io/openshift/origin-must-gather'] }),
  longestNames: report(
    { images: ['registry.example.com:5000/a/b/c/must-gather:v1.2.3'] },
    { name: LONGEST_NAME, namespace: 'n'.repeat(63) },
  ),
  oddImages: report({
    images: [
      'must-gather',
      'localhost:5000/mg@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      '[fd00::1]:5000/team/must-gather:latest',
      `registry.example.com/${'x'.repeat(200)}/must-gather:${'t'.repeat(128)}`,
      'quay.io/org/must_gather__x-y.z:1.0',
    ],
  }, { name: 'odd.names-0', namespace: 'a' }),
  everyOption: report({
    images: ['quay.io/openshift/origin-must-gather:4.20', 'quay.io/kubevirt/must-gather:v1.5.0'],
    allImages: true,
    imageStreams: ['openshift/must-gather:latest'],
    command: ['/usr/bin/gather_audit_logs', '--verbose'],
    deleteAfter: '2h',
    timeout: '1h30m',
    since: '30m',
    nodeName: 'master-0.example.com',
    nodeSelector: { 'node-role.kubernetes.io/master': '', 'topology.kubernetes.io/zone': 'eu-west-1a' },
    storage: { size: '50Gi', storageClassName: 'fast-ssd' },
    volumePercentage: 85,
    redact: { secrets: true, ipAddresses: true, macAddresses: false },
  }),
  /** No images: the default must-gather image; sinceTime, which excludes since. */
  defaultImage: report({ sinceTime: '2025-01-31T08:00:00Z' }),
  noUid: report({ images: ['quay.io/openshift/origin-must-gather'] }, { uid: undefined }),
};

export { LONGEST_NAME };

/** A fixed serving certificate (the chart never parses it): snapshots must not change between runs. */
export const SERVING_CERT = {
  cert: '-----BEGIN CERTIFICATE-----\nZml4dHVyZSBzZXJ2aW5nIGNlcnRpZmljYXRl\n-----END CERTIFICATE-----\n',
  key: '-----BEGIN PRIVATE KEY-----\nZml4dHVyZSBwcml2YXRlIGtleQ==\n-----END PRIVATE KEY-----\n',
} as const;

/** A fixed client CA bundle. */
export const CLIENT_CA = '-----BEGIN CERTIFICATE-----\nZml4dHVyZSBjbGllbnQgQ0E=\n-----END CERTIFICATE-----\n';

/** A fixed gather token (the chart never parses it). */
export const GATHER_TOKEN = { token: 'fixture.gather.token', issuedAt: '2025-01-31T08:00:00Z', expiresAt: '2025-01-31T09:00:00Z' } as const;

/** The chart inputs of each platform profile, fixed. */
export const PROFILES = {
  openshift: { platform: 'openshift', cookieSecret: COOKIE_SECRET, clientCa: CLIENT_CA, gatherToken: GATHER_TOKEN },
  kubernetes: { platform: 'kubernetes', servingCertificate: SERVING_CERT, clientCa: CLIENT_CA, gatherToken: GATHER_TOKEN },
} as const;
