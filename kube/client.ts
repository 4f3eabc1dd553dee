/**
 * A small JSON client for the Kubernetes API, authenticated by a {@link ClusterAccess} (or @kubernetes/client-node's
 * KubeConfig, which handles every kind of credential). Raw JSON in and out: the generated clients convert objects through typed models, which turns
 * timestamps into Dates and can drop fields newer than the model, and that breaks comparing desired with live state.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { type ClusterAccess, kubeConfigAccess } from './cluster-access.js';
import { collectionPath, groupVersionPath, objectPath, type ObjectRef, refOf, refString, type ResourceType } from './resources.js';

/** Objects per page of a list (client-go's default). */
export const LIST_PAGE_SIZE = 500;

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** An error the API server answered with (its Status object), naming the subject of the request. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly subject: string,
    readonly statusCode: number,
    readonly reason: string,
    readonly apiMessage: string,
  ) {
    super(`${subject}: ${apiMessage || reason || `HTTP ${statusCode}`}`);
  }
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.statusCode === 409;
export const isGone = (err: unknown) => err instanceof KubeApiError && err.statusCode === 410;

export interface RequestOptions {
  /** JSON body. */
  readonly body?: unknown;
  /** Content type of the body. @default 'application/json' */
  readonly contentType?: string;
  /** Query parameters; undefined values are left out. */
  readonly query?: Record<string, string | number | boolean | undefined>;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /** Names the subject in errors. @default the method and path */
  readonly subject?: string;
  /**
   * A response that stays open (a watch): it gets a connection outside the pool that requests share, so that watches
   * (one per informer, open for minutes) can never take every pooled connection and stall every other request.
   * @default false
   */
  readonly streaming?: boolean;
}

/** What every call takes. */
export interface CallOptions {
  /** Aborts the request (a shutdown, a deadline); the call rejects unless it says otherwise. @default - never */
  readonly signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface ApplyOptions extends CallOptions {
  /** Field manager of server-side apply. */
  readonly fieldManager: string;
  /** Take fields owned by other managers (what a controller wants for its own objects). @default true */
  readonly force?: boolean;
  /** Only validate and return the result. @default false */
  readonly dryRun?: boolean;
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string;
  /** Server closes the watch after this long; the informer then resumes. @default 300 */
  readonly timeoutSeconds?: number;
  readonly signal?: AbortSignal;
}

/** Counts requests by verb, for tests and metrics. */
export type RequestObserver = (method: string, path: string, statusCode: number) => void;

export class KubeClient {
  private readonly server: URL;
  private readonly agent: http.Agent;
  /** Keep-alive without a limit: one connection per open watch. */
  private readonly streamingAgent: http.Agent;
  private observers: RequestObserver[] = [];

  private readonly access: ClusterAccess;

  constructor(access: ClusterAccess | KubeConfig) {
    this.access = 'applyTo' in access ? access : kubeConfigAccess(access);
    this.server = new URL(this.access.server);
    const isHttps = this.server.protocol === 'https:';
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.streamingAgent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** Calls `observer` after every request. */
  observe(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
    this.streamingAgent.destroy();
  }

  private async open(method: string, path: string, options: RequestOptions): Promise<http.IncomingMessage> {
    const url = new URL(path, this.server);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const requestOptions: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: `${url.pathname}${url.search}`,
      agent: options.streaming ? this.streamingAgent : this.agent,
      headers: {
        Accept: 'application/json',
        'User-Agent': 'mustgather-operator',
        ...(body ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const credentials = this.access.applyTo(requestOptions);
    if (credentials) await credentials; // only when they need it: otherwise the request leaves in this very turn
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(requestOptions, (response) => {
        for (const observer of this.observers) observer(method, url.pathname, response.statusCode ?? 0);
        resolve(response);
      });
      request.on('error', (err) => reject(new Error(`${options.subject ?? `${method} ${url.pathname}`}: ${err.message}`, { cause: err })));
      request.end(body);
    });
  }

  /** One request; a non-2xx answer becomes a KubeApiError. */
  async request<T = KubeObject>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.open(method, path, options);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await apiError(options.subject ?? `${method} ${path}`, response);
    const text = await readBody(response);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * The resources the API server serves in `type`'s group version (its discovery document): none when it does not
   * serve that group version at all, as OpenShift's and OLM's on plain Kubernetes, which is an answer, not an error.
   */
  async servedResources(type: ResourceType, options: CallOptions = {}): Promise<Set<string>> {
    const path = groupVersionPath(type);
    try {
      const list = await this.request<{ resources?: { name: string }[] }>('GET', path, { subject: `discovery of ${path.replace(/^\/apis?\//, '')}`, ...signalOf(options) });
      return new Set((list.resources ?? []).map((r) => r.name));
    } catch (err) {
      if (isNotFound(err)) return new Set();
      throw err;
    }
  }

  /** Whether the API server serves `type` (see {@link servedResources}). */
  async serves(type: ResourceType, options: CallOptions = {}): Promise<boolean> {
    return (await this.servedResources(type, options)).has(type.plural);
  }

  /** The object, or undefined when it does not exist. */
  async get<T = KubeObject>(ref: ObjectRef, options: CallOptions = {}): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', objectPath(ref), { subject: refString(ref), ...signalOf(options) });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Every object of a collection, in pages of `pageSize` (client-go's pager): the response of a list of thousands is
   * never held, as text and parsed, all at once, and `each` may keep less of an item than the server sent.
   */
  async list<T = KubeObject>(type: ResourceType, options: ListOptions & { pageSize?: number; each?: (item: KubeObject) => T } = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    const each = options.each ?? ((item: KubeObject) => item as T);
    let continueToken: string | undefined;
    for (;;) {
      const page = await this.request<{ items: KubeObject[]; metadata: { resourceVersion: string; continue?: string } }>('GET', collectionPath(type, options.namespace), {
        query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: options.pageSize ?? LIST_PAGE_SIZE, continue: continueToken },
        ...(options.signal ? { signal: options.signal } : {}),
        subject: `list ${type.plural}${options.namespace ? ` in ${options.namespace}` : ''}`,
      });
      for (const item of page.items) items.push(each({ ...item, apiVersion: apiVersionOf(type), kind: type.kind }));
      continueToken = page.metadata.continue || undefined;
      // The pages are one consistent snapshot: the last one's resourceVersion is the snapshot's.
      if (!continueToken) return { items, resourceVersion: page.metadata.resourceVersion };
    }
  }

  /** Server-side apply. The JSON body is valid YAML, so it goes as `application/apply-patch+yaml`. */
  async apply<T = KubeObject>(object: KubeObject, options: ApplyOptions): Promise<T> {
    const ref = refOf(object);
    return this.request<T>('PATCH', objectPath(ref), {
      body: object,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: options.fieldManager, force: options.force ?? true, dryRun: options.dryRun ? 'All' : undefined },
      subject: refString(ref), ...signalOf(options),
    });
  }

  async create<T = KubeObject>(object: KubeObject, options: CallOptions & { fieldManager?: string } = {}): Promise<T> {
    const ref = refOf(object);
    const path = objectPath(ref);
    return this.request<T>('POST', path.slice(0, path.lastIndexOf('/')), { body: object, query: { fieldManager: options.fieldManager }, subject: refString(ref), ...signalOf(options) });
  }

  /**
   * Replaces an object (PUT). Its `metadata.resourceVersion` is the precondition: a conflict (409) means someone
   * wrote it since it was read.
   */
  async update<T = KubeObject>(object: KubeObject, options: CallOptions & { fieldManager?: string; subresource?: 'status' } = {}): Promise<T> {
    const ref = refOf(object);
    return this.request<T>('PUT', `${objectPath(ref)}${options.subresource ? `/${options.subresource}` : ''}`, {
      body: object, query: { fieldManager: options.fieldManager }, subject: refString(ref), ...signalOf(options),
    });
  }

  /** Patches an object (or its `status` subresource). */
  async patch<T = KubeObject>(ref: ObjectRef, patch: unknown, options: CallOptions & { type?: 'merge' | 'json'; subresource?: 'status' } = {}): Promise<T> {
    const contentType = options.type === 'json' ? 'application/json-patch+json' : 'application/merge-patch+json';
    return this.request<T>('PATCH', `${objectPath(ref)}${options.subresource ? `/${options.subresource}` : ''}`, {
      body: patch, contentType, subject: refString(ref), ...signalOf(options),
    });
  }

  /** Deletes an object; false when it was already gone. */
  async delete(ref: ObjectRef, options: CallOptions & { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string } = {}): Promise<boolean> {
    try {
      await this.request('DELETE', objectPath(ref), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: options.propagationPolicy ?? 'Background', ...(options.uid ? { preconditions: { uid: options.uid } } : {}) },
        subject: refString(ref), ...signalOf(options),
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Watches a collection from `resourceVersion`, calling `onEvent` for each event until the server closes the
   * stream (resolves), the signal aborts (resolves) or the connection fails (rejects). An ERROR event with code 410
   * rejects with a KubeApiError(410): the caller must re-list.
   */
  async watch(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    const subject = `watch ${type.plural}${options.namespace ? ` in ${options.namespace}` : ''}`;
    let response: http.IncomingMessage;
    try {
      response = await this.open('GET', collectionPath(type, options.namespace), {
      query: {
        watch: 1, allowWatchBookmarks: true, resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds ?? 300, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector,
      },
      ...(options.signal ? { signal: options.signal } : {}),
      streaming: true,
      subject,
      });
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
    if (response.statusCode !== 200) throw await apiError(subject, response);
    let buffered = '';
    try {
      for await (const chunk of response) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (!line.trim()) continue;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch (err) {
            throw new Error(`${subject}: malformed event: ${line.slice(0, 200)}`, { cause: err });
          }
          if (event.type === 'ERROR') {
            const status = event.object as unknown as { code?: number; reason?: string; message?: string };
            throw new KubeApiError(subject, status.code ?? 500, status.reason ?? '', status.message ?? 'watch error');
          }
          if (event.type !== 'BOOKMARK') event.object = { ...event.object, apiVersion: apiVersionOf(type), kind: type.kind };
          onEvent(event);
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
  }
}

/** The request options that carry a call's signal, if it has one. */
const signalOf = (options: CallOptions): { signal?: AbortSignal } => (options.signal ? { signal: options.signal } : {});

async function readBody(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The API server's Status answer as an error naming `subject`. */
async function apiError(subject: string, response: http.IncomingMessage): Promise<KubeApiError> {
  const text = await readBody(response);
  let parsed: { reason?: string; message?: string } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { message: text.slice(0, 500).trim() };
  }
  return new KubeApiError(subject, response.statusCode ?? 0, parsed.reason ?? response.statusMessage ?? '', parsed.message ?? '');
}

/** `v1` or `group/version`. */
export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}
