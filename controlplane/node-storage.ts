/**
 * Storage for the local node: a StorageClass (the cluster default) and a small provisioner that gives each claim a
 * real filesystem of exactly the size asked for (a sparse file, ext4, loop-mounted), published as a `local`
 * PersistentVolume bound to that claim. A real size means a real "volume full"; a `local` volume honours `fsGroup`
 * (hostPath does not). When the claim goes, the volume is unmounted and its file deleted: nothing of it is kept.
 *
 * The claim waits for its first consumer (WaitForFirstConsumer), like a real local-volume class: the scheduler picks
 * the node and annotates the claim, then the provisioner creates the volume on that node.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseQuantity } from '../constructs/quantity.js';
import { Informer } from '../kube/informer.js';
import { isNotFound, type KubeClient, type KubeObject } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';
import { sh, trySh } from './host.js';

/** The StorageClass the provisioner serves; the cluster's default class. */
export const STORAGE_CLASS = 'mustgather-local';
const PROVISIONER = 'local.mustgather.dev/loop';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** Smallest filesystem made: ext4's own metadata needs room. */
const MIN_BYTES = 8 * 1024 * 1024;

const PVC: ResourceType = { kind: 'PersistentVolumeClaim', group: '', version: 'v1', plural: 'persistentvolumeclaims', namespaced: true };
const PV: ResourceType = { kind: 'PersistentVolume', group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false };

interface Claim extends KubeObject {
  spec: { storageClassName?: string; accessModes?: string[]; resources?: { requests?: { storage?: string } }; volumeName?: string };
  status?: { phase?: string };
}

interface Volume extends KubeObject {
  spec: { claimRef?: { namespace: string; name: string; uid: string } };
  status?: { phase?: string };
}

/** Options of {@link LocalVolumeProvisioner}. */
export interface ProvisionerOptions {
  /** The node whose claims it serves. */
  readonly nodeName: string;
  /** Where volume files and mount points live. */
  readonly dir: string;
  /** Progress and errors. */
  readonly log: (line: string) => void;
}

/** Creates and deletes loop-mounted `local` volumes for claims of {@link STORAGE_CLASS} on one node. */
export class LocalVolumeProvisioner {
  private readonly claims: Informer<Claim>;
  private readonly volumes: Informer<Volume>;
  /** One operation per volume at a time: events for the same claim arrive in bursts. */
  private readonly busy = new Map<string, Promise<void>>();

  constructor(private readonly client: KubeClient, private readonly opts: ProvisionerOptions) {
    const onError = (e: Error) => opts.log(`[storage] ${e.message}`);
    this.claims = new Informer<Claim>(client, PVC, { onError });
    this.volumes = new Informer<Volume>(client, PV, { onError });
    this.claims.addHandlers({ onAdd: (c) => this.onClaim(c), onUpdate: (_, c) => this.onClaim(c) });
    this.volumes.addHandlers({ onAdd: (v) => this.onVolume(v), onUpdate: (_, v) => this.onVolume(v) });
  }

  /** Creates the StorageClass and starts serving claims. */
  async start(): Promise<void> {
    await this.client.request('PATCH', `/apis/storage.k8s.io/v1/storageclasses/${STORAGE_CLASS}`, {
      body: {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: PROVISIONER,
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Delete',
      },
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'mustgather-node', force: true },
      subject: `StorageClass/${STORAGE_CLASS}`,
    });
    await mkdir(this.opts.dir, { recursive: true });
    this.claims.start();
    this.volumes.start();
    await Promise.all([this.claims.waitForSync(), this.volumes.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.claims.stop(), this.volumes.stop()]);
    await Promise.allSettled(this.busy.values());
  }

  private once(key: string, work: () => Promise<void>): void {
    if (this.busy.has(key)) return;
    const run = work()
      .catch((e: Error) => this.opts.log(`[storage] ${e.message}`))
      .finally(() => this.busy.delete(key));
    this.busy.set(key, run);
  }

  private onClaim(claim: Claim): void {
    const wanted = claim.spec.storageClassName === STORAGE_CLASS && claim.metadata.annotations?.[SELECTED_NODE] === this.opts.nodeName;
    if (!wanted || claim.spec.volumeName || claim.status?.phase !== 'Pending' || !claim.metadata.uid) return;
    const name = `pvc-${claim.metadata.uid}`;
    if (this.volumes.get(undefined, name)) return;
    this.once(name, () => this.provision(name, claim));
  }

  private onVolume(volume: Volume): void {
    const ours = volume.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] === PROVISIONER;
    const phase = volume.status?.phase;
    if (!ours || (phase !== 'Released' && phase !== 'Failed')) return;
    this.once(volume.metadata.name, () => this.release(volume.metadata.name));
  }

  private paths(name: string): { file: string; mount: string } {
    return { file: path.join(this.opts.dir, `${name}.img`), mount: path.join(this.opts.dir, name) };
  }

  private async provision(name: string, claim: Claim): Promise<void> {
    const subject = `PersistentVolumeClaim/${claim.metadata.namespace}/${claim.metadata.name}`;
    const requested = claim.spec.resources?.requests?.storage ?? '1Gi';
    const bytes = parseQuantity(requested);
    if (bytes === undefined) throw new Error(`${subject}: cannot read the requested size "${requested}"`);
    const size = Math.max(MIN_BYTES, Math.ceil(bytes / 4096) * 4096);
    const { file, mount } = this.paths(name);
    try {
      await sh('truncate', ['-s', String(size), file]);
      // No reserved blocks: the claim's size is what its pod can write.
      await sh('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1', '-L', name.slice(0, 16), file]);
      await mkdir(mount, { recursive: true });
      await sh('mount', ['-o', 'loop', file, mount]);
      await this.client.request('POST', '/api/v1/persistentvolumes', {
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
          spec: {
            capacity: { storage: String(size) },
            accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Delete',
            storageClassName: STORAGE_CLASS,
            volumeMode: 'Filesystem',
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
            local: { path: mount },
            nodeAffinity: {
              required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [this.opts.nodeName] }] }] },
            },
          },
        },
        subject: `PersistentVolume/${name}`,
      });
      this.opts.log(`[storage] ${subject}: provisioned ${name} (${size} bytes)`);
    } catch (err) {
      await this.wipe(name);
      throw new Error(`${subject}: provisioning ${name} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private async release(name: string): Promise<void> {
    await this.wipe(name);
    try {
      await this.client.request('DELETE', `/api/v1/persistentvolumes/${name}`, { subject: `PersistentVolume/${name}` });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.opts.log(`[storage] PersistentVolume/${name}: released, unmounted and wiped`);
  }

  /** Unmounts and deletes a volume's data. */
  private async wipe(name: string): Promise<void> {
    const { file, mount } = this.paths(name);
    if (!(await trySh('umount', [mount]))) await trySh('umount', ['-l', mount]);
    await rm(mount, { recursive: true, force: true });
    await rm(file, { force: true });
  }
}
