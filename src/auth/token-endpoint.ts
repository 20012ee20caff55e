import { createHash, randomUUID } from 'node:crypto';
import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { ACCESS_TOKEN_ALG, type Keyring } from './keyring.ts';
import { ClientAuthenticator, OAuthError } from './client-auth.ts';
import { revokeSingleUse } from './access.ts';
import {
  CODE_VERIFIER,
  NETWORK_AMR,
  authorizeRouter,
  grantableScopes,
  recordRedemption,
  redeemCode,
  type AuthorizeDeps,
  type Redemption,
} from './authorize.ts';
import { DEVICE_REF_CLAIM, storeDeviceRef } from '../identity/device-ref.ts';
import type { Application } from '../tenancy/types.ts';

export { grantableScopes } from './authorize.ts';

export interface TokenEndpointOptions {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  bodyLimitBytes: number;
  clockToleranceSeconds: number;
  /** The scopes each capability grants, by capability id. */
  capabilityScopes: () => ReadonlyMap<string, readonly string[]>;
}

export interface TokenEndpointDeps extends AuthorizeDeps {
  keyring: Keyring;
  clients: ClientAuthenticator;
}

/** Scopes whose tokens are single-use and short-lived (CAMARA Number Verification after 2.1, PR #226). */
export const SINGLE_USE_SCOPE_PREFIX = 'number-verification:';
/** CAMARA Number Verification (PR #226): its access tokens expire within 300 seconds. */
export const SINGLE_USE_MAX_TTL_SECONDS = 300;

/** RFC 6749 §5.1 successful token response; never a refresh token (CAMARA NV: "no refresh token"). */
interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  id_token?: string;
}

const s256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** OIDC Core §3.1.3.6 `at_hash`: the left half of the SHA-256 of the access token, base64url. */
const atHash = (accessToken: string) => createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

function sendOAuthError(res: Response, err: OAuthError): void {
  if (err.basicChallenge) res.setHeader('WWW-Authenticate', 'Basic realm="exposure-gateway"');
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).json({ error: err.error, error_description: err.description });
}

/**
 * `POST /oauth2/token` (client credentials, RFC 6749 §4.4; authorization code, RFC 6749 §4.1.3 with
 * PKCE), the authorization endpoint, `GET /oauth2/jwks` and the discovery documents. Errors use
 * the RFC 6749 body, not CAMARA's: OAuth clients expect it.
 */
export function tokenRouter(deps: TokenEndpointDeps, options: TokenEndpointOptions): Router {
  const router = express.Router();
  const tokenEndpoint = `${options.issuer}/oauth2/token`;

  async function clientCredentials(application: Application, params: Record<string, string | undefined>): Promise<TokenResponse> {
    const allowed = await grantableScopes(deps.store, application, options.capabilityScopes());
    const requested = params.scope === undefined ? [...allowed] : params.scope.split(' ').filter(Boolean);
    const refused = requested.filter((s) => !allowed.has(s));
    if (refused.length) throw new OAuthError('invalid_scope', `scope not granted to this client: ${refused.join(' ')}`);
    const scope = [...new Set(requested)].sort().join(' ');
    const accessToken = await deps.keyring.sign(
      { iss: options.issuer, aud: options.audience, sub: application.clientId, client_id: application.clientId, tenant_id: application.tenantId, scope },
      options.accessTokenTtlSeconds,
    );
    return { access_token: accessToken, token_type: 'Bearer', expires_in: options.accessTokenTtlSeconds, scope };
  }

  /** RFC 6749 §4.1.2: a code used twice revokes what its first use issued, as far as we can. */
  async function revoke(redemption: Redemption): Promise<void> {
    await revokeSingleUse(deps, redemption.jti, redemption.exp, options.clockToleranceSeconds);
    // The device reference storeDeviceRef wrote: without it the token names no subscriber, so no
    // capability can act on one with it.
    await deps.redis.del(deps.key('devref', redemption.dev));
  }

  async function authorizationCode(application: Application, params: Record<string, string | undefined>, res: Response): Promise<TokenResponse> {
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
    if (!code || !redirectUri) throw new OAuthError('invalid_request', 'code and redirect_uri are required');
    if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE, RFC 7636)');
    if (!CODE_VERIFIER.test(verifier)) throw new OAuthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)');
    const { grant, replayed } = await redeemCode(deps, code);
    if (!grant) {
      if (replayed) {
        await revoke(replayed);
        res.locals.log?.warn({ clientId: application.clientId }, 'authorization code presented again; the token it issued is revoked');
      }
      throw new OAuthError('invalid_grant', 'the code is invalid, expired or already used');
    }
    // The code is spent whatever follows: a wrong verifier gets no second try (RFC 7636 §4.6).
    if (grant.clientId !== application.clientId) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    if (grant.redirectUri !== redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri differs from the one of the authorization request');
    if (s256(verifier) !== grant.codeChallenge) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    const allowed = await grantableScopes(deps.store, application, options.capabilityScopes());
    const scopes = grant.scope.split(' ').filter((s) => s !== 'openid');
    if (scopes.some((s) => !allowed.has(s))) throw new OAuthError('invalid_grant', 'a scope of this code is no longer granted to the client');

    const singleUse = scopes.some((s) => s.startsWith(SINGLE_USE_SCOPE_PREFIX));
    const ttl = singleUse ? Math.min(options.accessTokenTtlSeconds, SINGLE_USE_MAX_TTL_SECONDS) : options.accessTokenTtlSeconds;
    const msisdn = deps.vault.open(grant.sealedMsisdn);
    // OIDC Core §8.1: a pairwise subject, so two clients cannot correlate one subscriber.
    const sub = deps.vault.pseudonym(application.clientId, msisdn);
    const dev = await storeDeviceRef(deps, { phoneNumber: msisdn }, ttl);
    const jti = randomUUID();
    const scope = scopes.sort().join(' ');
    const authn = { sub, amr: [NETWORK_AMR], auth_time: grant.authTime };
    const accessToken = await deps.keyring.sign(
      { iss: options.issuer, aud: options.audience, ...authn, client_id: application.clientId, tenant_id: application.tenantId, scope, [DEVICE_REF_CLAIM]: dev, jti },
      ttl,
    );
    // OIDC Core §3.1.3.3 and §2: typ JWT, aud the client, nonce echoed from the authorization request.
    const idToken = await deps.keyring.sign(
      { iss: options.issuer, aud: application.clientId, azp: application.clientId, ...authn, ...(grant.nonce ? { nonce: grant.nonce } : {}), at_hash: atHash(accessToken) },
      ttl,
      'JWT',
    );
    await recordRedemption(deps, code, { jti, dev, exp: Math.floor(Date.now() / 1000) + ttl });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope, id_token: idToken };
  }

  router.post(
    '/oauth2/token',
    (req: Request, res: Response, next: NextFunction) => {
      res.locals.operation = 'oauth2.token';
      const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded') {
        return next(new OAuthError('invalid_request', 'the token request must be application/x-www-form-urlencoded'));
      }
      next();
    },
    express.urlencoded({ extended: false, limit: options.bodyLimitBytes, parameterLimit: 50 }),
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const body = (req.body ?? {}) as Record<string, unknown>;
        for (const [name, value] of Object.entries(body)) {
          // RFC 6749 §3.2: parameters must not be repeated.
          if (typeof value !== 'string') throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
        }
        const params = body as Record<string, string | undefined>;
        const { application, method } = await deps.clients.authenticate({ authorization: req.headers.authorization, ...params });
        if (!params.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
        if (params.grant_type !== 'client_credentials' && params.grant_type !== 'authorization_code') {
          throw new OAuthError('unsupported_grant_type', `grant_type ${params.grant_type} is not supported`);
        }
        const tenant = await deps.store.getTenant(application.tenantId);
        if (application.status !== 'ACTIVE' || tenant?.status !== 'ACTIVE') {
          throw new OAuthError('unauthorized_client', 'the application or its tenant is suspended');
        }
        const issued =
          params.grant_type === 'client_credentials' ? await clientCredentials(application, params) : await authorizationCode(application, params, res);
        res.locals.log?.info({ clientId: application.clientId, method, grantType: params.grant_type, scope: issued.scope }, 'access token issued');
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
        res.json(issued);
      } catch (err) {
        next(err);
      }
    },
  );

  router.use(authorizeRouter(deps, options));

  router.get('/oauth2/jwks', async (_req, res, next) => {
    try {
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(await deps.keyring.jwks());
    } catch (err) {
      next(err);
    }
  });

  const metadata = () => ({
    issuer: options.issuer,
    authorization_endpoint: `${options.issuer}/oauth2/authorize`,
    token_endpoint: tokenEndpoint,
    jwks_uri: `${options.issuer}/oauth2/jwks`,
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'EdDSA'],
    scopes_supported: [...new Set([...options.capabilityScopes().values()].flat())].sort(),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: [ACCESS_TOKEN_ALG],
    prompt_values_supported: ['none'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'azp', 'at_hash'],
    // RFC 9207: authorization responses carry iss, against mix-up attacks.
    authorization_response_iss_parameter_supported: true,
  });
  router.get('/.well-known/openid-configuration', (_req, res) => res.json(metadata()));
  router.get('/.well-known/oauth-authorization-server', (_req, res) => res.json(metadata()));

  router.use('/oauth2', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof OAuthError) return sendOAuthError(res, err);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') return sendOAuthError(res, new OAuthError('invalid_request', 'request body too large', 413));
    if (type && typeof (err as { status?: number }).status === 'number' && (err as { status: number }).status < 500) {
      return sendOAuthError(res, new OAuthError('invalid_request', 'malformed token request'));
    }
    next(err);
  });
  return router;
}
