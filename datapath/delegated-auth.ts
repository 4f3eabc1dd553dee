/**
 * Who may download: the file server checks every caller itself, as Kubernetes' delegated authentication does
 * (kube-rbac-proxy, aggregated API servers). A client certificate that chains to the cluster's client CA (verified
 * by the TLS layer against `--client-ca-file`; CN = user, O = groups, as kube-apiserver reads them) or a bearer token
 * the API server accepts (TokenReview), then a SubjectAccessReview for {@link DownloadAccess}.
 *
 * Identity headers a caller sends (X-Remote-User, Impersonate-*, X-Forwarded-*) are never read: only the TLS peer
 * certificate and the Authorization header count.
 *
 * The API server must not become the victim of whoever can reach this port: decisions are cached briefly by a hash of
 * the credential, identical checks in flight are shared, at most a few reviews run at once and misses are
 * rate-limited (a token bucket); beyond that callers get 429 without an API call. A failing API server means 503,
 * never "allow", and is not cached.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { DEFAULT_DOWNLOAD_ACCESS, type DownloadAccess } from '../constructs/pod-contract.js';
import type { KubeClient } from '../kube/client.js';

/** The caller, as authentication established it (what a SubjectAccessReview takes). */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** What to do with a request: serve it for `user`, or answer `status` with the one-line `message`. */
export type Verdict =
  | { readonly allowed: true; readonly user: UserInfo }
  | { readonly allowed: false; readonly status: 401 | 403 | 429 | 503; readonly message: string };

/** Decides on a request; the file server calls it for every route but `/healthz`. */
export type Authorizer = (req: IncomingMessage) => Promise<Verdict>;

/** Options of {@link DelegatedAuth}. */
export interface DelegatedAuthOptions {
  /** Reaches the API server for TokenReviews and SubjectAccessReviews (the pod's service account). */
  client: KubeClient;
  /** What a caller must be allowed to do. @default DEFAULT_DOWNLOAD_ACCESS (cluster admins) */
  access?: DownloadAccess;
  /** How long an allowed caller is remembered. @default 10 s */
  allowTtlMs?: number;
  /** How long a refused caller (bad token, access denied) is remembered. @default 5 s */
  denyTtlMs?: number;
  /** Remembered credentials, least recently used dropped first. @default 1024 */
  cacheSize?: number;
  /** Reviews against the API server at once; more callers get 429. @default 4 */
  maxInFlight?: number;
  /** Sustained review rate (cache misses per second); beyond it and the burst, callers get 429. @default 20 */
  reviewsPerSecond?: number;
  /** Misses allowed at once above the sustained rate. @default 40 */
  reviewBurst?: number;
  /** One API call's deadline; past it the caller gets 503. @default 10 s */
  apiTimeoutMs?: number;
  /** Longer bearer tokens are refused without an API call. @default 8 KiB */
  maxTokenBytes?: number;
  /** Told about API failures (they become 503s). @default none */
  onError?: (err: Error) => void;
}

export const DELEGATED_AUTH_DEFAULTS = {
  access: DEFAULT_DOWNLOAD_ACCESS,
  allowTtlMs: 10_000,
  denyTtlMs: 5_000,
  cacheSize: 1024,
  maxInFlight: 4,
  reviewsPerSecond: 20,
  reviewBurst: 40,
  apiTimeoutMs: 10_000,
  maxTokenBytes: 8 * 1024,
} as const;

const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
const ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** The credential a request carries, before the API server has a say. */
type Credential =
  | { kind: 'certificate'; user: UserInfo; fingerprint: string }
  | { kind: 'token'; token: string }
  | { kind: 'refused'; message: string };

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

interface AccessReviewStatus {
  allowed?: boolean;
  reason?: string;
}

/** Delegated authentication and authorization, with the caching and the limits described above. */
export class DelegatedAuth {
  private readonly settings: Required<Omit<DelegatedAuthOptions, 'onError'>> & Pick<DelegatedAuthOptions, 'onError'>;
  private readonly cache: LruCache<Verdict>;
  private readonly pending = new Map<string, Promise<Verdict>>();
  private readonly bucket: TokenBucket;

  constructor(options: DelegatedAuthOptions) {
    this.settings = { ...DELEGATED_AUTH_DEFAULTS, ...definedOnly(options) } as typeof this.settings;
    this.cache = new LruCache(this.settings.cacheSize);
    this.bucket = new TokenBucket(this.settings.reviewsPerSecond, this.settings.reviewBurst);
  }

  /** An {@link Authorizer} for the file server. */
  readonly check: Authorizer = async (req) => {
    const credential = credentialOf(req, this.settings.maxTokenBytes);
    if (credential.kind === 'refused') return refuse(401, credential.message);
    const key = createHash('sha256')
      .update(credential.kind === 'token' ? `token\0${credential.token}` : `x509\0${credential.fingerprint}`)
      .digest('hex');
    const cached = this.cache.get(key);
    if (cached) return cached;
    const running = this.pending.get(key);
    if (running) return running;
    if (this.pending.size >= this.settings.maxInFlight) return refuse(429, 'too many credential checks in progress; retry in a moment');
    if (!this.bucket.take()) return refuse(429, 'too many credential checks; retry in a moment');
    const review = this.review(credential)
      .then((verdict) => {
        this.cache.set(key, verdict, verdict.allowed ? this.settings.allowTtlMs : this.settings.denyTtlMs);
        return verdict;
      }, (err: Error) => {
        this.settings.onError?.(err);
        return refuse(503, 'cannot check credentials with the Kubernetes API right now; retry later');
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, review);
    return review;
  };

  /** Authentication (for tokens) then authorization. Throws when the API server cannot answer. */
  private async review(credential: Exclude<Credential, { kind: 'refused' }>): Promise<Verdict> {
    let user: UserInfo;
    if (credential.kind === 'certificate') {
      user = credential.user;
    } else {
      const status = await this.create<TokenReviewStatus>(TOKEN_REVIEWS, 'TokenReview', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential.token } });
      if (!status.authenticated || !status.user?.username) {
        return refuse(401, 'the bearer token was not accepted by the Kubernetes API (invalid, expired or revoked)');
      }
      user = { username: status.user.username, uid: status.user.uid, groups: status.user.groups ?? [], extra: status.user.extra };
    }
    const { access } = this.settings;
    const status = await this.create<AccessReviewStatus>(ACCESS_REVIEWS, `SubjectAccessReview for user "${user.username}"`, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        uid: user.uid,
        groups: user.groups,
        extra: user.extra,
        resourceAttributes: {
          verb: access.verb, group: access.group, resource: access.resource,
          subresource: access.subresource, namespace: access.namespace ?? '', name: access.name,
        },
      },
    });
    if (status.allowed) return { allowed: true, user };
    return refuse(403, `user "${user.username}" may not ${describeAccess(access)}${status.reason ? ` (${status.reason})` : ''}`);
  }

  private async create<T>(path: string, subject: string, body: unknown): Promise<T> {
    const review = await this.settings.client.request<{ status?: T }>('POST', path, {
      body, subject: `create ${subject}`, signal: AbortSignal.timeout(this.settings.apiTimeoutMs),
    });
    return review.status ?? ({} as T);
  }
}

/** `* * (group *) cluster-wide`, `get mustgatherreports/download (group mustgather.openshift.io) in namespace ns`. */
export function describeAccess(access: DownloadAccess): string {
  const resource = access.subresource ? `${access.resource}/${access.subresource}` : access.resource;
  const group = access.group === '' ? 'core' : access.group;
  const name = access.name ? ` named "${access.name}"` : '';
  return `${access.verb} ${resource}${name} (group ${group}) ${access.namespace ? `in namespace ${access.namespace}` : 'cluster-wide'}`;
}

/**
 * The request's credential, x509 first as kube-apiserver's union authenticator orders them. A certificate the TLS
 * layer could not verify (another CA, expired) does not count; a bearer token may still.
 */
function credentialOf(req: IncomingMessage, maxTokenBytes: number): Credential {
  const socket = req.socket as Partial<TLSSocket>;
  const peer = socket.getPeerCertificate?.();
  const presented = peer !== undefined && Object.keys(peer).length > 0;
  if (presented && socket.authorized) {
    const username = firstValue(peer.subject?.CN);
    if (username) return { kind: 'certificate', user: { username, groups: allValues(peer.subject?.O) }, fingerprint: peer.fingerprint256 };
  }
  const authorization = req.headers.authorization;
  const bearer = authorization === undefined ? undefined : /^Bearer +(\S*) *$/i.exec(authorization)?.[1];
  if (bearer !== undefined) {
    if (bearer.length === 0 || bearer.length > maxTokenBytes || !/^[\x21-\x7e]+$/.test(bearer)) {
      return { kind: 'refused', message: 'malformed bearer token' };
    }
    return { kind: 'token', token: bearer };
  }
  if (presented) {
    const why = socket.authorized ? 'has no common name' : `is not valid for this cluster (${String(socket.authorizationError)})`;
    return { kind: 'refused', message: `the client certificate ${why}` };
  }
  return { kind: 'refused', message: 'no credentials: send a bearer token (Authorization: Bearer ...) or a client certificate of this cluster' };
}

/** Node gives a subject field as a string, or an array when the certificate repeats it. */
const allValues = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const firstValue = (value: string | string[] | undefined): string | undefined => allValues(value)[0];

const refuse = (status: 401 | 403 | 429 | 503, message: string): Verdict => ({ allowed: false, status, message });

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** A map of at most `max` entries that expire; reading one makes it the most recently used. */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expires <= performance.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: performance.now() + ttlMs });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `rate` takes per second on average, up to `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
