import { describe, expect, it } from 'vitest';
import { clusterOperatorStatus, DEGRADED_AFTER_FAILURES, type OperatorHealth } from './cluster-operator.js';

const now = new Date('2026-11-25T12:00:00Z');
const healthy: OperatorHealth = { synced: true, failing: [], reportNamespaces: ['must-gather-b', 'must-gather-a', 'must-gather-a'] };
const status = (health: OperatorHealth, previous?: ReturnType<typeof clusterOperatorStatus>) =>
  clusterOperatorStatus({ version: '4.21.0', operatorNamespace: 'openshift-must-gather-operator', health, now, ...(previous ? { previous } : {}) });
const conditions = (s: ReturnType<typeof clusterOperatorStatus>) => Object.fromEntries(s.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('clusterOperatorStatus', () => {
  it('is Available, not Progressing, not Degraded when synced and every report reconciles', () => {
    const s = status(healthy);
    expect(conditions(s)).toEqual({ Available: 'True/AsExpected', Progressing: 'False/AsExpected', Degraded: 'False/AsExpected', Upgradeable: 'True/AsExpected' });
    expect(s.versions).toEqual([{ name: 'operator', version: '4.21.0' }]);
    expect(s.relatedObjects).toEqual([
      { group: '', resource: 'namespaces', name: 'openshift-must-gather-operator' },
      { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'mustgatherreports.mustgather.openshift.io' },
      { group: 'mustgather.openshift.io', resource: 'mustgatherreports', name: '' },
      { group: '', resource: 'namespaces', name: 'must-gather-a' },
      { group: '', resource: 'namespaces', name: 'must-gather-b' },
    ]);
  });

  it('is Progressing and reports no version until its watches have listed', () => {
    const s = status({ ...healthy, synced: false });
    expect(conditions(s)).toMatchObject({ Available: 'False/Starting', Progressing: 'True/Starting' });
    expect(s.versions).toBeUndefined();
  });

  it('is Degraded only once a report keeps failing, naming it', () => {
    const once = status({ ...healthy, failing: [{ key: 'ns/r', failures: 1, message: 'blip' }] });
    expect(conditions(once).Degraded).toBe('False/AsExpected');
    const persistent = status({ ...healthy, failing: [{ key: 'ns/r', failures: DEGRADED_AFTER_FAILURES, message: 'Route/x/y: apply failed: 404' }] });
    const degraded = persistent.conditions.find((c) => c.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'ReconcileFailing' });
    expect(degraded.message).toContain('ns/r: Route/x/y: apply failed: 404');
  });

  it('says what the fleet holds against its limits, and a line of waiting reports is not Degraded', () => {
    const fleet = { gathering: 4, queued: 12, storageBytes: 50 * 2 ** 30, maxGathering: 4, storageBudgetBytes: 100 * 2 ** 30 };
    const s = status({ ...healthy, fleet });
    expect(s.conditions.find((c) => c.type === 'Available')?.message).toBe(
      'Reconciling MustGatherReports (3 live; 4 gathering (at most 4), 12 queued; volumes 50.0 GiB of the 100.0 GiB budget).',
    );
    expect(conditions(s)).toMatchObject({ Available: 'True/AsExpected', Progressing: 'False/AsExpected', Degraded: 'False/AsExpected' });
    const unlimited = status({ ...healthy, fleet: { ...fleet, queued: 0, maxGathering: 0, storageBudgetBytes: 0 } });
    expect(unlimited.conditions[0]!.message).toBe('Reconciling MustGatherReports (3 live; 4 gathering, 0 queued; volumes 50.0 GiB).');
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = status(healthy);
    const later = clusterOperatorStatus({ version: '4.21.0', operatorNamespace: 'x', health: { ...healthy, reportNamespaces: [] }, now: new Date('2026-11-25T13:00:00Z'), previous: first });
    expect(later.conditions[0]!.lastTransitionTime).toBe(first.conditions[0]!.lastTransitionTime);
  });
});
