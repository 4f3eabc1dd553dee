/**
 * The gather service account's token, from the TokenRequest API: the operator asks for it as soon as the account
 * exists and puts it in the token Secret the gather containers mount, in the same reconcile that creates the pod.
 * A legacy `service-account-token` Secret would wait for kube-controller-manager to fill it (another reconcile per
 * report) and would never expire. This token expires after the longest the gathering may take, is renewed at 80% of
 * its life while gathering goes on (as the kubelet renews projected tokens), and dies with the service account, which
 * the reconciler deletes when gathering is over.
 */
import { GATHER_TOKEN_ANNOTATIONS, type GatherToken } from '../constructs/gather-token-secret.js';
import { parseDuration } from '../constructs/duration.js';
import type { ResolvedSpec } from '../constructs/report-api.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { objectPath, type ObjectRef, refString, secretValue } from '../kube/resources.js';

/** Past this share of its life a token is renewed. */
export const TOKEN_RENEW_AT = 0.8;
/**
 * Time on top of the gathers' own timeouts: the pod starting, pulls, the kill grace of each image. Also keeps every
 * request at or above the shortest token the API server issues (600 s).
 */
const TOKEN_MARGIN_MS = 10 * 60_000;
/** What a start timeout of 0 ("never") counts as: the token is renewed anyway while the pod waits. */
const UNBOUNDED_START_MS = 60 * 60_000;

/**
 * How long to ask the token to last: the start timeout, every image's gather timeout and a margin; so a gathering
 * that goes as planned never needs a renewal.
 */
export function gatherTokenSeconds(spec: Pick<ResolvedSpec, 'timeout'>, images: number, startTimeoutMs: number): number {
  const perImage = parseDuration(spec.timeout) ?? 0;
  const ms = (startTimeoutMs > 0 ? startTimeoutMs : UNBOUNDED_START_MS) + images * perImage + TOKEN_MARGIN_MS;
  return Math.ceil(ms / 1000);
}

/** The token a token Secret holds, if any (its times from the Secret's annotations). */
export function tokenOf(secret: KubeObject | undefined): GatherToken | undefined {
  const token = secretValue(secret, 'token');
  const annotations = secret?.metadata.annotations ?? {};
  const issuedAt = annotations[GATHER_TOKEN_ANNOTATIONS.issuedAt];
  const expiresAt = annotations[GATHER_TOKEN_ANNOTATIONS.expiresAt];
  if (!token || !issuedAt || !expiresAt) return undefined;
  return { token, issuedAt, expiresAt };
}

/** When a token is due for renewal: at {@link TOKEN_RENEW_AT} of its life (NaN for unreadable times: due now). */
export function renewalDue(token: GatherToken): number {
  const issued = Date.parse(token.issuedAt);
  const expires = Date.parse(token.expiresAt);
  return issued + (expires - issued) * TOKEN_RENEW_AT;
}

/** The Secret's token while it is good for a while yet; undefined when there is none or it is due for renewal. */
export function currentToken(secret: KubeObject | undefined, now: Date): GatherToken | undefined {
  const token = tokenOf(secret);
  return token && now.getTime() < renewalDue(token) ? token : undefined;
}

/** Asks the API server for a token of service account `account` lasting `seconds` (it may cap that). */
export async function requestGatherToken(client: KubeClient, account: ObjectRef, seconds: number, now: () => Date = () => new Date()): Promise<GatherToken> {
  const issuedAt = now();
  const answer = await client.request<{ status: { token: string; expirationTimestamp: string } }>('POST', `${objectPath(account)}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: seconds } },
    subject: `${refString(account)}: token request`,
  });
  // Whole seconds, as the server's timestamps: the renewal time is then the same on every reconcile.
  return { token: answer.status.token, issuedAt: issuedAt.toISOString().replace(/\.\d+Z$/, 'Z'), expiresAt: answer.status.expirationTimestamp };
}
