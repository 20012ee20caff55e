/**
 * Versioned JSON records in Redis, written together with the index changes that go with them in
 * one atomic step. Every capability that keeps a resource with a lifecycle (QoD sessions,
 * bandwidth requests, ...) stores it through this, so each state transition is one compare-and-set.
 */
import type { RedisClient } from '../infra/redis.ts';

/** What every stored record has: an id and a version that increments on every change. */
export interface VersionedRecord {
  id: string;
  v: number;
}

/** One index change applied with a record write. */
export type IndexOp = [command: 'SADD' | 'SREM' | 'ZADD' | 'ZREM' | 'DEL' | 'EXPIRE' | 'HSET' | 'HDEL' | 'INCR', key: string, ...args: Array<string | number>];

/**
 * A condition on another key checked in the same step as the write: the key's value must equal
 * `expected` (null: the key must not exist). Used to fence a write on what the caller read, for
 * example the version of a line's booking calendar.
 */
export type Guard = [key: string, expected: string | null];

// Compare-and-set of a record plus the index changes that go with it, in one atomic step.
// KEYS[1] record; KEYS[2..] keys the ops and guards use. ARGV: expected version (-1 = must not
// exist), new JSON, TTL seconds (0 = none), ops as JSON [[command, keyIndex, arg...], ...], guards
// as JSON [[keyIndex, expected or false], ...] ('' = none).
// Returns 1 written, 0 version changed, -1 gone, -2 a guard failed.
const CAS = `
local cur = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if expected == -1 then
  if cur then return 0 end
else
  if not cur then return -1 end
  if cjson.decode(cur).v ~= expected then return 0 end
end
if ARGV[5] ~= '' then
  for _, g in ipairs(cjson.decode(ARGV[5])) do
    local v = redis.call('GET', KEYS[g[1]])
    if g[2] == false then
      if v then return -2 end
    elseif v ~= g[2] then
      return -2
    end
  end
end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
for _, op in ipairs(cjson.decode(ARGV[4])) do
  local args = {}
  for i = 3, #op do args[#args + 1] = op[i] end
  redis.call(op[1], KEYS[op[2]], unpack(args))
end
return 1`;

/** What a write came to. */
export type WriteOutcome = 'written' | 'version-changed' | 'gone' | 'guard-failed';

const OUTCOMES: Record<number, WriteOutcome> = { 1: 'written', 0: 'version-changed', [-1]: 'gone', [-2]: 'guard-failed' };

export class ConcurrentChangeError extends Error {
  constructor(id: string) {
    super(`record ${id} changed concurrently`);
    this.name = 'ConcurrentChangeError';
  }
}

/** The change a transition makes: the next record, its index ops, and how long an ended record stays. */
export interface Change<R> {
  next: R;
  ops?: IndexOp[];
  ttlSeconds?: number;
}

export class RecordStore<R extends VersionedRecord> {
  constructor(
    readonly redis: RedisClient,
    /** The Redis key of a record. */
    readonly keyOf: (id: string) => string,
  ) {
    // The number of keys varies with the ops, so it is passed first on each call.
    redis.defineCommand('egRecordCas', { lua: CAS });
  }

  async get(id: string): Promise<R | undefined> {
    const raw = await this.redis.get(this.keyOf(id));
    return raw ? (JSON.parse(raw) as R) : undefined;
  }

  async getMany(ids: string[]): Promise<R[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keyOf(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as R);
  }

  /**
   * Writes `next` if the stored record still has version `expected` (-1: does not exist yet) and
   * every guard holds, together with the index ops.
   */
  async writeChecked(next: R, expected: number, ops: IndexOp[] = [], ttlSeconds = 0, guards: Guard[] = []): Promise<WriteOutcome> {
    const keys = [...new Set([...ops.map((op) => op[1]), ...guards.map((g) => g[0])])];
    const encodedOps = ops.map(([cmd, key, ...args]) => [cmd, keys.indexOf(key) + 2, ...args.map(String)]);
    const encodedGuards = guards.length ? JSON.stringify(guards.map(([key, value]) => [keys.indexOf(key) + 2, value ?? false])) : '';
    const result = await (this.redis as unknown as { egRecordCas(...a: Array<string | number>): Promise<number> }).egRecordCas(
      keys.length + 1,
      this.keyOf(next.id),
      ...keys,
      expected,
      JSON.stringify(next),
      ttlSeconds,
      JSON.stringify(encodedOps),
      encodedGuards,
    );
    return OUTCOMES[result] ?? 'version-changed';
  }

  /** {@link writeChecked} without guards: false when someone changed the record first. */
  async write(next: R, expected: number, ops: IndexOp[] = [], ttlSeconds = 0): Promise<boolean> {
    return (await this.writeChecked(next, expected, ops, ttlSeconds)) === 'written';
  }

  /**
   * Applies `change` to the current version, retrying on concurrent changes. `change` returns the
   * new record and its index ops, or undefined to leave the record as it is. `known` is a version
   * the caller just read: tried first without reading again (the write is still fenced on its
   * version, so a stale one only costs a retry).
   */
  async update(id: string, change: (current: R) => Change<R> | undefined, known?: R): Promise<{ before: R; after: R } | undefined> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = attempt === 0 && known?.id === id ? known : await this.get(id);
      if (!current) return undefined;
      const result = change(current);
      if (!result) return undefined;
      const next = { ...result.next, v: current.v + 1 };
      if (await this.write(next, current.v, result.ops, result.ttlSeconds)) return { before: current, after: next };
    }
    throw new ConcurrentChangeError(id);
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(this.keyOf(id));
  }
}
