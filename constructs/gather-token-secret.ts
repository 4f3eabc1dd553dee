import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';

/** A token of the gather service account, as the TokenRequest API issued it. */
export interface GatherToken {
  /** The bearer token (a JWT). */
  readonly token: string;
  /** When the API server issued it (RFC 3339). */
  readonly issuedAt: string;
  /** When it stops being accepted (RFC 3339): the TokenRequest's `status.expirationTimestamp`. */
  readonly expiresAt: string;
}

/** Annotations of the token Secret that say when its token was issued and when it expires (the reconciler renews it). */
export const GATHER_TOKEN_ANNOTATIONS = {
  issuedAt: 'mustgather.openshift.io/token-issued-at',
  expiresAt: 'mustgather.openshift.io/token-expires-at',
} as const;

/** Props of {@link GatherTokenSecret}. */
export interface GatherTokenSecretProps {
  /** Namespace of the Secret (the gather service account's). */
  readonly namespace: string;
  /** Name of the Secret. */
  readonly name: string;
  /** The gather service account's token. */
  readonly token: GatherToken;
}

/**
 * The gather service account's token (see {@link GatherAccess}), mounted into the gather containers only. Only the
 * operator can have one: it requests it from the TokenRequest API once the service account exists, so it is a
 * runtime object, and its annotations say when the operator must renew it.
 */
export class GatherTokenSecret extends Construct {
  constructor(scope: Construct, id: string, props: GatherTokenSecretProps) {
    super(scope, id);
    new kplus.k8s.KubeSecret(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        annotations: { [GATHER_TOKEN_ANNOTATIONS.issuedAt]: props.token.issuedAt, [GATHER_TOKEN_ANNOTATIONS.expiresAt]: props.token.expiresAt },
      },
      type: 'Opaque',
      data: { token: Buffer.from(props.token.token, 'utf8').toString('base64') },
    });
  }
}
