import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import type { DeadLetter, StoredEvent } from './types.ts';
import { SCRIPTS, type ScriptName } from './scripts.ts';

/**
 * Where events wait, kept in Redis so that no process holds anything that a crash could lose.
 *
 * - `notify:event:<id>` (hash): the event (`event`, JSON with its credential) and its delivery
 *   state: `queued` behind others, `scheduled` (its BullMQ job `job` is due at `nextAt`),
 *   `claimed` (a worker is trying it until `leaseUntil`) or `dead`.
 * - `notify:chain:<clientId>:<orderingKey>` (list): the ids of one ordering key, oldest first.
 *   Only the head is ever scheduled or claimed; the next is scheduled in the same script that
 *   removes the head, so a later event can never overtake an earlier one.
 * - `notify:due` (sorted set): chain → when its head must have moved on. The sweeper looks only
 *   at chains past that time (a lost job, a worker that died mid-delivery).
 * - `notify:busy:<clientId>` (sorted set): event → lease end, the client's attempts in flight.
 * - `notify:parked:<clientId>` (list): heads that found their client at its in-flight limit
 *   (state `parked`, no job), oldest first; each attempt that ends wakes one.
 * - `notify:gone:<clientId>` (hash): sink → when it answered 410 Gone.
 * - `notify:dead` and `notify:dead-by-client:<clientId>` (sorted sets): dead letters by time.
 *
 * Every transition is one script fenced on the job id and state it expects, so a worker that
 * lost its lease (stalled, or presumed dead and replaced) can never move a chain twice.
 */

/** What a Lua transition hands back when it scheduled the next event of a chain. */
export interface Scheduled {
  eventId: string;
  job: string;
  correlator: string;
  /** Epoch ms when the job is due. */
  at: number;
}

export interface EventRecord {
  event: StoredEvent;
  chain: string;
  state: 'queued' | 'scheduled' | 'claimed' | 'parked' | 'dead';
  job: string;
  attempts: number;
  nextAt: number;
  leaseUntil: number;
  lastError: string;
  failedAt: number;
}

/** Transition results that scheduled the next event of the chain carry it. */
export type ClaimResult =
  | { kind: 'stale' }
  | { kind: 'gone'; next?: Scheduled }
  | { kind: 'busy' }
  | { kind: 'claimed'; attempts: number };

/** The Redis side of notification delivery: keys and atomic transitions (see the module comment). */
export class Chains {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    /** How long after its due time a scheduled head is looked at by the sweeper. */
    private readonly graceMs: number,
  ) {
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: keys, lua });
  }

  private async run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: Array<string | number>) => Promise<unknown>>)[name];
    return await command.call(this.redis, ...keys, ...args);
  }

  eventKey(id: string): string {
    return this.key('notify', 'event', id);
  }

  private get eventPrefix(): string {
    return this.key('notify', 'event', '');
  }

  chainKey(clientId: string, orderingKey: string): string {
    return this.key('notify', 'chain', encodeURIComponent(clientId), orderingKey);
  }

  private get due(): string {
    return this.key('notify', 'due');
  }

  private busy(clientId: string): string {
    return this.key('notify', 'busy', clientId);
  }

  private parked(clientId: string): string {
    return this.key('notify', 'parked', clientId);
  }

  /** The hash of a client's sinks that answered 410 Gone (sink → when). */
  gone(clientId: string): string {
    return this.key('notify', 'gone', clientId);
  }

  private dead(clientId?: string): string {
    return clientId === undefined ? this.key('notify', 'dead') : this.key('notify', 'dead-by-client', clientId);
  }

  /** The keys every transition of a chain's head touches: its record, its chain, its client's in-flight set, the due set. */
  private headKeys(r: EventRecord): string[] {
    return [this.eventKey(r.event.id), r.chain, this.busy(r.event.clientId), this.due];
  }

  /** Stores an event at the tail of its chain; the job to add when it became the head, null when its sink is gone. */
  async enqueue(event: StoredEvent, now: number): Promise<string | null> {
    return (await this.run(
      'egNotifyEnqueue',
      [this.eventKey(event.id), this.chainKey(event.clientId, event.orderingKey), this.due, this.gone(event.clientId)],
      [event.id, JSON.stringify(event), event.sink, event.correlator, event.clientId, now, this.graceMs],
    )) as string | null;
  }

  /**
   * {@link enqueue}, and when the event became the head and its client has room, claimed for an
   * attempt at once (one script instead of two): the job id and its attempt number. 'parked' when
   * it became the head but its client is at its in-flight limit (one of the client's attempts
   * ending wakes it, as it wakes a head a claim parked); '' when it waits behind others; null when
   * its sink is gone.
   */
  async enqueueClaim(event: StoredEvent, now: number, o: { leaseMs: number; cap: number; parkCheckMs: number }): Promise<{ job: string; attempts: number } | 'parked' | '' | null> {
    const res = (await this.run(
      'egNotifyEnqueueClaim',
      [this.eventKey(event.id), this.chainKey(event.clientId, event.orderingKey), this.due, this.gone(event.clientId), this.busy(event.clientId), this.parked(event.clientId)],
      [event.id, JSON.stringify(event), event.sink, event.correlator, event.clientId, now, this.graceMs, o.leaseMs, o.cap, o.parkCheckMs],
    )) as string[] | null;
    if (res === null) return null;
    if (res[1] === 'parked') return 'parked';
    if (!res[0]) return '';
    return { job: res[0], attempts: Number(res[2] ?? 0) };
  }

  async load(id: string): Promise<EventRecord | undefined> {
    const h = await this.redis.hgetall(this.eventKey(id));
    if (!h.event) return undefined;
    return {
      event: JSON.parse(h.event) as StoredEvent,
      chain: h.chain,
      state: h.state as EventRecord['state'],
      job: h.job ?? '',
      attempts: Number(h.attempts ?? 0),
      nextAt: Number(h.nextAt ?? 0),
      leaseUntil: Number(h.leaseUntil ?? 0),
      lastError: h.lastError ?? '',
      failedAt: Number(h.failedAt ?? 0),
    };
  }

  /**
   * Takes the head of a chain for one attempt, unless the job is stale, the sink gone or the client
   * at its cap (then the head is parked until one of the client's attempts ends).
   */
  async claim(r: EventRecord, job: string, now: number, o: { leaseMs: number; cap: number; parkCheckMs: number }): Promise<ClaimResult> {
    const e = r.event;
    const args = [e.id, job, now, o.leaseMs, o.cap, e.sink, this.eventPrefix, this.graceMs, o.parkCheckMs];
    const res = (await this.run('egNotifyClaim', [...this.headKeys(r), this.gone(e.clientId), this.parked(e.clientId)], args)) as string[];
    switch (res[0]) {
      case 'claimed':
        return { kind: 'claimed', attempts: Number(res[1]) };
      case 'busy':
        return { kind: 'busy' };
      case 'gone':
        return { kind: 'gone', next: scheduled(res.slice(1), now) };
      default:
        return { kind: 'stale' };
    }
  }

  /** Ends a claimed attempt that delivered the event, or found its sink gone (410). */
  async finish(r: EventRecord, job: string, outcome: 'delivered' | 'gone', now: number): Promise<Settled> {
    const e = r.event;
    const goneInfo = JSON.stringify({ at: new Date(now).toISOString(), eventId: e.id });
    const args = [e.id, job, outcome, e.sink, goneInfo, this.eventPrefix, now, this.graceMs];
    const res = (await this.run('egNotifyFinish', [...this.headKeys(r), this.gone(e.clientId), this.parked(e.clientId)], args)) as string[];
    return res[0] === 'ok' ? { stale: false, next: scheduled(res.slice(1, 4), now), wake: scheduled(res.slice(4, 7), now) } : { stale: true };
  }

  /**
   * Schedules another attempt of a head at `at`; the new job id, or null if fenced out. An attempt
   * that was in flight gives its client's slot back, waking a parked head (`wake`).
   */
  async reschedule(r: EventRecord, fence: Fence, at: number, lastError = ''): Promise<{ job: string | null; wake?: Scheduled }> {
    const now = Date.now();
    const args = [r.event.id, fence.job, fence.state, fence.leaseBefore ?? 0, at, this.graceMs, lastError, this.eventPrefix, now];
    const res = (await this.run('egNotifyReschedule', [...this.headKeys(r), this.parked(r.event.clientId)], args)) as string[] | null;
    return res ? { job: res[0], wake: scheduled(res.slice(1, 4), now) } : { job: null };
  }

  /** Makes a head a dead letter and schedules the next event of its chain. */
  async bury(r: EventRecord, fence: Fence, lastError: string, now: number, retentionMs: number): Promise<Settled> {
    const e = r.event;
    const args = [e.id, fence.job, fence.state, fence.leaseBefore ?? 0, lastError.slice(0, 500), now, retentionMs, this.eventPrefix, this.graceMs];
    const res = (await this.run('egNotifyBury', [...this.headKeys(r), this.dead(), this.dead(e.clientId), this.parked(e.clientId)], args)) as string[];
    return res[0] === 'ok' ? { stale: false, next: scheduled(res.slice(1, 4), now), wake: scheduled(res.slice(4, 7), now) } : { stale: true };
  }

  /** Puts a dead letter back at the tail of its chain with fresh attempts; false when there is no such dead letter. */
  async revive(id: string, now: number): Promise<{ found: boolean; job?: string; correlator?: string }> {
    const r = await this.load(id);
    if (!r || r.state !== 'dead') return { found: false };
    const keys = [this.eventKey(id), r.chain, this.due, this.dead(), this.dead(r.event.clientId)];
    const job = (await this.run('egNotifyRevive', keys, [id, now, this.graceMs])) as string | null;
    if (job === null) return { found: false };
    return { found: true, job: job || undefined, correlator: r.event.correlator };
  }

  async purge(id: string): Promise<boolean> {
    const clientId = await this.redis.hget(this.eventKey(id), 'clientId');
    if (!clientId) return false;
    return (await this.run('egNotifyPurge', [this.eventKey(id), this.dead(), this.dead(clientId)], [id])) === 1;
  }

  /** Dead letters, newest first; entries whose retention ran out are dropped from the index on the way. */
  async deadLetters(clientId: string | undefined, limit: number): Promise<DeadLetter[]> {
    const index = this.dead(clientId);
    const ids = await this.redis.zrevrange(index, 0, limit - 1);
    const records = await Promise.all(ids.map((id) => this.load(id)));
    const expired = ids.filter((_, i) => records[i]?.state !== 'dead');
    if (expired.length) await this.redis.zrem(index, ...expired);
    return records
      .filter((r): r is EventRecord => r?.state === 'dead')
      .map((r) => ({
        id: r.event.id,
        clientId: r.event.clientId,
        sink: r.event.sink,
        type: r.event.type,
        orderingKey: r.event.orderingKey,
        attempts: r.attempts,
        lastError: r.lastError,
        failedAt: new Date(r.failedAt).toISOString(),
      }));
  }

  /** Re-enables a sink that answered 410 Gone; true when it was marked. */
  async revokeGone(clientId: string, sink: string): Promise<boolean> {
    return (await this.redis.hdel(this.gone(clientId), sink)) === 1;
  }

  /** Chains whose head should have moved on by now. */
  async overdue(now: number, limit: number): Promise<string[]> {
    return await this.redis.zrangebyscore(this.due, '-inf', now, 'LIMIT', 0, limit);
  }

  /** Looks at a chain again at `at`, provided its head is still in the state the sweeper saw. */
  async recheck(r: EventRecord, at: number): Promise<void> {
    await this.run('egNotifyRecheck', [this.eventKey(r.event.id), this.due], [r.job, r.state, at, r.chain]);
  }

  /** Forgets an empty chain, or skips a head whose record vanished; the next event scheduled, if any. */
  async unblock(chain: string, headSeen: string, now: number): Promise<Scheduled | undefined> {
    const res = (await this.run('egNotifyUnblock', [chain, this.due], [headSeen, this.eventPrefix, now, this.graceMs])) as string[];
    return scheduled(res, now);
  }
}

/** What ending a head's attempt set off: the next event of its chain, and a parked head of its client woken. */
export interface Settled {
  stale: boolean;
  next?: Scheduled;
  wake?: Scheduled;
}

/** The state (and lease) a transition expects the event to be in. */
export interface Fence {
  job: string;
  state: EventRecord['state'];
  /** Only when the lease ended before this time (the sweeper's takeover of a lost attempt). */
  leaseBefore?: number;
}

function scheduled([eventId, job, correlator]: string[], at: number): Scheduled | undefined {
  return eventId ? { eventId, job, correlator: correlator ?? '', at } : undefined;
}
