/**
 * When a resource's next timed transition is due (a QoD session's end, a booked boost's start or
 * end), durable across restarts of any process.
 *
 * A transition could simply be a BullMQ delayed job, but such a job holds about 1.1 KB of Redis
 * (its hash is too large for a listpack, plus its entry in the delayed set): more than the
 * resource itself, for every resource, for all of its life. So a resource whose transition is
 * further away than the horizon waits in a sorted set instead (about 100 B, written atomically
 * with the transition that set it, as an index op of the record store) and gets its job once it is
 * this close ({@link DueSchedule.promote}, every second). Job ids are deterministic
 * (`<resource>-<due time>`), so several processes promoting at once add each job once.
 */
import type { RedisClient } from '../infra/redis.ts';
import type { IndexOp } from './record-store.ts';

// Takes a resource off the schedule only while it is still due at the time the caller saw: a
// change that moved it meanwhile (an extension) must not be undone. KEYS[1] schedule; ARGV id, at.
const UNSCHEDULE = `
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`;

export interface DueScheduleOptions {
  /** The sorted set (member: resource id, score: due time in epoch ms). */
  key: string;
  /** Transitions due within this get their job at once. @defaultValue 60 s */
  horizonMs?: number;
  /**
   * When the resource's next transition is due now, read from the resource itself: undefined when
   * it has none any more (it ended meanwhile). The schedule is only a hint; the record decides.
   */
  dueTime(id: string): Promise<number | undefined>;
  /** Enqueues the job that carries out the transition due at `at` (a deterministic job id). */
  enqueue(id: string, at: number): Promise<void>;
}

export class DueSchedule {
  readonly key: string;
  readonly horizonMs: number;
  /** The promotion under way, if any: one at a time per process. */
  private promoting?: Promise<number>;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: DueScheduleOptions,
  ) {
    this.key = options.key;
    this.horizonMs = options.horizonMs ?? 60_000;
    redis.defineCommand('egDueUnschedule', { numberOfKeys: 1, lua: UNSCHEDULE });
  }

  /** The index op that puts a resource on the schedule, for the record write that sets its due time. */
  op(id: string, at: number): IndexOp {
    return ['ZADD', this.key, at, id];
  }

  /** The index op that takes a resource off the schedule (it ended, or has nothing timed left). */
  removeOp(id: string): IndexOp {
    return ['ZREM', this.key, id];
  }

  /** True when a transition due at `at` is close enough to get its job now. */
  near(at: number, now = Date.now()): boolean {
    return at - now <= this.horizonMs;
  }

  /**
   * After a write that put the resource on the schedule at `at`: a near transition gets its job
   * now (and leaves the set), a far one stays for {@link promote}.
   */
  async settle(id: string, at: number, now = Date.now()): Promise<void> {
    if (!this.near(at, now)) return;
    await this.options.enqueue(id, at);
    await this.unschedule(id, at);
  }

  /** Puts a resource on the schedule at `at` (or moves it), or enqueues its job when near. */
  async place(id: string, at: number, now = Date.now()): Promise<void> {
    if (this.near(at, now)) await this.options.enqueue(id, at);
    else await this.redis.zadd(this.key, at, id);
  }

  /** Takes a resource off the schedule unless it was moved to another time meanwhile. */
  async unschedule(id: string, at: number): Promise<void> {
    await (this.redis as unknown as { egDueUnschedule(...a: Array<string | number>): Promise<number> }).egDueUnschedule(this.key, id, at);
  }

  /** Resources due before `before` (epoch ms), with their due time. */
  async dueBefore(before: number, limit = 500): Promise<Array<[id: string, at: number]>> {
    const flat = await this.redis.zrangebyscore(this.key, 0, before, 'WITHSCORES', 'LIMIT', 0, limit);
    const due: Array<[string, number]> = [];
    for (let i = 0; i < flat.length; i += 2) due.push([flat[i], Number(flat[i + 1])]);
    return due;
  }

  /**
   * Gives the resources due within the horizon their job and takes them off the schedule. Reads
   * each resource: one with nothing due any more only leaves the schedule, one whose transition
   * moved later (a change that could not update the schedule) is moved. Returns how many it saw.
   */
  promote(now = Date.now()): Promise<number> {
    this.promoting ??= (async () => {
      let seen = 0;
      try {
        for (let batch = 0; batch < 20; batch++) {
          const due = await this.dueBefore(now + this.horizonMs);
          for (const [id, at] of due) {
            const current = await this.options.dueTime(id);
            if (current !== undefined && !this.near(current, now)) {
              await this.redis.zadd(this.key, current, id);
              continue;
            }
            if (current !== undefined) await this.options.enqueue(id, current);
            await this.unschedule(id, at);
          }
          seen += due.length;
          if (due.length < 500) break;
        }
        return seen;
      } finally {
        this.promoting = undefined;
      }
    })();
    return this.promoting;
  }
}
