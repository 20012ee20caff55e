import type { JobsOptions } from 'bullmq';
import type { JobQueues } from '../../jobs/queues.ts';
import type { JobData } from '../../jobs/registry.ts';
import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { Logger } from '../../infra/logger.ts';
import { stableEventId, type Notifier } from '../../notify/index.ts';
import { DueSchedule } from '../../resources/due-schedule.ts';
import { FollowUps, followUpEventName } from '../../resources/follow-ups.ts';
import type { IndexOp } from '../../resources/record-store.ts';
import { active, type BandwidthRequestRecord, type RequestStore, type StatusInfo } from './requests.ts';

export const CAPABILITY = 'dedicated-line';
export const EVENT_TYPE = 'org.exposure-gateway.dedicated-line.v1.bandwidth-status-changed';

declare module '../../jobs/registry.ts' {
  interface JobDataMap {
    /** A request's timed transition: its booked start (the line must change) or its end. */
    'dedicated-line.timer': { requestId: string; at: number };
    /** Bring a line's bandwidth to what its requests in force want now. */
    'dedicated-line.sync': { lineId: string };
  }
}

export interface LifecycleOptions {
  /** Base URL of the gateway, for CloudEvents `source`. */
  publicUrl: string;
  /** How long an ended request stays readable. @defaultValue 3600 s */
  retentionSeconds: number;
  /** Tries of a line change while the OSS cannot be reached; after the last one the requests waiting on it end NETWORK_TERMINATED. @defaultValue 5 */
  syncAttempts: number;
  /** Back-off before the second try, doubling after (with jitter). @defaultValue 500 ms */
  syncBackoffMs: number;
}

/**
 * When a request's next timed transition is due: its booked start until that was acted on, then its end.
 */
export function dueTime(r: BandwidthRequestRecord): number | undefined {
  if (!active(r)) return undefined;
  return r.started ? r.endAt : r.startAt;
}

/**
 * The request state machine's side effects, in one place: every transition updates the record,
 * the line's bookings and the timers atomically, frees the plan slot, asks for the line to be
 * brought in line with its requests, and tells the sink.
 */
export class BandwidthLifecycle {
  /** When requests start and end. */
  readonly schedule: DueSchedule;
  /** Transitions whose event may still be owed (see resources/follow-ups.ts). */
  readonly followUps: FollowUps;

  constructor(
    readonly requests: RequestStore,
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
    private readonly queues: JobQueues,
    private readonly limits: Limits,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    readonly options: LifecycleOptions,
  ) {
    this.followUps = new FollowUps(redis, requests.effectsKey);
    this.schedule = new DueSchedule(redis, {
      key: requests.dueKey,
      dueTime: async (id) => {
        const r = await requests.get(id);
        return r && dueTime(r);
      },
      enqueue: (id, at) => this.enqueue('dedicated-line.timer', { requestId: id, at, correlator: `timer-${id}` }, `tmr-${id}-${at}`, at - Date.now()),
    });
  }

  async enqueue<N extends 'dedicated-line.timer' | 'dedicated-line.sync'>(name: N, data: JobData<N>, jobId: string, delayMs = 0, opts: JobsOptions = {}): Promise<void> {
    await this.queues.add(name, data, { ...opts, jobId, delay: Math.max(0, delayMs) });
  }

  /** Increments whenever what a line should carry may have changed; the sync job runs until it stops moving. */
  generationKey(lineId: string): string {
    return this.key('dl', 'gen', lineId);
  }

  /**
   * Asks for the line to be brought to what its requests want now. Each call is a new generation
   * and a new job; a sync already running on the line takes the newer generation in before it
   * stops (see the sync processor), so no change is ever left behind.
   */
  async requestSync(lineId: string, correlator = `sync-${lineId}`): Promise<void> {
    const gen = await this.redis.incr(this.generationKey(lineId));
    const retry = { attempts: this.options.syncAttempts, backoff: { type: 'exponential', delay: this.options.syncBackoffMs, jitter: 0.5 } };
    await this.enqueue('dedicated-line.sync', { lineId, correlator }, `sync-${lineId}-${gen}`, 0, retry);
  }

  source(r: Pick<BandwidthRequestRecord, 'id' | 'lineId'>): string {
    return `${this.options.publicUrl}/dedicated-line/v1/lines/${encodeURIComponent(r.lineId)}/bandwidth-requests/${r.id}`;
  }

  /**
   * Tells the request's sink about the status change that made version `r.v`, in order per
   * request; the event's id is derived from the request and version, so doing it again (after a
   * crash) never queues it twice.
   */
  async notify(r: BandwidthRequestRecord, status: 'AVAILABLE' | 'UNAVAILABLE', statusInfo?: StatusInfo): Promise<void> {
    if (!r.sink) return;
    await this.notifier.enqueue({
      id: stableEventId(followUpEventName('dl', r)),
      clientId: r.clientId,
      sink: r.sink,
      sinkCredential: r.sinkCredential,
      orderingKey: `dl:${r.id}`,
      type: EVENT_TYPE,
      source: this.source(r),
      data: { requestId: r.id, lineId: r.lineId, status, ...(statusInfo ? { statusInfo } : {}) },
      correlator: r.correlator,
    });
  }

  /**
   * Lines whose bandwidth may no longer match their requests (score: since when). Marked in the
   * same step as the change, cleared by a sync that saw it: a process that dies between a change
   * and asking for the sync leaves the mark, and the sweep asks again.
   */
  get dirtyKey(): string {
    return this.key('dl', 'dirty');
  }

  /** The index ops that take a request's booking off its line. */
  private unbook(r: BandwidthRequestRecord, now: number): IndexOp[] {
    return [
      ['HDEL', this.requests.calendarKey(r.lineId), r.id],
      ['INCR', this.requests.calendarVersionKey(r.lineId)],
      this.schedule.removeOp(r.id),
      ['ZADD', this.dirtyKey, now, r.lineId],
    ];
  }

  /** Asks again for the sync of lines marked dirty longer than `graceMs` ago (a sync never followed). */
  async sweepDirty(now = Date.now(), graceMs = 10_000): Promise<number> {
    const lines = await this.redis.zrangebyscore(this.dirtyKey, 0, now - graceMs, 'LIMIT', 0, 100);
    for (const lineId of lines) {
      await this.redis.zadd(this.dirtyKey, now, lineId);
      await this.requestSync(lineId);
    }
    return lines.length;
  }

  /**
   * The booked start came: the line must now carry the request. Asks for the sync first, then
   * moves the request's timer to its end; a crash in between runs this again, which only asks
   * for one more (harmless) sync.
   */
  async start(r: BandwidthRequestRecord): Promise<void> {
    await this.requestSync(r.lineId, r.correlator);
    const result = await this.requests.update(r.id, (cur) => (active(cur) && !cur.started ? { next: { ...cur, started: true }, ops: [this.schedule.op(cur.id, cur.endAt)] } : undefined), r);
    if (result) await this.schedule.settle(r.id, result.after.endAt);
  }

  /**
   * Does the follow-up work of transitions whose process died between storing the transition and
   * doing it: the event (the same id again; one still waiting is not queued twice). The line's
   * sync needs nothing here: the dirty mark written with the transition has it asked again.
   */
  recoverEffects(olderThanMs = 10_000): Promise<number> {
    return this.followUps.recover(
      (id) => this.requests.get(id),
      async (r) => {
        this.logger.warn({ requestId: r.id, status: r.status, correlator: r.correlator }, 'finishing the follow-up work of a bandwidth request transition whose process stopped before it');
        if (r.status === 'AVAILABLE') await this.notify(r, 'AVAILABLE');
        else if (r.status === 'UNAVAILABLE' || (r.status === 'DELETED' && r.statusInfo === 'DELETE_REQUESTED')) await this.notify(r, 'UNAVAILABLE', r.statusInfo);
      },
      olderThanMs,
    );
  }

  /** REQUESTED or SCHEDULED → AVAILABLE: the network carries the boost. */
  async available(id: string, now = Date.now(), known?: BandwidthRequestRecord): Promise<boolean> {
    const result = await this.requests.update(
      id,
      (cur) => ((cur.status === 'REQUESTED' || cur.status === 'SCHEDULED') && now < cur.endAt ? { next: { ...cur, status: 'AVAILABLE', startedAt: now }, ops: [this.followUps.op(cur, now)] } : undefined),
      known,
    );
    if (!result) return false;
    await this.notify(result.after, 'AVAILABLE');
    this.followUps.finished(result.after);
    this.logger.info({ requestId: id, lineId: result.after.lineId, correlator: result.after.correlator }, 'bandwidth boost in force');
    return true;
  }

  /**
   * Ends an active request (UNAVAILABLE with `statusInfo`): its booking freed, its plan slot
   * released, the line asked to drop the boost, its sink told.
   */
  async end(id: string, statusInfo: StatusInfo, when: (r: BandwidthRequestRecord) => boolean = () => true, now = Date.now(), known?: BandwidthRequestRecord): Promise<BandwidthRequestRecord | undefined> {
    const result = await this.requests.update(
      id,
      (cur) => {
        if (!active(cur) || !when(cur)) return undefined;
        const endedAt = statusInfo === 'DURATION_EXPIRED' ? cur.endAt : Math.min(now, cur.endAt);
        // Its plan slot is freed in the same step.
        const ops: IndexOp[] = [...this.unbook(cur, now), ['SREM', this.limits.slotsKey(cur.clientId, CAPABILITY), cur.id], this.followUps.op(cur, now)];
        return { next: { ...cur, status: 'UNAVAILABLE', statusInfo, endedAt }, ops, ttlSeconds: this.options.retentionSeconds };
      },
      known,
    );
    if (!result) return undefined;
    const { before, after } = result;
    if (now >= before.startAt) await this.requestSync(after.lineId, after.correlator);
    await this.notify(after, 'UNAVAILABLE', statusInfo);
    this.followUps.finished(after);
    this.logger.info({ requestId: id, lineId: after.lineId, statusInfo, correlator: after.correlator }, 'bandwidth request ended');
    return after;
  }

  /**
   * The client deleted the request: hidden at once, its booking and plan slot freed in the same
   * step, the boost dropped if it was in force. An active request's record says DELETE_REQUESTED;
   * an ended one keeps its own end, so its follow-up work knows there is no event to send.
   */
  async delete(r: BandwidthRequestRecord, now = Date.now()): Promise<void> {
    const result = await this.requests.update(r.id, (cur) => {
      if (cur.status === 'DELETED') return undefined;
      const ops: IndexOp[] = [
        ...this.unbook(cur, now),
        ['SREM', this.requests.clientIndex(cur.clientId, cur.lineId), cur.id],
        ['SREM', this.limits.slotsKey(cur.clientId, CAPABILITY), cur.id],
        this.followUps.op(cur, now),
      ];
      const next: BandwidthRequestRecord = active(cur) ? { ...cur, status: 'DELETED', statusInfo: 'DELETE_REQUESTED', endedAt: Math.min(now, cur.endAt) } : { ...cur, status: 'DELETED' };
      return { next, ops, ttlSeconds: this.options.retentionSeconds };
    });
    if (!result) return;
    const { before, after } = result;
    if (!active(before)) return this.followUps.finished(after);
    if (now >= before.startAt) await this.requestSync(before.lineId, before.correlator);
    await this.notify(after, 'UNAVAILABLE', 'DELETE_REQUESTED');
    this.followUps.finished(after);
    this.logger.info({ requestId: before.id, lineId: before.lineId, correlator: before.correlator }, 'bandwidth request deleted');
  }
}
