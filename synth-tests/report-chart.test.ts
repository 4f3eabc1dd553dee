import { describe, expect, it } from 'vitest';
import { renderReport, type Manifest } from '../constructs/render.js';
import { COOKIE_SECRET, report, REPORTS } from './fixtures.js';

const IMAGES = { operator: 'registry.example.com/mustgather/operator:v1', oauthProxy: 'registry.example.com/openshift/oauth-proxy:v4' };

describe('ReportChart snapshots', () => {
  it('defaults', () => {
    expect(renderReport(REPORTS.minimal!, { cookieSecret: COOKIE_SECRET })).toMatchSnapshot();
  });

  it('custom', () => {
    expect(renderReport(REPORTS.everyOption!, { cookieSecret: COOKIE_SECRET, images: IMAGES })).toMatchSnapshot();
  });
});

describe('ReportChart contents', () => {
  const manifests = renderReport(REPORTS.twoImages!, { cookieSecret: COOKIE_SECRET });
  const kinds = manifests.map((m) => m.kind);

  it('renders every object a report needs', () => {
    expect(kinds.sort()).toEqual([
      'ClusterRoleBinding', 'ClusterRoleBinding', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'Pod', 'Route',
      'Secret', 'Secret', 'Service', 'ServiceAccount', 'ServiceAccount',
    ]);
  });

  it('is pure: the same report renders the same manifests', () => {
    expect(renderReport(REPORTS.twoImages!, { cookieSecret: COOKIE_SECRET })).toEqual(manifests);
  });

  it('renders the spec into the gather environment', () => {
    const pod = renderReport(REPORTS.everyOption!, { cookieSecret: COOKIE_SECRET }).find((m) => m.kind === 'Pod') as Manifest & { spec: any };
    const env = Object.fromEntries(pod.spec.initContainers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ MUST_GATHER_TIMEOUT_SECONDS: '5400', MUST_GATHER_SINCE: '30m', MUST_GATHER_VOLUME_PERCENTAGE: '85', MUST_GATHER_INDEX: '1' });
    const pvc = renderReport(REPORTS.everyOption!, { cookieSecret: COOKIE_SECRET }).find((m) => m.kind === 'PersistentVolumeClaim') as any;
    expect(pvc.spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } });
  });

  it('omits MUST_GATHER_SINCE and the storage class when unset', () => {
    const pod = manifests.find((m) => m.kind === 'Pod') as any;
    expect(pod.spec.initContainers[0].env.map((e: any) => e.name)).not.toContain('MUST_GATHER_SINCE');
    expect((manifests.find((m) => m.kind === 'PersistentVolumeClaim') as any).spec.storageClassName).toBeUndefined();
  });

  it('gives two reports that differ only by uid different namespaces', () => {
    const a = renderReport(report({ images: ['x'] }, { uid: 'a' }), { cookieSecret: COOKIE_SECRET })[0]!;
    const b = renderReport(report({ images: ['x'] }, { uid: 'b' }), { cookieSecret: COOKIE_SECRET })[0]!;
    expect(a.metadata.name).not.toEqual(b.metadata.name);
  });
});
