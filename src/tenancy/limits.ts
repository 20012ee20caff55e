import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import { ApiError } from '../http/errors.ts';
import type { Plan } from './types.ts';
import { generationKeyOf } from './store.ts';

// One atomic step per request: a fixed-window rate counter, then (only for requests inside the
// rate) the plan's day/month quota. Every gateway process shares the same counters, so the limit
// holds for the application as a whole however many processes serve it.
// It also returns the tenancy generation (KEYS[3]), so a process authorising calls from cached
// rights learns of any change in the same round trip.
// Returns {verdict, count, windowTtlMs, quotaCount, generation}; verdict 0 = allowed, 1 = rate, 2 = quota.
const CHECK = `
local gen = tonumber(redis.call('GET', KEYS[3]) or '0')
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
if n > tonumber(ARGV[1]) then return {1, n, ttl, 0, gen} end
local qlimit = tonumber(ARGV[3])
if qlimit < 0 then return {0, n, ttl, 0, gen} end
local q = tonumber(redis.call('GET', KEYS[2]) or '0')
if q >= qlimit then return {2, n, ttl, q, gen} end
q = redis.call('INCR', KEYS[2])
if q == 1 then redis.call('EXPIREAT', KEYS[2], ARGV[4]) end
return {0, n, ttl, q, gen}`;

// Takes a slot for a resource if the application holds fewer than the plan allows. Holding the
// same resource twice is a no-op, so a retried job cannot take two slots.
const ACQUIRE = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1`;

/** What the rate limiter tells the client, as RateLimit headers (draft-ietf-httpapi-ratelimit-headers). */
export interface RateLimitState {
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
  /** The tenancy generation read in the same step (see TenancyStore.generationKey). */
  generation: number;
}

export function rateLimitHeaders(s: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Policy': `"default";q=${s.limit};w=${s.windowSeconds}`,
    RateLimit: `"default";r=${s.remaining};t=${s.resetSeconds}`,
  };
}

function periodEnd(period: 'day' | 'month', now: Date): number {
  const end =
    period === 'day'
      ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
      : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return Math.floor(end / 1000);
}

/** Plan enforcement shared by every gateway process: request rate, quota, concurrent resources. */
export class Limits {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly generationKey = generationKeyOf(key),
  ) {
    redis.defineCommand('egLimitCheck', { numberOfKeys: 3, lua: CHECK });
    redis.defineCommand('egSlotAcquire', { numberOfKeys: 1, lua: ACQUIRE });
  }

  /**
   * Counts a request against the plan. Throws 429 TOO_MANY_REQUESTS (with Retry-After) when the
   * rate is exceeded and 429 QUOTA_EXCEEDED when the period's quota is used up.
   */
  async check(clientId: string, capability: string, plan: Plan, now = new Date()): Promise<RateLimitState> {
    const { requests, windowSeconds } = plan.rateLimit;
    const quota = plan.quota;
    const period = quota?.period ?? 'day';
    const periodId = period === 'day' ? now.toISOString().slice(0, 10) : now.toISOString().slice(0, 7);
    const [verdict, count, ttlMs, , generation] = (await (this.redis as unknown as { egLimitCheck(...a: Array<string | number>): Promise<number[]> }).egLimitCheck(
      this.key('rl', clientId, capability),
      this.key('quota', clientId, capability, periodId),
      this.generationKey,
      requests,
      windowSeconds * 1000,
      quota ? quota.requests : -1,
      periodEnd(period, now) + 3600,
    )) as [number, number, number, number, number];
    const state: RateLimitState = {
      limit: requests,
      windowSeconds,
      remaining: Math.max(0, requests - count),
      resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      generation,
    };
    if (verdict === 1) {
      throw new ApiError('TOO_MANY_REQUESTS', `rate limit of ${requests} requests per ${windowSeconds} s reached`, {
        headers: { ...rateLimitHeaders(state), 'Retry-After': String(state.resetSeconds) },
      });
    }
    if (verdict === 2) {
      const retry = Math.max(1, periodEnd(period, now) - Math.floor(now.getTime() / 1000));
      throw new ApiError('QUOTA_EXCEEDED', `quota of ${quota!.requests} requests per ${period} used up`, {
        headers: { ...rateLimitHeaders(state), 'Retry-After': String(retry) },
      });
    }
    return state;
  }

  /**
   * Reserves one of the plan's concurrent resources for `resourceId`; throws 429 QUOTA_EXCEEDED
   * when the application already holds as many as its plan allows.
   */
  async acquire(clientId: string, capability: string, resourceId: string, plan: Plan): Promise<void> {
    const max = plan.maxConcurrentResources;
    if (max === undefined) return;
    const ok = await (this.redis as unknown as { egSlotAcquire(...a: Array<string | number>): Promise<number> }).egSlotAcquire(
      this.slotsKey(clientId, capability),
      resourceId,
      max,
    );
    if (ok !== 1) this.refuseSlot(capability, plan);
  }

  /** The set of resources an application holds against its plan (for callers that take a slot in their own script). */
  slotsKey(clientId: string, capability: string): string {
    return this.key('slots', clientId, capability);
  }

  /** The answer when an application holds as many resources as its plan allows: 429 QUOTA_EXCEEDED. */
  refuseSlot(capability: string, plan: Plan): never {
    throw new ApiError('QUOTA_EXCEEDED', `the plan allows at most ${plan.maxConcurrentResources} concurrent resources of ${capability}`);
  }

  /** Gives a resource's slot back; releasing twice is harmless. */
  async release(clientId: string, capability: string, resourceId: string): Promise<void> {
    await this.redis.srem(this.key('slots', clientId, capability), resourceId);
  }

  /** How many resources an application holds now. */
  async inUse(clientId: string, capability: string): Promise<number> {
    return await this.redis.scard(this.key('slots', clientId, capability));
  }
}
