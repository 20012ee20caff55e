import type { JobsOptions } from 'bullmq';
import type { JobQueues } from '../../jobs/queues.ts';
import type { JobData } from '../../jobs/registry.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Notifier } from '../../notify/index.ts';
import { DueSchedule } from '../../resources/due-schedule.ts';
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

  /** Takes the sessions whose jobs are stored off the outbox (also when the process stops). */
  async flushOutbox(): Promise<void> {
    clearTimeout(this.outboxTimer);
    this.outboxTimer = undefined;
    const ids = this.enqueued.splice(0);
    if (ids.length) await this.sessions.removeFromOutbox(...ids);
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

  /** Tells the session's sink about a status change, in order per session. */
  async notify(s: SessionRecord, qosStatus: 'AVAILABLE' | 'UNAVAILABLE', statusInfo?: StatusInfo): Promise<void> {
    if (!s.sink) return;
    await this.notifier.enqueue({
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
      ];
      return { next: { ...cur, status: 'AVAILABLE', startedAt: now, expiresAt, networkRef: cur.networkRef ?? networkRef }, ops };
    }, known);
    if (!result) return false;
    const s = result.after;
    await this.expiry.settle(id, s.expiresAt!);
    await this.notify(s, 'AVAILABLE');
    this.logger.info({ sessionId: id, correlator: s.correlator }, 'qos session available');
    return true;
  }

  /**
   * Ends a REQUESTED or AVAILABLE session (UNAVAILABLE with `statusInfo`): out of the UE's active
   * set, its plan slot freed, kept readable for the retention time, its flow released, its sink told.
   */
  async end(id: string, statusInfo: StatusInfo, when: (s: SessionRecord) => boolean = () => true, now = Date.now(), known?: SessionRecord): Promise<SessionRecord | undefined> {
    const result = await this.sessions.update(id, (cur) => {
      if ((cur.status !== 'REQUESTED' && cur.status !== 'AVAILABLE') || !when(cur)) return undefined;
      const ops: IndexOp[] = [
        ['SREM', this.sessions.ueIndex(cur.ueKey), id],
        ['ZREM', this.sessions.expiring, id],
        ['ZREM', this.sessions.requesting, id],
      ];
      const expiresAt = statusInfo === 'DURATION_EXPIRED' ? cur.expiresAt : now;
      return { next: { ...cur, status: 'UNAVAILABLE', statusInfo, expiresAt }, ops, ttlSeconds: this.options.retentionSeconds };
    }, known);
    if (!result) return undefined;
    const s = result.after;
    await this.limits.release(s.clientId, CAPABILITY, id);
    if (s.networkRef) await this.enqueue('quality-on-demand.release', { sessionId: id, networkRef: s.networkRef, correlator: s.correlator }, `rel-${id}`);
    await this.notify(s, 'UNAVAILABLE', statusInfo);
    this.logger.info({ sessionId: id, statusInfo, correlator: s.correlator }, 'qos session ended');
    return s;
  }

  /**
   * The client deleted the session. An active one becomes an internal DELETED record (hidden from
   * the API) until its flow is released; an UNAVAILABLE one is simply removed.
   */
  async delete(s: SessionRecord, now = Date.now()): Promise<void> {
    const indexes: IndexOp[] = [
      ['SREM', this.sessions.ueIndex(s.ueKey), s.id],
      ['SREM', this.sessions.clientDeviceIndex(s.clientId, s.ueKey), s.id],
      ['ZREM', this.sessions.expiring, s.id],
      ['ZREM', this.sessions.requesting, s.id],
    ];
    const result = await this.sessions.update(s.id, (cur) =>
      cur.status === 'DELETED' ? undefined : { next: { ...cur, status: 'DELETED', statusInfo: 'DELETE_REQUESTED', expiresAt: now }, ops: indexes, ttlSeconds: this.options.retentionSeconds },
    );
    if (!result) return;
    const before = result.before;
    await this.limits.release(before.clientId, CAPABILITY, before.id);
    // CAMARA: DELETE_REQUESTED for an active session; nothing when it had already ended.
    if (before.status === 'AVAILABLE' || before.status === 'REQUESTED') await this.notify(before, 'UNAVAILABLE', 'DELETE_REQUESTED');
    // An ended session's flow was released when it ended; only an active one still holds one.
    const active = before.status === 'AVAILABLE' || before.status === 'REQUESTED';
    await this.enqueue('quality-on-demand.release', { sessionId: before.id, networkRef: active ? before.networkRef : undefined, correlator: before.correlator }, `del-${before.id}`);
  }
}

type JobDataMapOf = import('../../jobs/registry.ts').JobDataMap;
