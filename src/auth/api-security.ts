import type { IncomingMessage } from 'node:http';
import type { Context } from 'openapi-backend';
import { ApiError } from '../http/errors.ts';
import type { AdmissionCheck, ApiResponse, SecurityCheck } from '../http/api-router.ts';
import { rateLimitHeaders, type Limits } from '../tenancy/limits.ts';
import type { AccessControl, AccessTokenClaims } from './access.ts';
import { safeEqual } from './secrets.ts';

/**
 * The `openId` security scheme of a capability's APIs: the client's token, the operation's scopes
 * and the subscription to `capability`; then, once authorised, the subscription plan's rate and quota.
 */
export function clientSecurity(access: AccessControl, limits: Limits, capability: string): { openId: SecurityCheck; admission: AdmissionCheck } {
  const requirementsOf = (c: Context): string[][] => (c.operation.security ?? []).flatMap((r: Record<string, string[]>) => (r.openId ? [r.openId] : []));
  const openId: SecurityCheck = async (_requirement, c: Context, req: IncomingMessage, res: ApiResponse) => {
    const claims = await access.authenticate(req.headers.authorization);
    res.locals.principal = await access.authorize(claims, requirementsOf(c), capability);
  };
  const admission: AdmissionCheck = async (c: Context, _req: IncomingMessage, res: ApiResponse) => {
    let principal = res.locals.principal;
    if (!principal) return;
    try {
      const state = await limits.check(principal.clientId, capability, principal.plan);
      for (const [name, value] of Object.entries(rateLimitHeaders(state))) res.setHeader(name, value);
      // The rights came from this process's cache and tenancy data changed since: read them again
      // (a suspension or a new plan anywhere applies to this very call).
      if (state.generation !== principal.generation) {
        principal = res.locals.principal = await access.authorize(principal.claims as AccessTokenClaims, requirementsOf(c), capability, true);
      }
    } catch (err) {
      if (err instanceof ApiError) for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
      throw err;
    }
  };
  return { openId, admission };
}

/** The `adminToken` scheme of the operator API: a bearer token compared in constant time. */
export function adminSecurity(adminToken: string): SecurityCheck {
  return async (_requirement, _c, req: IncomingMessage) => {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !safeEqual(m[1].trim(), adminToken)) {
      throw new ApiError('UNAUTHENTICATED', undefined, { headers: { 'WWW-Authenticate': 'Bearer realm="exposure-gateway-admin"' } });
    }
  };
}
