import type { KeyBuilder, RedisClient } from '../infra/redis.ts';

// Fixed window: the first request starts it, the key expires with it. KEYS: counter. ARGV: window ms.
const WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

/** How many requests one data-path address may make to a device-facing endpoint. */
export interface AddressRate {
  requests: number;
  windowSeconds: number;
}

/**
 * Requests per data-path address, shared by every gateway process. Device-facing endpoints answer
 * anyone who can reach them, so an address that asks too often (a script enumerating, a tethered
 * laptop replaying) is slowed down before the network is asked who it is. Behind carrier-grade NAT
 * many phones share an address: the limit is generous and counts the address alone.
 */
export class AddressRateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly scope: string,
    readonly rate: AddressRate,
  ) {
    redis.defineCommand('egAddressWindow', { numberOfKeys: 1, lua: WINDOW });
  }

  /** Counts this request; returns undefined when allowed, or the milliseconds until the window ends. */
  async take(address: string): Promise<number | undefined> {
    const run = this.redis as unknown as { egAddressWindow(key: string, windowMs: number): Promise<[number, number]> };
    const [count, resetMs] = await run.egAddressWindow(this.key('rate', this.scope, address), this.rate.windowSeconds * 1000);
    return count > this.rate.requests ? Math.max(1, resetMs) : undefined;
  }
}
