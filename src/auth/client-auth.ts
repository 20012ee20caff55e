import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import type { Application } from '../tenancy/types.ts';
import { verifySecret } from './secrets.ts';

/** RFC 6749 §5.2 error, answered with `{error, error_description}`. */
export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400,
    readonly basicChallenge = false,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Algorithms accepted for client assertions; never `none`, never HMAC (the secret is not ours to share). */
const ASSERTION_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];

/** Assertions may not live longer than this (RFC 7523 §3 lets the server limit `exp`). */
const MAX_ASSERTION_LIFETIME_SECONDS = 600;

export interface ClientAuthOptions {
  /** Our issuer identifier: the `aud` a client assertion must carry (draft-ietf-oauth-rfc7523bis). */
  issuer: string;
  /** The token endpoint URL, accepted as `aud` too during the transition RFC 7523bis describes. */
  tokenEndpoint: string;
  clockToleranceSeconds: number;
}

/** The parts of a token request that carry client credentials. */
export interface ClientCredentialsInput {
  authorization?: string;
  client_id?: string;
  client_secret?: string;
  client_assertion_type?: string;
  client_assertion?: string;
}

/**
 * Authenticates the client of a token request by exactly one of `client_secret_basic`,
 * `client_secret_post` or `private_key_jwt` (RFC 6749 §2.3, RFC 7523 §2.2).
 */
export class ClientAuthenticator {
  private readonly remoteJwks = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly store: TenancyStore,
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly options: ClientAuthOptions,
  ) {}

  async authenticate(input: ClientCredentialsInput): Promise<{ application: Application; method: string }> {
    const basic = input.authorization && /^Basic /i.test(input.authorization) ? input.authorization : undefined;
    const methods = [basic, input.client_secret, input.client_assertion].filter(Boolean).length;
    if (methods > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method');
    if (basic) return { application: await this.bySecret(...parseBasic(basic), true), method: 'client_secret_basic' };
    if (input.client_secret !== undefined) {
      if (!input.client_id) throw new OAuthError('invalid_request', 'client_id is required with client_secret');
      return { application: await this.bySecret(input.client_id, input.client_secret, false), method: 'client_secret_post' };
    }
    if (input.client_assertion !== undefined || input.client_assertion_type !== undefined) {
      return { application: await this.byAssertion(input), method: 'private_key_jwt' };
    }
    throw new OAuthError('invalid_client', 'client authentication is required');
  }

  private async bySecret(clientId: string, secret: string, basic: boolean): Promise<Application> {
    const [application, hash] = await Promise.all([this.store.getApplication(clientId), this.store.getSecretHash(clientId)]);
    // Check a hash even for unknown clients so timing does not reveal which client ids exist.
    const ok = await verifySecret(secret, hash ?? DUMMY_HASH);
    if (!application || !hash || !ok) throw new OAuthError('invalid_client', 'client authentication failed', 401, basic);
    return application;
  }

  private async byAssertion(input: ClientCredentialsInput): Promise<Application> {
    if (input.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    if (!input.client_assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
    let unverified: { iss?: unknown; sub?: unknown };
    try {
      unverified = decodeJwt(input.client_assertion);
    } catch {
      throw new OAuthError('invalid_client', 'client_assertion is not a JWT');
    }
    const clientId = typeof unverified.sub === 'string' ? unverified.sub : undefined;
    if (!clientId || (input.client_id && input.client_id !== clientId)) throw new OAuthError('invalid_client', 'client authentication failed');
    const application = await this.store.getApplication(clientId);
    if (!application || (!application.jwks && !application.jwksUri)) throw new OAuthError('invalid_client', 'client authentication failed');
    let payload;
    try {
      ({ payload } = await jwtVerify(input.client_assertion, this.keysOf(application), {
        algorithms: ASSERTION_ALGS,
        issuer: clientId,
        subject: clientId,
        audience: [this.options.issuer, this.options.tokenEndpoint],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: this.options.clockToleranceSeconds,
      }));
    } catch {
      throw new OAuthError('invalid_client', 'client authentication failed');
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! - now > MAX_ASSERTION_LIFETIME_SECONDS) {
      throw new OAuthError('invalid_client', `client_assertion exp may be at most ${MAX_ASSERTION_LIFETIME_SECONDS} s ahead`);
    }
    // RFC 7523 §3: each jti once. The marker lives as long as the assertion could still be valid.
    const fresh = await this.redis.set(
      this.key('jti', clientId, String(payload.jti)),
      '1',
      'EXAT',
      payload.exp! + this.options.clockToleranceSeconds + 1,
      'NX',
    );
    if (fresh !== 'OK') throw new OAuthError('invalid_client', 'client_assertion was already used');
    return application;
  }

  private keysOf(application: Application): JWTVerifyGetKey {
    if (application.jwks) return createLocalJWKSet(application.jwks);
    let remote = this.remoteJwks.get(application.jwksUri!);
    if (!remote) {
      remote = createRemoteJWKSet(new URL(application.jwksUri!), { timeoutDuration: 3000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      this.remoteJwks.set(application.jwksUri!, remote);
    }
    return remote;
  }
}

// A valid hash of a random value, checked against when the client is unknown.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function parseBasic(header: string): [string, string] {
  let decoded: string;
  try {
    decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, true);
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, true);
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  try {
    return [decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))];
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials', 401, true);
  }
}
