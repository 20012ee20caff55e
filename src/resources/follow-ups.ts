/**
 * Work a record's transition owes after it is stored (its CloudEvent, the jobs it enqueues),
 * recorded in the same atomic step as the transition, so that a process that dies before doing
 * it does not lose it. Each owed transition is an entry `<id>:<version>` in a sorted set (score:
 * when it was stored); the entry goes once the work ran (in batches), and any process finishes
 * the entries left older than a grace time. The work must be idempotent: deterministic job ids,
 * and event ids derived from the record and version ({@link followUpEventName}).
 */
import type { RedisClient } from '../infra/redis.ts';
import type { IndexOp, VersionedRecord } from './record-store.ts';

/** The name to derive a transition's CloudEvent id from (`stableEventId`): the same each time its work is done. */
export function followUpEventName(kind: string, r: VersionedRecord): string {
  return `${kind}/${r.id}/${r.v}`;
}

export class FollowUps {
  /** Entries whose work is done, to be taken off the set in one command. */
  private done: string[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    /** The sorted set of owed transitions. */
    readonly key: string,
  ) {}

  /** The index op, for the transition that turns `current` into its next version, that says its work is owed. */
  op(current: VersionedRecord, now: number): IndexOp {
    return ['ZADD', this.key, now, `${current.id}:${current.v + 1}`];
  }

  /** The work of the transition that produced `r` ran: its entry goes with the next batch (20 ms). */
  finished(r: VersionedRecord): void {
    this.done.push(`${r.id}:${r.v}`);
    this.timer ??= setTimeout(() => void this.flush().catch(() => {}), 20);
  }

  /** Takes the finished entries off now (also when the process stops). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.done.splice(0);
    if (entries.length) await this.redis.zrem(this.key, ...entries);
  }

  /**
   * Runs `redo` for each transition owed for longer than `olderThanMs` whose record is still at
   * that version (`load` reads it), then takes its entry off. A record changed since has a later
   * entry of its own, and one that is gone has nothing left to do: their entries just go.
   * Returns how many entries it looked at.
   */
  async recover<R extends VersionedRecord>(load: (id: string) => Promise<R | undefined>, redo: (r: R) => Promise<void>, olderThanMs = 10_000, limit = 500): Promise<number> {
    const entries = await this.redis.zrangebyscore(this.key, 0, Date.now() - olderThanMs, 'LIMIT', 0, limit);
    for (const entry of entries) {
      const at = entry.lastIndexOf(':');
      const r = await load(entry.slice(0, at));
      if (r && r.v === Number(entry.slice(at + 1))) await redo(r);
      await this.redis.zrem(this.key, entry);
    }
    return entries.length;
  }
}
