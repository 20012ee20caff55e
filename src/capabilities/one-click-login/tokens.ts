import { createHash, randomBytes } from 'node:crypto';
import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { PreparedAuditEntry } from '../../audit/audit-log.ts';

// Issues a token only if the number holds fewer unused tokens than allowed within the window
// (China Mobile: 30 in 10 minutes). The count and the record are written in one step, so
// concurrent requests cannot push a number past the limit.
// KEYS: unused-token set of the number, token record. ARGV: now, windowMs, max, member, recordTtlMs, field/value pairs.
// Returns {1, 0} when issued, {0, msUntilASlotFrees} when refused.
const ISSUE = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, 0}`;

// The one place a token changes state. Checking and consuming in one script is what makes a token
// single-use: of two concurrent exchanges exactly one sees ISSUED. Another application's attempt
// is answered before anything changes, so it cannot burn the rightful owner's token.
// When the caller already knows the token's number (it read the record to ask the network first),
// the same step takes the token out of the number's unused count and appends the exchange's audit
// entry: no exchange happens without its entry.
// KEYS: token record, unused set of the number, audit stream (the record key when either is not
// given). ARGV: clientId of the caller, now (ms), token digest, the number's HMAC the unused set is
// for or '', the audit stream's cap or '', audit field/value pairs.
// Returns {verdict, address, port, numberHmac, sealedNumber, done}; the sealed number only with OK;
// done is 1 when the unused count and the audit entry were taken care of here.
const CONSUME = `
local r = redis.call('HMGET', KEYS[1], 'clientId', 'state', 'expiresAt', 'address', 'port', 'numberHmac', 'sealedNumber')
if not r[1] then return {'INVALID'} end
if r[1] ~= ARGV[1] then return {'MISMATCH'} end
local facts = {r[4] or '', r[5] or '', r[6] or ''}
if r[2] == 'USED' then return {'USED', facts[1], facts[2], facts[3]} end
if tonumber(ARGV[2]) >= tonumber(r[3]) then return {'EXPIRED', facts[1], facts[2], facts[3]} end
redis.call('HSET', KEYS[1], 'state', 'USED', 'usedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'sealedNumber')
local done = 0
if ARGV[4] ~= '' and ARGV[4] == facts[3] and ARGV[5] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))
  done = 1
end
return {'OK', facts[1], facts[2], facts[3], r[7] or '', done}`;

interface Scripts {
  egOckIssue(...args: Array<string | number>): Promise<[number, number]>;
  egOckConsume(...args: Array<string | number>): Promise<string[]>;
}

/** What the gateway remembers about a token: never the token itself, and the number only sealed. */
export interface TokenRecord {
  clientId: string;
  /** The data-path address (and source port, behind CGNAT) the token was issued to. */
  address: string;
  port?: number;
  /** `NumberVault.hmac` of the number. */
  numberHmac: string;
  /** `NumberVault.seal` of the number; dropped once the token is used. */
  sealedNumber: string;
  issuedAt: number;
  expiresAt: number;
}

/** The outcome of an exchange attempt. */
export type Consumed =
  | { verdict: 'INVALID' | 'MISMATCH' }
  | { verdict: 'USED' | 'EXPIRED'; address: string; port?: number; numberHmac: string }
  | { verdict: 'OK'; address: string; port?: number; numberHmac: string; sealedNumber: string };

export interface IssueLimits {
  ttlMs: number;
  retentionMs: number;
  unusedMax: number;
  unusedWindowMs: number;
}

/** Tokens are stored under the SHA-256 of their value: a copy of Redis yields no usable token. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** One-click login tokens in Redis (`ock:token:<digest>`, `ock:unused:<numberHmac>`). */
export class TokenStore {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
  ) {
    redis.defineCommand('egOckIssue', { numberOfKeys: 2, lua: ISSUE });
    redis.defineCommand('egOckConsume', { numberOfKeys: 3, lua: CONSUME });
    this.scripts = redis as unknown as Scripts;
  }

  private recordKey(digest: string): string {
    return this.key('ock', 'token', digest);
  }

  private unusedKey(numberHmac: string): string {
    return this.key('ock', 'unused', numberHmac);
  }

  /**
   * Creates a token for a record. Returns the token, or how long until the number may have
   * another one when it holds as many unused tokens as allowed.
   */
  async issue(record: Omit<TokenRecord, 'issuedAt' | 'expiresAt'>, limits: IssueLimits, now = Date.now()): Promise<{ token: string } | { retryAfterMs: number }> {
    // 256 random bits: guessing a live token is hopeless even at the gateway's full rate.
    const token = randomBytes(32).toString('base64url');
    const digest = tokenDigest(token);
    const fields: Record<string, string> = {
      clientId: record.clientId,
      address: record.address,
      ...(record.port !== undefined ? { port: String(record.port) } : {}),
      numberHmac: record.numberHmac,
      sealedNumber: record.sealedNumber,
      issuedAt: String(now),
      expiresAt: String(now + limits.ttlMs),
      state: 'ISSUED',
    };
    const [issued, retryAfterMs] = await this.scripts.egOckIssue(
      this.unusedKey(record.numberHmac),
      this.recordKey(digest),
      now,
      limits.unusedWindowMs,
      limits.unusedMax,
      digest,
      limits.ttlMs + limits.retentionMs,
      ...Object.entries(fields).flat(),
    );
    return issued === 1 ? { token } : { retryAfterMs: Math.max(1, retryAfterMs) };
  }

  /**
   * Reads a token's record without changing it, to prepare an exchange; only {@link consume}
   * decides whether the exchange happens.
   */
  async peek(token: string): Promise<(TokenRecord & { state: string }) | undefined> {
    const [clientId, state, address, port, numberHmac, sealedNumber, issuedAt, expiresAt] = await this.redis.hmget(
      this.recordKey(tokenDigest(token)),
      'clientId', 'state', 'address', 'port', 'numberHmac', 'sealedNumber', 'issuedAt', 'expiresAt',
    );
    if (!clientId || !state || !address || !numberHmac) return undefined;
    return { clientId, state, address, port: port ? Number(port) : undefined, numberHmac, sealedNumber: sealedNumber ?? '', issuedAt: Number(issuedAt), expiresAt: Number(expiresAt) };
  }

  /**
   * Consumes a token for `clientId` (see CONSUME); a used token also leaves its number's unused
   * count. With `known` (the number's HMAC as read before, and the audit entry of the exchange)
   * both happen in the consuming step; `audited` tells whether the entry was appended.
   */
  async consume(token: string, clientId: string, now = Date.now(), known?: { numberHmac: string; audit: PreparedAuditEntry }): Promise<Consumed & { audited?: boolean }> {
    const digest = tokenDigest(token);
    const record = this.recordKey(digest);
    const [verdict, address, port, numberHmac, sealedNumber, done] = await this.scripts.egOckConsume(
      record,
      known ? this.unusedKey(known.numberHmac) : record,
      known ? known.audit.key : record,
      clientId,
      now,
      digest,
      known?.numberHmac ?? '',
      known?.audit.maxEntries ?? '',
      ...(known?.audit.fields ?? []),
    );
    if (verdict === 'INVALID' || verdict === 'MISMATCH') return { verdict };
    const facts = { address: address ?? '', port: port ? Number(port) : undefined, numberHmac: numberHmac ?? '' };
    if (verdict !== 'OK') return { verdict: verdict as 'USED' | 'EXPIRED', ...facts };
    // The set's key is the number's: without `known` it is only known now. Missing this step only
    // delays the slot until the window passes.
    if (String(done) !== '1') await this.redis.zrem(this.unusedKey(facts.numberHmac), digest).catch(() => 0);
    return { verdict: 'OK', ...facts, sealedNumber: sealedNumber ?? '', audited: String(done) === '1' };
  }
}
