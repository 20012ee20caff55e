import { createHash } from 'node:crypto';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import type { Reply } from '../capabilities/types.ts';
import { ApiError, defineErrors } from './errors.ts';

defineErrors({
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'The Idempotency-Key was already used with a different request.' },
});

interface Entry {
  fingerprint: string;
  state: 'pending' | 'done';
  reply?: Reply;
}

/** Canonical JSON: keys sorted, so the same body always gives the same fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the first request with a key
 * runs; a retry with the same key and the same request replays the first answer; the same key
 * with another request is 422; a retry while the first is still running is 409. Only successful
 * answers are kept (for `ttlSeconds`), so a request that failed can be retried with its key.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly ttlSeconds = 24 * 3600,
  ) {}

  async run(clientId: string, idempotencyKey: string, request: unknown, fn: () => Promise<Reply>): Promise<Reply> {
    const key = idempotencyKey.replace(/^"(.*)"$/, '$1'); // a structured-field string or a bare token
    if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw new ApiError('INVALID_ARGUMENT', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    const recordKey = this.key('idem', clientId, createHash('sha256').update(key).digest('base64url'));
    const fingerprint = createHash('sha256').update(canonical(request)).digest('base64url');
    const pending: Entry = { fingerprint, state: 'pending' };
    const fresh = await this.redis.set(recordKey, JSON.stringify(pending), 'EX', 300, 'NX');
    if (fresh !== 'OK') {
      const raw = await this.redis.get(recordKey);
      const entry = raw ? (JSON.parse(raw) as Entry) : undefined;
      if (!entry) return this.run(clientId, idempotencyKey, request, fn);
      if (entry.fingerprint !== fingerprint) throw new ApiError('IDEMPOTENCY_KEY_REUSED');
      if (entry.state === 'pending') throw new ApiError('CONFLICT', 'a request with this Idempotency-Key is still being processed; retry later', { headers: { 'Retry-After': '1' } });
      return { ...entry.reply!, headers: { ...entry.reply!.headers, 'Idempotent-Replayed': 'true' } };
    }
    try {
      const reply = await fn();
      if (reply.status < 300) {
        await this.redis.set(recordKey, JSON.stringify({ fingerprint, state: 'done', reply } satisfies Entry), 'EX', this.ttlSeconds);
      } else {
        await this.redis.del(recordKey);
      }
      return reply;
    } catch (err) {
      await this.redis.del(recordKey).catch(() => {});
      throw err;
    }
  }
}
