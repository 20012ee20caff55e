import { ApiError } from '../../http/errors.ts';
import type { Principal } from '../../auth/access.ts';
import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import { DEVICE_REF_CLAIM, loadDeviceRef } from '../../identity/device-ref.ts';
import type { NumberVault } from '../../identity/number-vault.ts';
import { DependencyUnavailableError, type SimHistory } from '../../../adapters/ports.ts';
import type { ApiRequest, OperationHandler } from '../types.ts';

/** CAMARA SIM Swap `CreateCheckSimSwap.maxAge`: the period checked when the request leaves it out, in hours. */
export const DEFAULT_MAX_AGE_HOURS = 240;
const HOUR_MS = 3_600_000;

export interface SimSwapDeps {
  sims: SimHistory;
  redis: RedisClient;
  key: KeyBuilder;
  vault: NumberVault;
}

interface SimSwapBody {
  phoneNumber?: string;
  maxAge?: number;
}

/** The current SIM's pairing, as the handlers use it: the date as a time, checked. */
interface Pairing {
  changedAt: number;
  swapped: boolean;
}

/**
 * The phone number a request is about. CAMARA SIM Swap, "Identifying the phone number from the
 * access token": a two-legged token needs `phoneNumber` (422 MISSING_IDENTIFIER); a three-legged
 * one names the number itself, so `phoneNumber` is refused even when it is the same number
 * (422 UNNECESSARY_IDENTIFIER: the provider does not compare them).
 */
async function phoneNumberOf(body: SimSwapBody | undefined, principal: Principal, deps: SimSwapDeps): Promise<string> {
  const ref = principal.claims[DEVICE_REF_CLAIM];
  if (typeof ref === 'string') {
    if (body?.phoneNumber !== undefined) throw new ApiError('UNNECESSARY_IDENTIFIER', 'the phone number is already identified by the access token');
    const bound = await loadDeviceRef(deps, ref);
    if (!bound) throw new ApiError('IDENTIFIER_NOT_FOUND', 'the phone number of this access token is no longer known');
    return bound.phoneNumber;
  }
  if (body?.phoneNumber === undefined) throw new ApiError('MISSING_IDENTIFIER', 'the phone number cannot be identified: give phoneNumber');
  return body.phoneNumber;
}

/** The MSISDN ↔ IMSI pairing of the request's number; 404 IDENTIFIER_NOT_FOUND when the network does not serve it. */
async function pairingOf(req: ApiRequest<SimSwapBody | undefined>, principal: Principal, deps: SimSwapDeps): Promise<Pairing> {
  const sim = await deps.sims.simInfo(await phoneNumberOf(req.body, principal, deps));
  if (!sim) throw new ApiError('IDENTIFIER_NOT_FOUND', 'phone number not found');
  const changedAt = Date.parse(sim.latestSimChange);
  // A fraud check must not answer "not swapped" from a date it cannot read: no answer is safer.
  if (Number.isNaN(changedAt)) throw new DependencyUnavailableError('the subscriber database answered a SIM change date that is not a date');
  return { changedAt, swapped: sim.swapped };
}

/** The operations of CAMARA SIM Swap, by operationId. Nothing is stored: each answer is read from the network. */
export function simSwapHandlers(deps: SimSwapDeps): Record<string, OperationHandler> {
  return {
    /**
     * The latest swap, or the first SIM's activation when there was none: CAMARA allows the
     * activation date when the operator monitors the SIM history without a time limit, which
     * ours does, so neither `null` nor `monitoredPeriod` is ever answered.
     */
    async retrieveSimSwapDate(req: ApiRequest<SimSwapBody | undefined>, ctx) {
      const { changedAt } = await pairingOf(req, ctx.principal!, deps);
      return { status: 200, body: { latestSimChange: new Date(changedAt).toISOString() } };
    },

    /** A swap within `maxAge` hours before now; the first activation of a number is not a swap. */
    async checkSimSwap(req: ApiRequest<SimSwapBody | undefined>, ctx) {
      const maxAgeMs = (req.body?.maxAge ?? DEFAULT_MAX_AGE_HOURS) * HOUR_MS;
      const { changedAt, swapped } = await pairingOf(req, ctx.principal!, deps);
      return { status: 200, body: { swapped: swapped && changedAt >= Date.now() - maxAgeMs } };
    },
  };
}
