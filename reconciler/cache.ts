/**
 * What reconciles read instead of the API server: informers on the reports, on every kind the operator creates for
 * them (by its managed-by label), and on the cluster's client CA. And what this operator last wrote, per report
 * (controller-runtime's expectations): a cache that has not yet shown the operator's own write is stale, and a
 * reconcile that read it would create twice or write an outdated status, so the reconcile waits for the watch event
 * that shows the write instead (that event enqueues the report anyway).
 */
import type { Platform } from '../constructs/pod-contract.js';
import type { MustGatherReport } from '../constructs/report-api.js';
import { Informer, type InformerOptions } from '../kube/informer.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { OWNED_SELECTOR, ownedTypes, ownerKey, ownerUid } from './ownership.js';
import { type ObjectRef, refString, RESOURCES } from '../kube/resources.js';
import { parseReportKey, type ReportKey, reportKey } from './report-key.js';

/** Where the cluster publishes its client CA (what every aggregated API server reads). */
export const CLIENT_CA_SOURCE = { kind: 'ConfigMap', namespace: 'kube-system', name: 'extension-apiserver-authentication', key: 'client-ca-file' } as const;

/** The annotation kubectl apply leaves on objects: a whole copy of the object, never read here. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * An object as the cache keeps it: without what the operator never reads and the server repeats on every object
 * (managedFields, often half of it; kubectl's last-applied copy).
 */
export function stripUnread(object: KubeObject): KubeObject {
  const metadata = { ...object.metadata };
  delete metadata.managedFields;
  if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
    const { [LAST_APPLIED]: _lastApplied, ...annotations } = metadata.annotations;
    metadata.annotations = annotations;
  }
  return { ...object, metadata };
}

export interface ReportCacheOptions {
  readonly client: KubeClient;
  /** Which kinds reports own (Route or Ingress). @default 'openshift' */
  readonly platform?: Platform;
  /** Namespaces whose reports are watched. @default all namespaces */
  readonly namespaces?: readonly string[];
  /** Options of every informer (watch timeout, error reporting). @default INFORMER_DEFAULTS */
  readonly informer?: Pick<InformerOptions, 'watchTimeoutSeconds' | 'onError'>;
  /**
   * How long a write may go unseen by the caches before they are trusted again anyway (a write whose object left the
   * watched selection never shows). controller-runtime's ExpectationsTimeout.
   * @default 300_000
   */
  readonly expectationTimeoutMs?: number;
}

/** Writes of this operator the cache has not shown yet: the cache is stale while it shows a version they replaced. */
interface Expectation {
  readonly ref: ObjectRef;
  /** The resourceVersions the writes were made on (undefined: absent), the last write's result being none of them. */
  readonly replaced: ReadonlySet<string | undefined>;
  /** The uid of the object the last write left (undefined: it deleted), to tell it came and went already. */
  readonly uid: string | undefined;
  readonly expiresAt: number;
}

export class ReportCache {
  private readonly reportInformers: Informer<MustGatherReport & KubeObject>[];
  /** The informer of each owned kind (and Namespace). */
  private readonly ownedInformers = new Map<string, Informer>();
  private readonly clientCaInformer: Informer;
  private readonly watched: Set<string | undefined>;
  private readonly expectationTimeoutMs: number;
  /** Unseen writes by report key, then by `Kind/namespace/name`. */
  private readonly expectations = new Map<string, Map<string, Expectation>>();
  /**
   * The uid of the last object of each `Kind/namespace/name` the caches saw deleted, and when: a cache showing an
   * object absent again after the operator created it has shown the create (and someone's delete since: the token
   * controller deletes a token Secret whose service account it does not find yet), even when the create's answer
   * came after both events. Kept for the expectation timeout.
   */
  private readonly tombstones = new Map<string, { readonly uid: string; readonly at: number }>();
  private lastTombstoneSweep = Date.now();

  constructor(options: ReportCacheOptions) {
    const { client } = options;
    const base: InformerOptions = { ...options.informer, transform: stripUnread };
    const namespaces = options.namespaces?.length ? options.namespaces : [undefined];
    this.watched = new Set(namespaces);
    this.expectationTimeoutMs = options.expectationTimeoutMs ?? 300_000;
    this.reportInformers = namespaces.map((namespace) => new Informer<MustGatherReport & KubeObject>(client, RESOURCES.MustGatherReport, { ...base, ...(namespace ? { namespace } : {}) }));
    for (const type of [RESOURCES.Namespace, ...ownedTypes(options.platform ?? 'openshift')]) {
      this.ownedInformers.set(type.kind, new Informer(client, type, {
        // Compact: a report owns a dozen objects, read a few at a time; at a thousand reports their JSON text takes a
        // fraction of what the parsed objects would.
        ...base, labelSelector: OWNED_SELECTOR, indexBy: ownerUid, compact: true,
      }));
    }
    for (const informer of this.reportInformers) informer.addHandlers({ onDelete: (object) => this.buried(RESOURCES.MustGatherReport.kind, object) });
    for (const [kind, informer] of this.ownedInformers) informer.addHandlers({ onDelete: (object) => this.buried(kind, object) });
    this.clientCaInformer = new Informer(client, RESOURCES.ConfigMap, { ...base, namespace: CLIENT_CA_SOURCE.namespace, fieldSelector: `metadata.name=${CLIENT_CA_SOURCE.name}` });
  }

  private informers(): Informer[] {
    return [...this.reportInformers, ...this.ownedInformers.values(), this.clientCaInformer] as Informer[];
  }

  /**
   * Calls `enqueue` with the report key of every change: a report's own, an owned object's (by its report
   * annotation), and every report's when the client CA changes (each report's file server trusts it).
   */
  onChange(enqueue: (key: ReportKey, source: 'report' | 'owned') => void): void {
    for (const informer of this.reportInformers) informer.addHandlers({ onEvent: (event) => enqueue(reportKey(event.object), 'report') });
    for (const informer of this.ownedInformers.values()) {
      informer.addHandlers({
        onEvent: (event) => {
          const key = ownerKey(event.object);
          if (key && (this.watched.has(undefined) || this.watched.has(parseReportKey(key)!.namespace))) enqueue(key, 'owned');
        },
      });
    }
    this.clientCaInformer.addHandlers({ onEvent: () => this.reports().forEach((report) => enqueue(reportKey(report), 'owned')) });
  }

  start(): void {
    for (const informer of this.informers()) informer.start();
  }

  /** Resolves once every informer has listed. */
  async waitForSync(): Promise<void> {
    await Promise.all(this.informers().map((informer) => informer.waitForSync()));
  }

  /** How many informers have not listed yet. */
  unsynced(): number {
    return this.informers().filter((informer) => !informer.hasSynced()).length;
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((informer) => informer.stop()));
  }

  reports(): (MustGatherReport & KubeObject)[] {
    return this.reportInformers.flatMap((informer) => informer.list());
  }

  /** The cached object; undefined when absent (or of a kind the cache does not hold). */
  get<T = KubeObject>(ref: ObjectRef): T | undefined {
    return this.first(ref, (informer) => informer.get(ref.namespace, ref.name)) as T | undefined;
  }

  /** Whether the object is cached, and at which resourceVersion, without reading (parsing) it. */
  private version(ref: ObjectRef): { readonly resourceVersion: string | undefined } | undefined {
    return this.first(ref, (informer) => informer.resourceVersionOf(ref.namespace, ref.name));
  }

  /** The first answer of the informers that may hold `ref` (reports: one per watched namespace). */
  private first<R>(ref: ObjectRef, read: (informer: Informer) => R | undefined): R | undefined {
    const informers = ref.kind === RESOURCES.MustGatherReport.kind ? this.reportInformers : [this.ownedInformers.get(ref.kind)];
    for (const informer of informers) {
      const found = informer && read(informer as Informer);
      if (found) return found;
    }
    return undefined;
  }

  /** Every cached object labelled as the report's with `uid`, of every owned kind. */
  ownedBy(uid: string): KubeObject[] {
    return [...this.ownedInformers.values()].flatMap((informer) => informer.byIndex(uid));
  }

  /** Whether anything labelled as the report's with `uid` is cached (cheaper than {@link ownedBy}: nothing is read). */
  ownsAnything(uid: string): boolean {
    return [...this.ownedInformers.values()].some((informer) => informer.hasIndex(uid));
  }

  /** The cluster's client CA bundle; '' when the cluster publishes none (then the file server takes bearer tokens only). */
  clientCa(): string {
    const configMap = this.clientCaInformer.get(CLIENT_CA_SOURCE.namespace, CLIENT_CA_SOURCE.name) as { data?: Record<string, string> } | undefined;
    return configMap?.data?.[CLIENT_CA_SOURCE.key] ?? '';
  }

  /**
   * Records a write made for the report `key`: `before` is the state it was decided on (undefined: absent), `after`
   * what the server answered (undefined: deleted). While the cache still shows `before`, or what an earlier write
   * not yet shown was made on, reads of that object are stale. (Not "until it shows `after`": a later write by
   * someone else, the token controller filling a Secret say, may come first, and resourceVersions are not to be
   * ordered.)
   */
  wrote(key: string, ref: ObjectRef, before: KubeObject | undefined, after: KubeObject | undefined): void {
    if (before?.metadata.resourceVersion === after?.metadata.resourceVersion) return; // the write changed nothing
    const subject = refString(ref);
    const expectations = this.expectations.get(key) ?? new Map<string, Expectation>();
    // A second write before the cache showed the first (a finalizer, then the status): the first's result is stale too.
    const pending = expectations.get(subject);
    const replaced = new Set(pending && this.isPending(pending, Date.now()) ? pending.replaced : []).add(before?.metadata.resourceVersion);
    expectations.set(subject, { ref, replaced, uid: after?.metadata.uid, expiresAt: Date.now() + this.expectationTimeoutMs });
    this.expectations.set(key, expectations);
  }

  /** The objects of report `key` whose cached state predates this operator's last write to them (forgetting the rest). */
  stale(key: string): string[] {
    const expectations = this.expectations.get(key);
    if (!expectations) return [];
    const now = Date.now();
    for (const [subject, expectation] of expectations) if (!this.isPending(expectation, now)) expectations.delete(subject);
    if (expectations.size === 0) this.expectations.delete(key);
    return [...expectations.keys()];
  }

  /** Forgets the writes of a report that is gone. */
  forget(key: string): void {
    this.expectations.delete(key);
  }

  private isPending(expectation: Expectation, now: number): boolean {
    if (now >= expectation.expiresAt) return false;
    // Every reconcile asks this of each write not yet seen: the version alone, not the object, is read.
    const cached = this.version(expectation.ref);
    if (!expectation.replaced.has(cached?.resourceVersion)) return false;
    // Absent as before a create, but the created object may have come and gone already: no event would ever follow.
    return cached !== undefined || expectation.uid === undefined || this.tombstones.get(refString(expectation.ref))?.uid !== expectation.uid;
  }

  /** Records that the caches saw `object` of `kind` deleted. */
  private buried(kind: string, object: KubeObject): void {
    const now = Date.now();
    if (now - this.lastTombstoneSweep > this.expectationTimeoutMs) {
      for (const [subject, tombstone] of this.tombstones) if (now - tombstone.at > this.expectationTimeoutMs) this.tombstones.delete(subject);
      this.lastTombstoneSweep = now;
    }
    const { uid, name, namespace } = object.metadata;
    if (uid) this.tombstones.set(refString({ kind, name, ...(namespace ? { namespace } : {}) }), { uid, at: now });
  }
}
