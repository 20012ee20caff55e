import { createHash } from 'node:crypto';
import { ApiError } from '../../http/errors.ts';
import type { Principal } from '../../auth/access.ts';
import { spendToken, tokenNoLongerValid } from '../../auth/access.ts';
import { NETWORK_AMR } from '../../auth/authorize.ts';
import { safeEqual } from '../../auth/secrets.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { DEVICE_REF_CLAIM, loadDeviceRef } from '../../identity/device-ref.ts';
import type { NumberVault } from '../../identity/number-vault.ts';
import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { ApiRequest, OperationHandler, RequestContext } from '../types.ts';

export const CAPABILITY = 'number-verification';
export const NOT_NETWORK_AUTHENTICATED = 'NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK';

export interface NumberVerificationDeps {
  redis: RedisClient;
  key: KeyBuilder;
  vault: NumberVault;
  audit: AuditLog;
  clockToleranceSeconds: number;
}

/** The `/verify` body: exactly one of the two (the document's min/maxProperties enforce it). */
interface VerifyBody {
  phoneNumber?: string;
  hashedPhoneNumber?: string;
}

/** CAMARA NV 2.1 `hashedPhoneNumber`: hex SHA-256 of the E.164 number with its leading `+`. */
const hashOf = (msisdn: string) => createHash('sha256').update(msisdn).digest('hex');

/** Capability handlers by operationId (openapi/number-verification.yaml). */
export function numberVerificationHandlers(deps: NumberVerificationDeps): Record<string, OperationHandler> {
  const audit = (ctx: RequestContext, operation: string, outcome: string, msisdn?: string) =>
    deps.audit.append(ctx.principal!.tenantId, {
      clientId: ctx.principal!.clientId,
      operation: `${CAPABILITY}.${operation}`,
      outcome,
      numberHmac: msisdn ? deps.vault.hmac(msisdn) : '',
      address: '',
      correlator: ctx.correlator,
    });

  /**
   * The number of the subscriber the token was issued for, spending the token. CAMARA NV 2.1: the
   * token must come from network-based authentication (its `amr`), not SMS OTP or a password, and
   * (NV PR #226) be used once; a second use is 401 like any token no longer valid (RFC 6750 §3.1).
   */
  async function deviceNumber(ctx: RequestContext, operation: string): Promise<string> {
    const principal: Principal = ctx.principal!;
    const { amr, [DEVICE_REF_CLAIM]: ref } = principal.claims;
    if (!Array.isArray(amr) || !amr.includes(NETWORK_AMR) || typeof ref !== 'string') {
      await audit(ctx, operation, NOT_NETWORK_AUTHENTICATED);
      throw new ApiError(NOT_NETWORK_AUTHENTICATED);
    }
    // Gone when the token expired or was revoked (its authorization code was replayed).
    const device = await loadDeviceRef(deps, ref);
    if (!device) throw tokenNoLongerValid('the subscriber of this token is no longer known');
    if (!(await spendToken(deps, principal.claims, deps.clockToleranceSeconds))) {
      await audit(ctx, operation, 'UNAUTHENTICATED', device.phoneNumber);
      throw tokenNoLongerValid('the access token was already used');
    }
    return device.phoneNumber;
  }

  return {
    async phoneNumberVerify(req: ApiRequest<VerifyBody>, ctx) {
      const msisdn = await deviceNumber(ctx, 'phoneNumberVerify');
      const { phoneNumber, hashedPhoneNumber } = req.body;
      const verified = phoneNumber !== undefined ? safeEqual(phoneNumber, msisdn) : safeEqual(hashedPhoneNumber!.toLowerCase(), hashOf(msisdn));
      await audit(ctx, 'phoneNumberVerify', verified ? 'PASS' : 'REJECT', msisdn);
      ctx.log.info({ clientId: ctx.principal!.clientId, hashed: phoneNumber === undefined, verified }, 'phone number verified');
      return { status: 200, body: { devicePhoneNumberVerified: verified } };
    },
    async phoneNumberShare(_req, ctx) {
      const msisdn = await deviceNumber(ctx, 'phoneNumberShare');
      await audit(ctx, 'phoneNumberShare', 'SHARED', msisdn);
      ctx.log.info({ clientId: ctx.principal!.clientId }, 'phone number shared');
      return { status: 200, body: { devicePhoneNumber: msisdn } };
    },
  };
}
