/**
 * A cache of one resource type kept current by list-then-watch, like client-go's shared informer: handlers see
 * adds, updates and deletes; the cache answers reads without API calls. Watches end all the time (server timeouts,
 * compaction, dropped connections, a load balancer that silently stops forwarding); every one of those ends in a
 * resumed watch or a re-list, never in a crashed process or a cache that quietly stops changing.
 */
import { isGone, type KubeClient, type KubeObject, type WatchEvent } from './client.js';
import type { ResourceType } from './resources.js';
import { exponentialDelay, jittered, sleep } from './backoff.js';
import { type PackedJson, packJson, unpackJson } from './packed-json.js';

export interface InformerHandlers<T extends KubeObject = KubeObject> {
  onAdd?(object: T): void;
  onUpdate?(oldObject: T, newObject: T): void;
  /** `object` is the last state the informer saw (after a re-list, possibly not the final one). */
  onDelete?(object: T): void;
  /** Every change in one place (what a controller that only enqueues keys wants). */
  onEvent?(event: InformerEvent<T>): void;
}

export type InformerEvent<T> =
  | { readonly type: 'add'; readonly object: T }
  | { readonly type: 'update'; readonly object: T; readonly oldObject: T }
  | { readonly type: 'delete'; readonly object: T };

export interface InformerOptions {
  /** Only objects in this namespace. @default all namespaces */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * Applied to every object before it is cached and handed to handlers: what the cache keeps (drop what is never
   * read; managedFields alone is often half an object).
   * @default - objects are kept as the server sent them
   */
  readonly transform?: (object: KubeObject) => KubeObject;
  /**
   * The value an object is indexed under, for {@link Informer.byIndex} (client-go's Indexer, with one index).
   * @default - no index
   */
  readonly indexBy?: (object: KubeObject) => string | undefined;
  /**
   * Keep each object as its JSON text, deflated, and inflate and parse it when it is read: several times less memory
   * than the object itself (the text alone, a third more), for the many objects a controller holds and reads a few
   * at a time (reads return a fresh copy each time; tens of microseconds each).
   * @default false
   */
  readonly compact?: boolean;
  /** The server ends each watch after this long; the informer resumes from the last resourceVersion. @default 300 */
  readonly watchTimeoutSeconds?: number;
  /** Restart a watch that delivered nothing (no event, no bookmark) for this long. @default 2 × watchTimeoutSeconds */
  readonly stallTimeoutMs?: number;
  /** First delay before retrying a failed list or watch; doubles per consecutive failure, with jitter. @default 500 */
  readonly initialBackoffMs?: number;
  /** @default 30_000 */
  readonly maxBackoffMs?: number;
  /** Every failure, with the informer's subject; the informer retries by itself. @default console.error */
  readonly onError?: (error: Error) => void;
}

export const INFORMER_DEFAULTS = {
  watchTimeoutSeconds: 300,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
} as const;

/** The cache key of an object: `namespace/name`, or `name` for a cluster-scoped one (client-go's key). */
export function objectKey(object: { metadata: { name: string; namespace?: string } }): string {
  return object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
}

/** How the cache holds an object: itself, or (compact) its deflated JSON; with what the informer reads without parsing. */
interface Stored<T> {
  readonly object?: T;
  readonly packed?: PackedJson<T>;
  readonly resourceVersion: string | undefined;
  /** Its `indexBy` value. */
  readonly index: string | undefined;
}

/** Why a watch ended without an error. */
type WatchEnd = 'closed' | 'stalled' | 'stopped';

export class Informer<T extends KubeObject = KubeObject> {
  private readonly subject: string;
  private readonly watchTimeoutSeconds: number;
  private readonly stallTimeoutMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly reportError: (error: Error) => void;
  private readonly handlers: InformerHandlers<T>[] = [];
  private cache = new Map<string, Stored<T>>();
  /** Cache keys by `indexBy` value. */
  private index = new Map<string, Set<string>>();
  private resourceVersion: string | undefined;
  private synced = false;
  private readonly syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly type: ResourceType,
    private readonly options: InformerOptions = {},
  ) {
    const where = options.namespace ? ` in ${options.namespace}` : '';
    const selector = options.labelSelector ? ` (${options.labelSelector})` : '';
    this.subject = `informer ${type.plural}${where}${selector}`;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? INFORMER_DEFAULTS.watchTimeoutSeconds;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 2 * this.watchTimeoutSeconds * 1000;
    this.initialBackoffMs = options.initialBackoffMs ?? INFORMER_DEFAULTS.initialBackoffMs;
    this.maxBackoffMs = options.maxBackoffMs ?? INFORMER_DEFAULTS.maxBackoffMs;
    this.reportError = options.onError ?? ((error) => console.error(error));
  }

  /** Adds handlers; objects already in the cache are replayed to them as adds. */
  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
    for (const stored of this.cache.values()) this.dispatch({ type: 'add', object: this.load(stored) }, [handlers]);
  }

  /** Lists, then watches until `stop()`. */
  start(): void {
    if (this.loop) throw new Error(`${this.subject}: already started`);
    this.loop = this.run();
  }

  /** Ends the watch, cancels retries, and resolves once nothing of the informer is left running. */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(new Error(`${this.subject}: stopped before the first list`));
    await this.loop;
  }

  /** Whether the first list has filled the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first list; rejects if the informer stops first. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.stopping.signal.aborted) return Promise.reject(new Error(`${this.subject}: stopped before the first list`));
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  /** The cached object; `namespace` is ignored for cluster-scoped types. */
  get(namespace: string | undefined, name: string): T | undefined {
    const stored = this.stored(namespace, name);
    return stored && this.load(stored);
  }

  /** The cached object's resourceVersion (undefined: absent), without reading the object. */
  resourceVersionOf(namespace: string | undefined, name: string): { readonly resourceVersion: string | undefined } | undefined {
    const stored = this.stored(namespace, name);
    return stored && { resourceVersion: stored.resourceVersion };
  }

  private stored(namespace: string | undefined, name: string): Stored<T> | undefined {
    return this.cache.get(this.type.namespaced && namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()].map((stored) => this.load(stored));
  }

  /** The cached objects whose `indexBy` value is `value`. */
  byIndex(value: string): T[] {
    return [...this.index.get(value) ?? []].map((key) => this.load(this.cache.get(key)!));
  }

  /** Whether any cached object is indexed under `value` (without reading, or parsing, one). */
  hasIndex(value: string): boolean {
    return this.index.has(value);
  }

  private store(object: T): Stored<T> {
    const { resourceVersion } = object.metadata;
    const index = this.options.indexBy?.(object);
    if (!this.options.compact) return { object, resourceVersion, index };
    return { packed: packJson(object), resourceVersion, index };
  }

  private load(stored: Stored<T>): T {
    return stored.object ?? unpackJson(stored.packed!);
  }

  private indexed(key: string, stored: Stored<T> | undefined, old: Stored<T> | undefined): void {
    const before = old?.index;
    const after = stored?.index;
    if (before === after) return;
    if (before !== undefined) {
      const keys = this.index.get(before);
      keys?.delete(key);
      if (keys?.size === 0) this.index.delete(before);
    }
    if (after !== undefined) this.index.set(after, (this.index.get(after) ?? new Set()).add(key));
  }

  private selectors(): { namespace?: string; labelSelector?: string; fieldSelector?: string } {
    const { namespace, labelSelector, fieldSelector } = this.options;
    return { ...(namespace ? { namespace } : {}), ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        const started = performance.now();
        const { end, events } = await this.watch(this.resourceVersion!);
        if (end === 'stopped') return;
        if (end === 'stalled') throw new Error(`watch silent for ${this.stallTimeoutMs} ms (no event, no bookmark)`);
        // A watch that the server ends early without a word (a misbehaving proxy) must not become a busy loop.
        if (events === 0 && performance.now() - started < (this.watchTimeoutSeconds * 1000) / 2) throw new Error('watch ended early without events');
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (isGone(error)) {
          // The resourceVersion was compacted away: only a fresh list can tell what changed meanwhile.
          this.resourceVersion = undefined;
          this.report(`resourceVersion too old; re-listing`, error);
          continue;
        }
        const delay = jittered(exponentialDelay(failures++, this.initialBackoffMs, this.maxBackoffMs));
        this.report(`${error instanceof Error ? error.message : String(error)}; retrying in ${Math.round(delay)} ms`, error);
        await sleep(delay, signal);
      }
    }
  }

  /** Replaces the cache with a fresh list, emitting what changed since the cache was last current. */
  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list<T>(this.type, { ...this.selectors(), each: (item) => this.transformed(item) });
    if (this.stopping.signal.aborted) return;
    const previous = this.cache;
    this.cache = new Map(items.map((item) => [objectKey(item), this.store(item)]));
    this.index = new Map();
    for (const [key, stored] of this.cache) this.indexed(key, stored, undefined);
    this.resourceVersion = resourceVersion;
    for (const object of items) {
      const old = previous.get(objectKey(object));
      if (!old) this.dispatch({ type: 'add', object });
      else if (old.resourceVersion !== object.metadata.resourceVersion) this.dispatch(this.update(object, old));
    }
    for (const [key, old] of previous) if (!this.cache.has(key)) this.dispatch({ type: 'delete', object: this.load(old) });
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
  }

  /** One watch, until the server ends it, the watchdog fires or the informer stops. */
  private async watch(resourceVersion: string): Promise<{ end: WatchEnd; events: number }> {
    const stall = new AbortController();
    // `any` is aborted from the start when stop() came first (between the list and this watch, say).
    const signal = AbortSignal.any([this.stopping.signal, stall.signal]);
    let watchdog: NodeJS.Timeout | undefined;
    const feedWatchdog = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => stall.abort(), this.stallTimeoutMs);
    };
    let events = 0;
    feedWatchdog();
    try {
      await this.client.watch(
        this.type,
        {
          resourceVersion,
          timeoutSeconds: this.watchTimeoutSeconds,
          signal,
          ...this.selectors(),
        },
        (event) => {
          events++;
          feedWatchdog();
          this.apply(event);
        },
      );
    } catch (error) {
      // An abort while connecting rejects instead of resolving.
      if (!signal.aborted) throw error;
    } finally {
      clearTimeout(watchdog);
    }
    return { end: this.stopping.signal.aborted ? 'stopped' : stall.signal.aborted ? 'stalled' : 'closed', events };
  }

  private transformed(object: KubeObject): T {
    return (this.options.transform ? this.options.transform(object) : object) as T;
  }

  private apply(event: WatchEvent): void {
    if (event.object.metadata?.resourceVersion) this.resourceVersion = event.object.metadata.resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const object = this.transformed(event.object);
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.indexed(key, undefined, old);
      this.dispatch({ type: 'delete', object });
      return;
    }
    const stored = this.store(object);
    this.cache.set(key, stored);
    this.indexed(key, stored, old);
    // After a resume, an ADDED can be an object the cache already has, and a MODIFIED one it does not.
    this.dispatch(old ? this.update(object, old) : { type: 'add', object });
  }

  /** An update event whose old object is read (parsed, when compact) only if a handler asks for it. */
  private update(object: T, old: Stored<T>): InformerEvent<T> {
    const load = () => this.load(old);
    let oldObject: T | undefined;
    return { type: 'update', object, get oldObject() { return (oldObject ??= load()); } };
  }

  private dispatch(event: InformerEvent<T>, handlers: InformerHandlers<T>[] = this.handlers): void {
    for (const handler of handlers) {
      try {
        handler.onEvent?.(event);
        if (event.type === 'add') handler.onAdd?.(event.object);
        else if (event.type === 'update') handler.onUpdate?.(event.oldObject, event.object);
        else handler.onDelete?.(event.object);
      } catch (error) {
        this.report(`${event.type} handler failed for ${objectKey(event.object)}`, error);
      }
    }
  }

  private report(message: string, cause: unknown): void {
    try {
      this.reportError(new Error(`${this.subject}: ${message}`, { cause }));
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }
}
