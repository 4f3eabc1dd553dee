/**
 * Pruning without a cluster: which owned objects are unwanted, and what deleting them sends and reports. The deletes
 * go to a recorder standing in for the client; test/integration/reconcile.test.ts prunes on the real API server.
 */
import { describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import { deleteObjects, ownedTypes, prune, removeReportObjects, unwanted } from './ownership.js';
import type { ObjectRef } from '../kube/resources.js';

const object = (kind: string, name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1', kind, metadata: { name, ...(kind === 'ClusterRoleBinding' ? {} : { namespace: 'ns' }), uid: `uid-${name}`, ...extra },
});

function recorder(fail?: (ref: ObjectRef) => KubeApiError | undefined) {
  const deletes: string[] = [];
  const client = {
    delete: async (ref: ObjectRef, options: { uid?: string }) => {
      deletes.push(`${ref.kind}/${ref.name} uid=${options.uid}`);
      const error = fail?.(ref);
      if (error) throw error;
      return true;
    },
  } as unknown as KubeClient;
  return { client, deletes };
}

describe('unwanted', () => {
  it('is what the report owns and no longer renders, by kind, namespace and name', () => {
    const owned = [object('ClusterRoleBinding', 'gather'), object('Service', 'must-gather'), object('ConfigMap', 'old'), object('Secret', 'must-gather')];
    const desired = [object('Service', 'must-gather'), object('Secret', 'must-gather'), { ...object('ConfigMap', 'old'), metadata: { name: 'old', namespace: 'elsewhere' } }];
    expect(unwanted(owned, desired).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ClusterRoleBinding/gather', 'ConfigMap/old']);
  });

  it('leaves out what is already being deleted', () => {
    expect(unwanted([object('Pod', 'p', { deletionTimestamp: '2026-11-25T12:00:00Z' })], [])).toEqual([]);
  });
});

describe('prune', () => {
  it('deletes each unwanted object only if it is still the same object, and reports each delete', async () => {
    const { client, deletes } = recorder();
    const seen: string[] = [];
    const entries = await prune(client, [object('ClusterRoleBinding', 'gather'), object('Service', 'must-gather')], [object('Service', 'must-gather')], {
      onWrite: (ref, before, after) => seen.push(`${ref.kind}/${ref.name} ${before?.metadata.uid} -> ${after === undefined ? 'gone' : 'still there'}`),
    });
    expect(entries).toEqual([{ ref: { kind: 'ClusterRoleBinding', name: 'gather' }, subject: 'ClusterRoleBinding/gather', action: 'deleted' }]);
    expect(deletes).toEqual(['ClusterRoleBinding/gather uid=uid-gather']);
    expect(seen).toEqual(['ClusterRoleBinding/gather uid-gather -> gone']);
  });

  it('costs nothing when nothing is unwanted', async () => {
    const { client, deletes } = recorder();
    expect(await prune(client, [object('Service', 'must-gather')], [object('Service', 'must-gather')])).toEqual([]);
    expect(deletes).toEqual([]);
  });

  it('names the object and the server\'s words when a delete is refused, and still reports the deletes that worked', async () => {
    const refusal = new KubeApiError('ClusterRoleBinding/gather', 403, 'Forbidden', 'admission webhook "deny.example.com" denied the request');
    const { client } = recorder((ref) => (ref.name === 'gather' ? refusal : undefined));
    const seen: string[] = [];
    const error = await deleteObjects(client, [object('ClusterRoleBinding', 'gather'), object('ConfigMap', 'old')], { onWrite: (ref) => seen.push(ref.name) })
      .catch((err: Error) => err);
    expect((error as Error).message).toBe('ClusterRoleBinding/gather: delete failed: admission webhook "deny.example.com" denied the request');
    expect((error as Error).cause).toBe(refusal);
    expect(seen).toEqual(['old']);
  });
});

describe('ownedTypes', () => {
  it('has a Route on OpenShift and an Ingress elsewhere, never both', () => {
    const kinds = (platform: 'openshift' | 'kubernetes') => ownedTypes(platform).map((type) => type.kind);
    expect(kinds('openshift')).toContain('Route');
    expect(kinds('openshift')).not.toContain('Ingress');
    expect(kinds('kubernetes')).toContain('Ingress');
    expect(kinds('kubernetes')).not.toContain('Route');
  });
});

describe('removeReportObjects', () => {
  it('deletes what the namespace does not take along, and the report\'s own namespace, until nothing is left', async () => {
    const { client, deletes } = recorder();
    const owned = [
      object('ClusterRoleBinding', 'gather'), object('Role', 'events'), object('RoleBinding', 'events'), object('Pod', 'must-gather'),
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'must-gather-x', uid: 'uid-ns' } },
    ];
    const first = await removeReportObjects(client, owned, 'must-gather-x');
    expect(first.done).toBe(false);
    expect(deletes).toEqual(['ClusterRoleBinding/gather uid=uid-gather', 'Role/events uid=uid-events', 'RoleBinding/events uid=uid-events', 'Namespace/must-gather-x uid=uid-ns']);
    expect(first.changes.every((c) => c.action === 'deleted')).toBe(true);
    expect((await removeReportObjects(client, [], 'must-gather-x')).done).toBe(true);
  });

  it('never deletes a namespace of another name, and waits for what is being deleted without deleting it again', async () => {
    const { client, deletes } = recorder();
    const going = object('ClusterRoleBinding', 'gather', { deletionTimestamp: '2026-11-25T12:00:00Z' });
    const result = await removeReportObjects(client, [going, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'users-own', uid: 'u' } }], 'must-gather-x');
    expect(deletes).toEqual([]);
    expect(result.done).toBe(false);
  });
});
