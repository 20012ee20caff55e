import type { JobsOptions } from 'bullmq';
import type { JobQueues } from '../../jobs/queues.ts';
import type { JobData } from '../../jobs/registry.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { Logger } from '../../infra/logger.ts';
import { stableEventId, type Notifier } from '../../notify/index.ts';
import { DueSchedule } from '../../resources/due-schedule.ts';
import { FollowUps, followUpEventName } from '../../resources/follow-ups.ts';
import type { IndexOp, SessionRecord, SessionStore, StatusInfo } from './sessions.ts';

export const CAPABILITY = 'quality-on-demand';
export const EVENT_TYPE = 'org.camaraproject.quality-on-demand.v1.qos-status-changed';

declare module '../../jobs/registry.ts' {
  interface JobDataMap {
    /** Ask the network for the session's QoS flow. */
    'quality-on-demand.activate': { sessionId: string };
    /** End an AVAILABLE session when its duration is over (stale when it was extended). */
    'quality-on-demand.expire': { sessionId: string; expiresAt: number };
    /** Release the session's flow in the network; drop a deleted session afterwards. */
    'quality-on-demand.release': { sessionId: string; networkRef?: string };
    /** Something the network reported about a flow (applied at the N5 callback; runnable as a job too). */
    'quality-on-demand.network-event': { flowId: string; kind: string; cause?: string; networkRef?: string; at: string };
  }
}

export interface LifecycleOptions {
  /** Base URL of the gateway, for CloudEvents `source`. */
  publicUrl: string;
  /** How long a session may stay REQUESTED before it ends NETWORK_TERMINATED. @defaultValue 30 s */
  requestedTimeoutMs: number;
  /** How long an UNAVAILABLE session stays readable (CAMARA: at least 360 s). @defaultValue 3600 s */
  retentionSeconds: number;
  /** Tries of the activation job; the last one settles the session instead of retrying. @defaultValue 5 */
  activationAttempts: number;
  /** Exponential back-off base between activation tries. @defaultValue 500 ms */
  activationBackoffMs: number;
}

/**
 * A session ends through its own BullMQ delayed job (`exp-<id>-<expiresAt>`); one whose end is
 * further away than this waits on the expiry schedule instead (see resources/due-schedule.ts).
 * `npm run bench -- qod` measures the memory an active session holds.
 */
export const EXPIRY_JOB_HORIZON_MS = 60_000;

/**
 * The session state machine's side effects, in one place: every transition updates the record
 * and its indexes atomically, frees the plan slot, schedules what comes next, and tells the sink.
 */
export class Lifecycle {
  /** When AVAILABLE sessions end. */
  readonly expiry: DueSchedule;
  /** Transitions whose event or release job may still be owed (see resources/follow-ups.ts). */
  readonly followUps: FollowUps;
  /** Sessions whose activation job is stored, to be taken off the outbox in one command. */
  private enqueued: string[] = [];
  private outboxTimer?: NodeJS.Timeout;

  constructor(
    private readonly sessions: SessionStore,
    private readonly queues: JobQueues,
    private readonly limits: Limits,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    readonly options: LifecycleOptions,
  ) {
    this.followUps = new FollowUps(sessions.redis, sessions.effects);
    this.expiry = new DueSchedule(sessions.redis, {
      key: sessions.expiring,
      horizonMs: EXPIRY_JOB_HORIZON_MS,
      dueTime: async (id) => {
        const s = await this.sessions.get(id);
        return s?.status === 'AVAILABLE' ? s.expiresAt : undefined;
      },
      enqueue: (id, at) => this.enqueueExpiry(id, at),
    });
  }

  source(id: string): string {
    return `${this.options.publicUrl}/quality-on-demand/v1/sessions/${id}`;
  }

  /** Enqueues a job of this capability with a deterministic id (a retried add is a no-op). */
  async enqueue<N extends keyof JobDataMapOf>(name: N, data: JobData<N>, jobId: string, delayMs = 0, opts: JobsOptions = {}): Promise<void> {
    await this.queues.add(name, data, { ...opts, jobId, delay: Math.max(0, delayMs) });
  }

  /**
   * Enqueues a new session's activation. Its outbox entry, written with the session, is cleared
   * afterwards in batches (one ZREM for the sessions of the last few milliseconds); a crash before
   * that leaves entries {@link recoverOutbox} repairs, and job ids are deterministic, so adding a
   * job twice is harmless.
   */
  async startJobs(s: SessionRecord): Promise<void> {
    // Only the activation has its own retry policy: it is the one step that waits on an unreachable PCF.
    // A finished activation is removed at once: every session has one, and keeping them would cost
    // Redis a result and a completed-set entry per session, and a trim of the oldest for each new
    // one. The session record says how it went; a failed one is kept like any other failed job.
    const opts: JobsOptions = {
      attempts: this.options.activationAttempts,
      backoff: { type: 'exponential', delay: this.options.activationBackoffMs, jitter: 0.5 },
      removeOnComplete: true,
    };
    await this.enqueue('quality-on-demand.activate', { sessionId: s.id, correlator: s.correlator }, `act-${s.id}`, 0, opts);
    this.enqueued.push(s.id);
    this.outboxTimer ??= setTimeout(() => void this.flushOutbox().catch(() => {}), 20);
  }

  /** Takes the sessions whose jobs are stored off the outbox, and the transitions whose work is done off theirs (also when the process stops). */
  async flushOutbox(): Promise<void> {
    clearTimeout(this.outboxTimer);
    this.outboxTimer = undefined;
    const ids = this.enqueued.splice(0);
    if (ids.length) await this.sessions.removeFromOutbox(...ids);
    await this.followUps.flush();
  }

  /**
   * Does the follow-up work of transitions whose process died between storing the transition and
   * doing it: the AVAILABLE or UNAVAILABLE event, the flow's release, the expiry job. All of it is
   * idempotent (deterministic job and event ids: an event still waiting is not enqueued twice), so
   * a transition whose work had run costs at most its event once more, with the same id.
   */
  recoverEffects(olderThanMs = 10_000): Promise<number> {
    return this.followUps.recover(
      (id) => this.sessions.get(id),
      async (s) => {
        this.logger.warn({ sessionId: s.id, status: s.status, correlator: s.correlator }, 'finishing the follow-up work of a session transition whose process stopped before it');
        if (s.status === 'AVAILABLE') await this.availableEffects(s);
        else if (s.status === 'UNAVAILABLE') await this.endEffects(s);
        else if (s.status === 'DELETED') await this.deleteEffects(s);
      },
      olderThanMs,
    );
  }

  /**
   * Ends the sessions the network did not confirm in time (NETWORK_TERMINATED). Their deadlines
   * are a sorted set written with the session, swept every second: a job per session would cost
   * every create a BullMQ job that almost never does anything.
   */
  async timeOutRequested(now = Date.now()): Promise<number> {
    const due = await this.sessions.requestedBefore(now);
    for (const id of due) {
      await this.end(id, 'NETWORK_TERMINATED', (s) => s.status === 'REQUESTED');
      await this.sessions.removeFromRequesting(id);
    }
    return due.length;
  }

  /**
   * Starts the jobs of sessions whose creator died between writing them and enqueueing their jobs.
   * An entry this old either lost its job or waits behind a backlog: adding the job again is a
   * no-op for the latter (same id), and either way the entry is then done with.
   */
  async recoverOutbox(olderThanMs = 10_000): Promise<number> {
    const ids = await this.sessions.outboxBefore(Date.now() - olderThanMs);
    for (const id of ids) {
      const s = await this.sessions.get(id);
      if (s?.status === 'REQUESTED' && !s.networkRef) await this.startJobs(s);
      await this.sessions.removeFromOutbox(id);
    }
    return ids.length;
  }

  /** The job that ends an AVAILABLE session at its `expiresAt`. */
  private async enqueueExpiry(id: string, expiresAt: number): Promise<void> {
    await this.enqueue('quality-on-demand.expire', { sessionId: id, expiresAt, correlator: `expiry-${id}` }, `exp-${id}-${expiresAt}`, expiresAt - Date.now());
  }

  /**
   * After an extension: the session moves on the schedule, or gets a new expiry job when its new
   * end is near; an old job is removed (it would be stale anyway).
   */
  async rescheduleExpiry(before: SessionRecord, after: SessionRecord): Promise<void> {
    await this.expiry.place(after.id, after.expiresAt!);
    if (before.expiresAt !== after.expiresAt) await this.queues.queue(CAPABILITY).remove(`exp-${before.id}-${before.expiresAt}`).catch(() => 0);
  }

  /** Gives the sessions whose end is near their expiry job (every second); returns how many it saw. */
  promoteExpiries(now = Date.now()): Promise<number> {
    return this.expiry.promote(now);
  }

  /**
   * Tells the session's sink about the status change that made version `s.v`, in order per
   * session; the event's id is derived from the session and version, so doing it again (after a
   * crash) never queues it twice.
   */
  async notify(s: SessionRecord, qosStatus: 'AVAILABLE' | 'UNAVAILABLE', statusInfo?: StatusInfo): Promise<void> {
    if (!s.sink) return;
    await this.notifier.enqueue({
      id: stableEventId(followUpEventName('qod', s)),
      clientId: s.clientId,
      sink: s.sink,
      sinkCredential: s.sinkCredential,
      orderingKey: `qod:${s.id}`,
      type: EVENT_TYPE,
      source: this.source(s.id),
      data: { sessionId: s.id, qosStatus, ...(statusInfo ? { statusInfo } : {}) },
      correlator: s.correlator,
    });
  }

  /** REQUESTED → AVAILABLE: the network allocated the flow. */
  async available(id: string, networkRef: string | undefined, now = Date.now(), known?: SessionRecord): Promise<boolean> {
    const result = await this.sessions.update(id, (cur) => {
      if (cur.status !== 'REQUESTED') return undefined;
      const expiresAt = now + cur.duration * 1000;
      // On the expiry schedule in the same step, so no AVAILABLE session is ever without an end.
      const ops: IndexOp[] = [
        this.expiry.op(id, expiresAt),
        ['ZREM', this.sessions.requesting, id],
        this.followUps.op(cur, now),
      ];
      return { next: { ...cur, status: 'AVAILABLE', startedAt: now, expiresAt, networkRef: cur.networkRef ?? networkRef }, ops };
    }, known);
    if (!result) return false;
    const s = result.after;
    await this.availableEffects(s);
    this.logger.info({ sessionId: id, correlator: s.correlator }, 'qos session available');
    return true;
  }

  /** What follows a session becoming AVAILABLE: its expiry job when its end is near, and its event. */
  private async availableEffects(s: SessionRecord): Promise<void> {
    await this.expiry.settle(s.id, s.expiresAt!);
    await this.notify(s, 'AVAILABLE');
    this.followUps.finished(s);
  }

  /**
   * Ends a REQUESTED or AVAILABLE session (UNAVAILABLE with `statusInfo`): out of the UE's active
   * set, its plan slot freed, kept readable for the retention time, its flow released, its sink told.
   */
  async end(id: string, statusInfo: StatusInfo, when: (s: SessionRecord) => boolean = () => true, now = Date.now(), known?: SessionRecord): Promise<SessionRecord | undefined> {
    const result = await this.sessions.update(id, (cur) => {
      if ((cur.status !== 'REQUESTED' && cur.status !== 'AVAILABLE') || !when(cur)) return undefined;
      // Its plan slot is freed in the same step.
      const ops: IndexOp[] = [
        ['SREM', this.sessions.ueIndex(cur.ueKey), id],
        ['ZREM', this.sessions.expiring, id],
        ['ZREM', this.sessions.requesting, id],
        ['SREM', this.limits.slotsKey(cur.clientId, CAPABILITY), id],
        this.followUps.op(cur, now),
      ];
      const expiresAt = statusInfo === 'DURATION_EXPIRED' ? cur.expiresAt : now;
      return { next: { ...cur, status: 'UNAVAILABLE', statusInfo, expiresAt }, ops, ttlSeconds: this.options.retentionSeconds };
    }, known);
    if (!result) return undefined;
    const s = result.after;
    await this.endEffects(s);
    this.logger.info({ sessionId: id, statusInfo, correlator: s.correlator }, 'qos session ended');
    return s;
  }

  /** What follows a session's end: its flow released in the network, and its event. */
  private async endEffects(s: SessionRecord): Promise<void> {
    if (s.networkRef) await this.enqueue('quality-on-demand.release', { sessionId: s.id, networkRef: s.networkRef, correlator: s.correlator }, `rel-${s.id}`);
    await this.notify(s, 'UNAVAILABLE', s.statusInfo);
    this.followUps.finished(s);
  }

  /**
   * The client deleted the session: it becomes an internal DELETED record (hidden from the API),
   * its plan slot freed in the same step, until its release job has released its flow (an active
   * one's) and removed it. An active session's record says DELETE_REQUESTED; an ended one keeps
   * its own end, which is how its follow-up work knows there is no event to send and no flow left.
   */
  async delete(s: SessionRecord, now = Date.now()): Promise<void> {
    const result = await this.sessions.update(s.id, (cur) => {
      if (cur.status === 'DELETED') return undefined;
      const active = cur.status === 'AVAILABLE' || cur.status === 'REQUESTED';
      const ops: IndexOp[] = [
        ['SREM', this.sessions.ueIndex(cur.ueKey), cur.id],
        ['SREM', this.sessions.clientDeviceIndex(cur.clientId, cur.ueKey), cur.id],
        ['ZREM', this.sessions.expiring, cur.id],
        ['ZREM', this.sessions.requesting, cur.id],
        ['SREM', this.limits.slotsKey(cur.clientId, CAPABILITY), cur.id],
        this.followUps.op(cur, now),
      ];
      const next: SessionRecord = active ? { ...cur, status: 'DELETED', statusInfo: 'DELETE_REQUESTED', expiresAt: now } : { ...cur, status: 'DELETED' };
      return { next, ops, ttlSeconds: this.options.retentionSeconds };
    });
    if (result) await this.deleteEffects(result.after);
  }

  /**
   * What follows a deletion: for an active session, the DELETE_REQUESTED event (CAMARA: nothing
   * when it had already ended) and its flow's release; then the record's removal, by the job.
   */
  private async deleteEffects(s: SessionRecord): Promise<void> {
    const active = s.statusInfo === 'DELETE_REQUESTED';
    if (active) await this.notify(s, 'UNAVAILABLE', 'DELETE_REQUESTED');
    // An ended session's flow was released when it ended.
    await this.enqueue('quality-on-demand.release', { sessionId: s.id, networkRef: active ? s.networkRef : undefined, correlator: s.correlator }, `del-${s.id}`);
    this.followUps.finished(s);
  }
}

type JobDataMapOf = import('../../jobs/registry.ts').JobDataMap;
