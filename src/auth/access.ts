import type { JWTPayload } from 'jose';
import { ApiError } from '../http/errors.ts';
import { isRedisUnavailable, type KeyBuilder, type RedisClient } from '../infra/redis.ts';
import type { Keyring } from './keyring.ts';
import type { AccessState, TenancyStore } from '../tenancy/store.ts';
import type { Application, Plan } from '../tenancy/types.ts';

/** The API client behind a request, after its token was verified and its rights loaded. */
export interface Principal {
  clientId: string;
  tenantId: string;
  scopes: ReadonlySet<string>;
  /** The capability of the operation being called. */
  capability: string;
  /** The plan of the application's subscription to that capability. */
  plan: Plan;
  /** The verified token claims (device-bound tokens carry the subscriber here). */
  claims: JWTPayload;
  /** The application's registration (notification hosts, keys), as of `generation`. */
  application: Application;
  /** The tenancy generation the rights were read at; admission re-reads them when it has moved. */
  generation: number;
}

/** Claims the gateway puts into its access tokens, besides the registered ones. */
export interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  tenant_id: string;
  scope: string;
}

export interface AccessControlOptions {
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
}

const REALM = 'exposure-gateway';

const spentKey = (key: KeyBuilder, jti: string) => key('token', 'spent', jti);

/**
 * Records the one use of a single-use access token (CAMARA Number Verification after 2.1, PR #226:
 * its tokens "MUST be single-use"). True the first time; false once used or revoked. The mark
 * lasts as long as the token could still be accepted (`exp` plus clock tolerance).
 */
export async function spendToken(deps: { redis: RedisClient; key: KeyBuilder }, claims: JWTPayload, clockToleranceSeconds: number): Promise<boolean> {
  if (typeof claims.jti !== 'string' || typeof claims.exp !== 'number') return false;
  const marked = await deps.redis.set(spentKey(deps.key, claims.jti), '1', 'EXAT', claims.exp + clockToleranceSeconds + 1, 'NX');
  return marked === 'OK';
}

/** Spends a single-use token on its holder's behalf, so it can never be used (RFC 6749 §4.1.2: its code was replayed). */
export async function revokeSingleUse(deps: { redis: RedisClient; key: KeyBuilder }, jti: string, exp: number, clockToleranceSeconds: number): Promise<void> {
  await deps.redis.set(spentKey(deps.key, jti), 'revoked', 'EXAT', exp + clockToleranceSeconds + 1);
}

/** The 401 of a token that was valid once and is no more (used up, revoked); RFC 6750 §3.1 `invalid_token`. */
export function tokenNoLongerValid(reason: string): ApiError {
  return unauthenticated(reason);
}

function unauthenticated(reason: string, withError = true): ApiError {
  // RFC 6750 §3: no error attribute when the request carried no token at all.
  const challenge = withError
    ? `Bearer realm="${REALM}", error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`
    : `Bearer realm="${REALM}"`;
  // CAMARA: the 401 message stays generic, whatever the reason; the reason goes into the challenge.
  return new ApiError('UNAUTHENTICATED', undefined, { headers: { 'WWW-Authenticate': challenge } });
}

/**
 * Checks the bearer token of every API call and what it allows: signature (ES256 only), `exp`
 * (required), issuer, audience, the operation's CAMARA scope, and that the application, its tenant
 * and its subscription to the capability are still active.
 */
export class AccessControl {
  /**
   * Tokens already verified, until their `exp`: an ES256 verification is most of the CPU a request
   * costs, and a client sends the same token many times. Bounded; the oldest entries go first.
   */
  private readonly verified = new Map<string, AccessTokenClaims>();
  private static readonly CACHE_SIZE = 10_000;

  constructor(
    private readonly keyring: Keyring,
    private readonly store: TenancyStore,
    private readonly options: AccessControlOptions,
    /** Where revocations of device-bound tokens are recorded (see {@link revokeSingleUse}); none checked without it. */
    private readonly revocations?: { redis: RedisClient; key: KeyBuilder },
  ) {}

  /** Verifies the `Authorization: Bearer` header; 401 UNAUTHENTICATED otherwise. */
  async authenticate(authorization: string | undefined): Promise<AccessTokenClaims> {
    if (!authorization) throw unauthenticated('missing token', false);
    const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
    if (!m) throw unauthenticated('the Authorization header must be "Bearer <token>"');
    const cached = this.verified.get(m[1]);
    // Still within exp (the cache never stretches a token's life, clock tolerance aside).
    if (cached && (cached.exp ?? 0) * 1000 > Date.now()) return this.notRevoked(cached);
    if (cached) this.verified.delete(m[1]);
    let claims: JWTPayload;
    try {
      claims = await this.keyring.verify(m[1], this.options);
    } catch (err) {
      if (isRedisUnavailable(err)) throw err;
      const code = (err as { code?: string }).code;
      throw unauthenticated(code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token invalid');
    }
    if (typeof claims.client_id !== 'string' || typeof claims.tenant_id !== 'string' || typeof claims.scope !== 'string') {
      throw unauthenticated('token lacks client_id, tenant_id or scope');
    }
    if (this.verified.size >= AccessControl.CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(m[1], claims as AccessTokenClaims);
    return this.notRevoked(claims as AccessTokenClaims);
  }

  /**
   * A device-bound (3-legged) token whose authorization code was replayed is revoked (RFC 6749
   * §4.1.2): every API refuses it from then on, not only those that look up its device. Client-
   * credentials tokens are never revoked this way and cost no lookup.
   */
  private async notRevoked(claims: AccessTokenClaims): Promise<AccessTokenClaims> {
    if (!this.revocations || typeof claims.dev !== 'string' || typeof claims.jti !== 'string') return claims;
    if ((await this.revocations.redis.get(spentKey(this.revocations.key, claims.jti))) === 'revoked') throw unauthenticated('token revoked');
    return claims;
  }

  /**
   * Grants the call when the token satisfies one of the operation's security requirements (each
   * a list of scopes that must all be present) and the subscription to `capability` is active.
   */
  async authorize(claims: AccessTokenClaims, requirements: string[][], capability: string, fresh = false): Promise<Principal> {
    const scopes = new Set(claims.scope.split(' ').filter(Boolean));
    const missing = requirements.length > 0 && !requirements.some((req) => req.every((s) => scopes.has(s)));
    if (missing) {
      const wanted = requirements[0].join(' ');
      throw new ApiError('PERMISSION_DENIED', `the access token lacks the scope ${wanted}`, {
        headers: { 'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${wanted}"` },
      });
    }
    const state = await this.store.accessState(claims.client_id, claims.tenant_id, capability, fresh);
    const refusal = this.refusal(claims, state, capability);
    if (!refusal) return this.principal(claims, scopes, capability, state);
    // A refusal from the cache is checked against Redis first: the client may have been resumed.
    if (fresh) throw refusal;
    return this.authorize(claims, requirements, capability, true);
  }

  /** Why the application, its tenant or its subscription does not allow the call; undefined when they do. */
  private refusal(claims: AccessTokenClaims, { app, tenant, subscription }: AccessState, capability: string): ApiError | undefined {
    if (!app || app.tenantId !== claims.tenant_id || !tenant) return unauthenticated('unknown client');
    if (app.status !== 'ACTIVE' || tenant.status !== 'ACTIVE') {
      return new ApiError('PERMISSION_DENIED', 'the application or its tenant is suspended');
    }
    if (!subscription || subscription.status !== 'ACTIVE') {
      return new ApiError('PERMISSION_DENIED', `the application has no active subscription to ${capability}`);
    }
    return undefined;
  }

  private principal(claims: AccessTokenClaims, scopes: ReadonlySet<string>, capability: string, state: AccessState): Principal {
    const app = state.app!;
    return { clientId: app.clientId, tenantId: app.tenantId, scopes, capability, plan: state.subscription!.plan, claims, application: app, generation: state.generation };
  }
}
