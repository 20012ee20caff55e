import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import type { Keyring } from './keyring.ts';
import { ClientAuthenticator, OAuthError } from './client-auth.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import type { Application } from '../tenancy/types.ts';

export interface TokenEndpointOptions {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  bodyLimitBytes: number;
  /** The scopes each capability grants, by capability id. */
  capabilityScopes: () => ReadonlyMap<string, readonly string[]>;
}

/** The scopes an application may be granted: those of its active subscriptions. */
export async function grantableScopes(store: TenancyStore, app: Application, catalog: ReadonlyMap<string, readonly string[]>): Promise<Set<string>> {
  const scopes = new Set<string>();
  for (const sub of await store.listSubscriptions(app.clientId)) {
    if (sub.status === 'ACTIVE') catalog.get(sub.capability)?.forEach((s) => scopes.add(s));
  }
  return scopes;
}

function sendOAuthError(res: Response, err: OAuthError): void {
  if (err.basicChallenge) res.setHeader('WWW-Authenticate', 'Basic realm="exposure-gateway"');
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).json({ error: err.error, error_description: err.description });
}

/**
 * `POST /oauth2/token` (client credentials, RFC 6749 §4.4), `GET /oauth2/jwks` and the
 * discovery documents. Errors use the RFC 6749 body, not CAMARA's: OAuth clients expect it.
 */
export function tokenRouter(deps: { store: TenancyStore; keyring: Keyring; clients: ClientAuthenticator }, options: TokenEndpointOptions): Router {
  const router = express.Router();
  const tokenEndpoint = `${options.issuer}/oauth2/token`;

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
        if (params.grant_type !== 'client_credentials') {
          throw new OAuthError('unsupported_grant_type', `grant_type ${params.grant_type} is not supported`);
        }
        const tenant = await deps.store.getTenant(application.tenantId);
        if (application.status !== 'ACTIVE' || tenant?.status !== 'ACTIVE') {
          throw new OAuthError('unauthorized_client', 'the application or its tenant is suspended');
        }
        const allowed = await grantableScopes(deps.store, application, options.capabilityScopes());
        const requested = params.scope === undefined ? [...allowed] : params.scope.split(' ').filter(Boolean);
        const refused = requested.filter((s) => !allowed.has(s));
        if (refused.length) throw new OAuthError('invalid_scope', `scope not granted to this client: ${refused.join(' ')}`);
        const scope = [...new Set(requested)].sort().join(' ');
        const accessToken = await deps.keyring.sign(
          { iss: options.issuer, aud: options.audience, sub: application.clientId, client_id: application.clientId, tenant_id: application.tenantId, scope },
          options.accessTokenTtlSeconds,
        );
        res.locals.log?.info({ clientId: application.clientId, method, scope }, 'access token issued');
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
        res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: options.accessTokenTtlSeconds, scope });
      } catch (err) {
        next(err);
      }
    },
  );

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
    token_endpoint: tokenEndpoint,
    jwks_uri: `${options.issuer}/oauth2/jwks`,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'EdDSA'],
    scopes_supported: [...new Set([...options.capabilityScopes().values()].flat())].sort(),
    response_types_supported: [],
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
