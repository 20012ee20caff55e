import { createHash, randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AddressResolver } from '../../adapters/ports.ts';
import type { KeyBuilder, RedisClient } from '../infra/redis.ts';
import { clientAddress, type TrustedProxies } from '../identity/client-address.ts';
import { AddressRateLimiter, type AddressRate } from '../identity/address-rate.ts';
import type { NumberVault } from '../identity/number-vault.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import type { Application } from '../tenancy/types.ts';
import { OAuthError } from './client-auth.ts';

/**
 * The `amr` value (RFC 8176 §1, OIDC Core §2) of a subscriber authenticated by the mobile network:
 * the device's data-path address named the subscriber, with no user interaction. RFC 8176 registers
 * no value for this; CAMARA Number Verification only asks that the `amr` tell network-based
 * authentication apart from SMS OTP (`otp`, `sms`) and passwords (`pwd`).
 */
export const NETWORK_AMR = 'nba';

/** RFC 6749 §10.5: codes are short-lived; one minute covers an app handing the code to its backend. */
export const CODE_TTL_SECONDS = 60;

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
export const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)), 43 characters without padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** `tel:` URI of an E.164 number (RFC 3966 global number, CAMARA `login_hint=tel:+...`). */
const TEL_HINT = /^tel:(\+[1-9][0-9]{4,14})$/;
const MAX_STATE_LENGTH = 1024;

/** The scopes an application may be granted: those of its active subscriptions. */
export async function grantableScopes(store: TenancyStore, app: Application, catalog: ReadonlyMap<string, readonly string[]>): Promise<Set<string>> {
  const scopes = new Set<string>();
  for (const sub of await store.listSubscriptions(app.clientId)) {
    if (sub.status === 'ACTIVE') catalog.get(sub.capability)?.forEach((s) => scopes.add(s));
  }
  return scopes;
}

/** What an authorization code stands for, kept in Redis under the code's SHA-256 until redeemed. */
export interface AuthorizationGrant {
  clientId: string;
  redirectUri: string;
  /** Granted scopes, space-separated, `openid` included. */
  scope: string;
  codeChallenge: string;
  nonce?: string;
  /** The subscriber's number, sealed by the number vault (never in clear in Redis). */
  sealedMsisdn: string;
  /** When the network authenticated the subscriber (seconds since the epoch; OIDC Core §2 `auth_time`). */
  authTime: number;
}

/** What a redeemed code issued: revoked if the code is ever presented again (RFC 6749 §4.1.2). */
export interface Redemption {
  jti: string;
  dev: string;
  exp: number;
}

interface CodeDeps {
  redis: RedisClient;
  key: KeyBuilder;
}

const digest = (code: string) => createHash('sha256').update(code).digest('base64url');

/** Stores a grant and returns its code: 256 random bits, of which Redis only ever sees the hash. */
export async function issueCode(deps: CodeDeps, grant: AuthorizationGrant): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  await deps.redis.set(deps.key('oidc', 'code', digest(code)), JSON.stringify(grant), 'EX', CODE_TTL_SECONDS);
  return code;
}

/**
 * Takes a code's grant out of Redis in one step (GETDEL), so two concurrent redemptions cannot both
 * succeed. A code seen before returns what its first redemption issued, for revocation.
 */
export async function redeemCode(deps: CodeDeps, code: string): Promise<{ grant?: AuthorizationGrant; replayed?: Redemption }> {
  const hash = digest(code);
  const raw = await deps.redis.getdel(deps.key('oidc', 'code', hash));
  if (raw) return { grant: JSON.parse(raw) as AuthorizationGrant };
  const redeemed = await deps.redis.getdel(deps.key('oidc', 'redeemed', hash));
  return { replayed: redeemed ? (JSON.parse(redeemed) as Redemption) : undefined };
}

/** Remembers what a code issued, for as long as that token lives. */
export async function recordRedemption(deps: CodeDeps, code: string, redemption: Redemption): Promise<void> {
  await deps.redis.set(deps.key('oidc', 'redeemed', digest(code)), JSON.stringify(redemption), 'EXAT', redemption.exp);
}

/** An authorization error sent back to the client's redirect URI (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6). */
class AuthorizationError extends Error {
  constructor(
    readonly error:
      | 'invalid_request'
      | 'unauthorized_client'
      | 'access_denied'
      | 'unsupported_response_type'
      | 'invalid_scope'
      | 'login_required'
      | 'interaction_required'
      | 'request_not_supported'
      | 'request_uri_not_supported'
      | 'temporarily_unavailable',
    readonly description: string,
  ) {
    super(description);
    this.name = 'AuthorizationError';
  }
}

export interface AuthorizeDeps {
  store: TenancyStore;
  redis: RedisClient;
  key: KeyBuilder;
  vault: NumberVault;
  trustedProxies: TrustedProxies;
  /** Who holds a data-path address; without it no device can be identified (every request gets login_required). */
  addresses?: AddressResolver;
}

export interface AuthorizeOptions {
  issuer: string;
  capabilityScopes: () => ReadonlyMap<string, readonly string[]>;
  bodyLimitBytes: number;
  /** Authorization requests one data-path address may make. @defaultValue 30 per 60 s */
  addressRate?: AddressRate;
}

type Params = Record<string, string | undefined>;

/** RFC 6749 §3.1: parameters sent without a value are treated as omitted; none may be repeated. */
function parameters(source: unknown): { params: Params; repeated: string[] } {
  const params: Params = {};
  const repeated: string[] = [];
  for (const [name, value] of Object.entries((source ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') params[name] = value === '' ? undefined : value;
    else repeated.push(name);
  }
  return { params, repeated };
}

/** 302 to the client with the given parameters; RFC 9207 `iss` tells the client which server answered. */
function redirect(res: Response, redirectUri: string, values: Params): void {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(values)) if (value !== undefined) target.searchParams.append(name, value);
  res.status(302).setHeader('Location', target.toString());
  res.end();
}

/**
 * Checks what the client asked for (everything but its identity and redirect URI), identifies the
 * device and returns the grant. Throws AuthorizationError for anything the client should hear about.
 */
async function grantFor(deps: AuthorizeDeps, options: AuthorizeOptions, app: Application, params: Params, req: Request, limiter: AddressRateLimiter): Promise<AuthorizationGrant> {
  if (params.request) throw new AuthorizationError('request_not_supported', 'request objects are not supported');
  if (params.request_uri) throw new AuthorizationError('request_uri_not_supported', 'request_uri is not supported');
  if (params.response_type !== 'code') throw new AuthorizationError('unsupported_response_type', 'only response_type=code is supported');
  if (params.response_mode !== undefined && params.response_mode !== 'query') throw new AuthorizationError('invalid_request', 'only response_mode=query is supported');
  const tenant = await deps.store.getTenant(app.tenantId);
  if (app.status !== 'ACTIVE' || tenant?.status !== 'ACTIVE') throw new AuthorizationError('unauthorized_client', 'the application or its tenant is suspended');
  const requested = new Set((params.scope ?? '').split(' ').filter(Boolean));
  // OIDC Core §3.1.2.1: without openid this would be a plain OAuth request, which the gateway does not serve.
  if (!requested.has('openid')) throw new AuthorizationError('invalid_scope', 'scope must include openid');
  const allowed = await grantableScopes(deps.store, app, options.capabilityScopes());
  const refused = [...requested].filter((s) => s !== 'openid' && !allowed.has(s));
  if (refused.length) throw new AuthorizationError('invalid_scope', `scope not granted to this client: ${refused.join(' ')}`);
  // RFC 7636 §4.4.1 and RFC 9700 §2.1.1: PKCE is required, and only S256 (plain would put the verifier in the URL).
  if (!params.code_challenge) throw new AuthorizationError('invalid_request', 'code_challenge is required (PKCE, RFC 7636)');
  if (params.code_challenge_method !== 'S256') throw new AuthorizationError('invalid_request', 'code_challenge_method must be S256; plain is not supported');
  if (!S256_CHALLENGE.test(params.code_challenge)) throw new AuthorizationError('invalid_request', 'code_challenge must be 43 base64url characters');
  if (params.nonce !== undefined && params.nonce.length > MAX_STATE_LENGTH) throw new AuthorizationError('invalid_request', `nonce is longer than ${MAX_STATE_LENGTH} characters`);
  checkPrompt(params.prompt);
  const hint = params.login_hint === undefined ? undefined : TEL_HINT.exec(params.login_hint);
  if (params.login_hint?.startsWith('tel:') && !hint) throw new AuthorizationError('invalid_request', 'login_hint tel: must be an E.164 number, tel:+<digits>');

  // The device is who holds the request's data-path address (the socket's, or a trusted proxy's header).
  const source = clientAddress({ address: req.socket.remoteAddress, port: req.socket.remotePort }, req.headers, deps.trustedProxies);
  // Before the network is asked who the device is: an address that asks too often is slowed down.
  const wait = await limiter.take(source.address);
  if (wait !== undefined) {
    throw new AuthorizationError('temporarily_unavailable', `too many authorization requests from this address; retry in ${Math.ceil(wait / 1000)} s`);
  }
  const msisdn = await deps.addresses?.msisdnAt(source.address, source.port);
  if (!msisdn) {
    // CAMARA Number Verification: network-based authentication needs the request to come over the
    // mobile data path; Wi-Fi, a detached UE or an unknown address identify nobody.
    throw new AuthorizationError('login_required', 'the mobile network could not identify the device; send the request over mobile data');
  }
  if (hint && hint[1] !== msisdn) {
    // The network authenticated someone other than the hinted subscriber, and no interaction could
    // change that: the request is refused rather than answered for another subscriber.
    throw new AuthorizationError('access_denied', 'the device is not the subscriber named by login_hint');
  }
  return {
    clientId: app.clientId,
    redirectUri: params.redirect_uri!,
    scope: [...requested].sort().join(' '),
    codeChallenge: params.code_challenge,
    nonce: params.nonce,
    sealedMsisdn: deps.vault.seal(msisdn),
    authTime: Math.floor(Date.now() / 1000),
  };
}

/**
 * OIDC Core §3.1.2.1 `prompt`: network-based authentication never shows a page, so an absent prompt
 * is treated as `none` (as CAMARA Number Verification implies) and anything asking for a page is
 * refused with the §3.1.2.6 error for it.
 */
function checkPrompt(prompt: string | undefined): void {
  if (prompt === undefined) return;
  const values = prompt.split(' ').filter(Boolean);
  if (values.includes('none') && values.length > 1) throw new AuthorizationError('invalid_request', 'prompt=none cannot be combined with other values');
  if (values.some((v) => v !== 'none')) throw new AuthorizationError('interaction_required', 'only prompt=none is supported: this server authenticates through the mobile network, without user interaction');
}

/**
 * `GET`/`POST /oauth2/authorize`: the OIDC authorization code flow (OIDC Core §3.1.2, RFC 6749
 * §4.1) with PKCE S256 (RFC 7636), authenticating the subscriber by the device's data-path address.
 *
 * A bad `client_id` or `redirect_uri` is answered here with 400 (RFC 6749 §4.1.2.1: never redirect
 * to an unverified URI); every other error and the code go back to the redirect URI with `state`.
 */
export function authorizeRouter(deps: AuthorizeDeps, options: AuthorizeOptions): Router {
  const router = express.Router();
  const limiter = new AddressRateLimiter(deps.redis, deps.key, 'authorize', options.addressRate ?? { requests: 30, windowSeconds: 60 });
  const authorize = async (source: unknown, req: Request, res: Response, next: NextFunction) => {
    res.locals.operation = 'oauth2.authorize';
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    try {
      const { params, repeated } = parameters(source);
      if (repeated.includes('client_id') || repeated.includes('redirect_uri')) throw new OAuthError('invalid_request', 'client_id and redirect_uri must not be repeated');
      if (!params.client_id) throw new OAuthError('invalid_request', 'client_id is required');
      const app = await deps.store.getApplication(params.client_id);
      if (!app) throw new OAuthError('invalid_request', 'unknown client_id');
      // OIDC Core §3.1.2.1: redirect_uri is required and must match a registered one exactly.
      if (!params.redirect_uri || !app.redirectUris.includes(params.redirect_uri)) {
        throw new OAuthError('invalid_request', 'redirect_uri is missing or not registered for this client');
      }
      // A state the client could not recognise is not echoed (a repeated one was never read).
      const stateOk = (params.state?.length ?? 0) <= MAX_STATE_LENGTH;
      const answer = { state: stateOk ? params.state : undefined, iss: options.issuer };
      try {
        if (repeated.length) throw new AuthorizationError('invalid_request', `parameters must not be repeated: ${repeated.join(', ')}`);
        if (!stateOk) throw new AuthorizationError('invalid_request', `state is longer than ${MAX_STATE_LENGTH} characters`);
        const grant = await grantFor(deps, options, app, params, req, limiter);
        const code = await issueCode(deps, grant);
        res.locals.log?.info({ clientId: app.clientId, scope: grant.scope }, 'authorization code issued');
        redirect(res, params.redirect_uri, { code, ...answer });
      } catch (err) {
        if (!(err instanceof AuthorizationError)) throw err;
        res.locals.log?.info({ clientId: app.clientId, error: err.error }, 'authorization refused');
        redirect(res, params.redirect_uri, { error: err.error, error_description: err.description, ...answer });
      }
    } catch (err) {
      next(err);
    }
  };
  router.get('/oauth2/authorize', (req, res, next) => authorize(req.query, req, res, next));
  // OIDC Core §3.1.2.1: the authorization endpoint must accept POST (form-encoded) as well.
  router.post('/oauth2/authorize', express.urlencoded({ extended: false, limit: options.bodyLimitBytes, parameterLimit: 50 }), (req, res, next) =>
    authorize(req.body, req, res, next),
  );
  return router;
}
