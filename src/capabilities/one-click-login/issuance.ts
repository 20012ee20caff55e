import { ApiError } from '../../http/errors.ts';
import type { AddressRateLimiter } from '../../identity/address-rate.ts';
import { clientAddress, describeAddress, type TrustedProxies } from '../../identity/client-address.ts';
import { maskNumber, type NumberVault } from '../../identity/number-vault.ts';
import type { AddressResolver } from '../../../adapters/ports.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { TenancyStore } from '../../tenancy/store.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { ApiRequest, Reply, RequestContext } from '../types.ts';
import { CAPABILITY, policyOf, type ApplicationPolicy, type OneClickLoginSettings } from './settings.ts';
import type { TokenStore } from './tokens.ts';

export interface IssuanceDeps {
  tokens: TokenStore;
  /** Token requests per data-path address (`settings.addressRate`). */
  perAddress: AddressRateLimiter;
  store: TenancyStore;
  limits: Limits;
  vault: NumberVault;
  audit: AuditLog;
  trustedProxies: TrustedProxies;
  addresses?: AddressResolver;
  settings: OneClickLoginSettings;
}

function tooManyRequests(message: string, retryAfterMs: number): ApiError {
  return new ApiError('TOO_MANY_REQUESTS', message, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } });
}

/**
 * The application a device asks for, and its policy. The device holds no secret, so the client id
 * is only a claim; what it earns is a token that only that application's server can exchange.
 * Unknown, suspended and unsubscribed applications get the same answer, so the endpoint does not
 * tell which client ids exist.
 */
async function applicationOf(deps: IssuanceDeps, clientId: string, appSignature: string | undefined): Promise<{ tenantId: string; policy: ApplicationPolicy }> {
  const denied = () => new ApiError('PERMISSION_DENIED', 'this application may not use one-click login');
  const app = await deps.store.getApplication(clientId);
  if (!app) throw denied();
  const { tenant, subscription } = await deps.store.accessState(clientId, app.tenantId, CAPABILITY);
  if (app.status !== 'ACTIVE' || tenant?.status !== 'ACTIVE' || subscription?.status !== 'ACTIVE') throw denied();
  const policy = policyOf(subscription.plan, deps.settings);
  // SIMulation (DSN'22): another app on the same phone can claim this app's id; the signature the
  // SDK reports raises the bar for that without proving anything, hence only when configured.
  if (policy.appSignatures && (!appSignature || !policy.appSignatures.includes(appSignature))) throw denied();
  return { tenantId: app.tenantId, policy };
}

/**
 * `createToken`: identifies the phone by its data-path address and issues a token bound to the
 * application and that address. Limits apply cheapest and widest first: the address (before any
 * lookup, so a scanner cannot make the gateway query the network), the application, the number.
 */
export async function createToken(deps: IssuanceDeps, req: ApiRequest<{ clientId: string; appSignature?: string }>, ctx: RequestContext): Promise<Reply> {
  const { settings } = deps;
  const source = clientAddress(req.peer, req.headers, deps.trustedProxies);
  const wait = await deps.perAddress.take(source.address);
  if (wait !== undefined) {
    throw tooManyRequests(`at most ${settings.addressRate.requests} token requests per ${settings.addressRate.windowSeconds} s from one address`, wait);
  }

  const { clientId, appSignature } = req.body;
  const { tenantId, policy } = await applicationOf(deps, clientId, appSignature);
  // The application's own issuance rate, counted apart from the rate of its server's calls.
  await deps.limits.check(clientId, `${CAPABILITY}.tokens`, { rateLimit: policy.issuanceRate });

  const msisdn = await deps.addresses?.msisdnAt(source.address, source.port);
  if (!msisdn) {
    throw new ApiError('ONE_CLICK_LOGIN.NOT_ON_MOBILE_NETWORK', 'the request does not come over the mobile data network; turn off Wi-Fi or use another login method');
  }
  const numberHmac = deps.vault.hmac(msisdn);
  const perNumber = settings.unusedTokensPerNumber;
  const issued = await deps.tokens.issue(
    { clientId, address: source.address, port: source.port, numberHmac, sealedNumber: deps.vault.seal(msisdn) },
    { ttlMs: policy.tokenTtlSeconds * 1000, retentionMs: settings.usedTokenRetentionSeconds * 1000, unusedMax: perNumber.max, unusedWindowMs: perNumber.windowSeconds * 1000 },
  );
  if (!('token' in issued)) {
    throw tooManyRequests(`at most ${perNumber.max} unused tokens per phone number within ${perNumber.windowSeconds} s`, issued.retryAfterMs);
  }
  await deps.audit.append(tenantId, { clientId, operation: `${CAPABILITY}.createToken`, outcome: 'ISSUED', numberHmac, address: describeAddress(source), correlator: ctx.correlator });
  // The HTTP layer counts calls of authenticated clients only; this call has none, so it is counted here.
  deps.store.recordUsage(clientId, CAPABILITY, 'createToken', 201);
  return { status: 201, body: { token: issued.token, expiresIn: policy.tokenTtlSeconds, maskedPhoneNumber: maskNumber(msisdn) } };
}
