import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_GATHERING, DEFAULT_STORAGE_BUDGET } from '../constructs/operator-config.js';
import { OPERATOR_NAME } from '../constructs/install-chart.js';
import { EVENT_RECORDER_CLUSTER_ROLE } from '../constructs/report-identity.js';
import { renderInstall } from '../constructs/render.js';
import { parseMaxGathering, parseStorageBudget } from '../reconciler/admission.js';

type Any = any;

describe('InstallChart snapshots', () => {
  it('defaults', () => expect(renderInstall()).toMatchSnapshot());
  it('custom', () => {
    expect(renderInstall({
      operatorNamespace: 'mg-system',
      images: { operator: 'r.io/op:v1', oauthProxy: 'r.io/proxy:v2' },
      commonAnnotations: { 'include.release.openshift.io/self-managed-high-availability': 'true' },
      maxGathering: 2,
      storageBudget: '1Ti',
    })).toMatchSnapshot();
  });
});

describe('InstallChart invariants', () => {
  const objects = renderInstall() as Any[];
  const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === OPERATOR_NAME);

  it('grants no wildcard and binds only the three roles the report charts use', () => {
    for (const rule of role.rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
    }
    const bind = role.rules.filter((r: Any) => r.verbs.includes('bind') || r.verbs.includes('escalate'));
    expect(bind).toEqual([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['cluster-admin', 'system:auth-delegator', EVENT_RECORDER_CLUSTER_ROLE] }]);
    expect(role.rules.some((r: Any) => r.resources.includes('clusterroles') && r.verbs.includes('create'))).toBe(false);
    // No Role is made (earlier versions' are deleted): what the operator could put in one it could bind nowhere else.
    expect(role.rules.filter((r: Any) => r.resources.includes('roles')).flatMap((r: Any) => r.verbs)).toEqual(['get', 'list', 'watch', 'delete']);
    // The one it binds for reports' file servers: recording Events, nothing else.
    expect(objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === EVENT_RECORDER_CLUSTER_ROLE).rules).toEqual([{ apiGroups: [''], resources: ['events'], verbs: ['create'] }]);
  });

  it('runs the operator non-root, read-only, without privileges', () => {
    const deployment = objects.find((o) => o.kind === 'Deployment');
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(1);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.containers[0].args).toContain('--leader-elect');
    expect(pod.containers[0].livenessProbe.httpGet.path).toBe('/healthz');
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('writes the fleet\'s limits into the operator\'s arguments, defaults included, in words `mustgather run` takes', () => {
    const args = (props = {}) => (renderInstall(props) as Any[]).find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].args as string[];
    const limits = (list: string[]) => list.filter((a) => /^--(max-gathering|storage-budget)=/.test(a));
    expect(limits(args())).toEqual([`--max-gathering=${DEFAULT_MAX_GATHERING}`, `--storage-budget=${DEFAULT_STORAGE_BUDGET}`]);
    expect(limits(args({ maxGathering: 0, storageBudget: '0' }))).toEqual(['--max-gathering=0', '--storage-budget=0']);
    expect(parseMaxGathering(String(DEFAULT_MAX_GATHERING))).toBe(4);
    expect(parseStorageBudget(DEFAULT_STORAGE_BUDGET)).toBe(100 * 2 ** 30);
  });

  it('installs the report CRD', () => {
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name)).toEqual(['mustgatherreports.mustgather.openshift.io']);
  });
});
