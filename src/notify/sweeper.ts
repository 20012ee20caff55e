import type { Queue } from 'bullmq';
import type { RedisClient } from '../infra/redis.ts';
import type { Logger } from '../infra/logger.ts';
import type { Chains, EventRecord, Fence, Scheduled } from './chains.ts';
import type { ResolvedNotifierOptions } from './types.ts';

/** Chains looked at per sweep; the rest wait for the next one. */
const SWEEP_BATCH = 200;
/** BullMQ states in which a job will still run (or is running). */
const LIVE_JOB_STATES = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

export interface SweeperDeps {
  chains: Chains;
  redis: RedisClient;
  /** The `notify` queue, to ask whether a head's job still exists. */
  queue: () => Queue;
  options: ResolvedNotifierOptions;
  logger: Logger;
  /** Queues the job of an event a transition scheduled. */
  schedule(s: Scheduled): Promise<void>;
  /** Dead-letters a head and schedules the next event of its chain. */
  bury(r: EventRecord, fence: Fence, error: string, log: Logger): Promise<void>;
}

/**
 * Gets chains moving again whose head should have moved on by now (`notify:due`): a job that was
 * never queued (the process died between storing the event and adding its job) or that BullMQ
 * gave up on, and an attempt whose worker died mid-delivery (its lease ran out). This is what
 * makes delivery crash-safe without waiting for BullMQ's stalled-job check (30 s or more).
 */
export class Sweeper {
  constructor(private readonly deps: SweeperDeps) {}

  async sweep(): Promise<{ repaired: number }> {
    const now = Date.now();
    let repaired = 0;
    for (const chain of await this.deps.chains.overdue(now, SWEEP_BATCH)) {
      if (await this.repair(chain, now)) repaired++;
    }
    if (repaired) this.deps.logger.info({ repaired }, 'notification sweeper restarted stuck deliveries');
    return { repaired };
  }

  private async repair(chain: string, now: number): Promise<boolean> {
    const { chains, options } = this.deps;
    const head = (await this.deps.redis.lindex(chain, 0)) ?? '';
    const record = head ? await chains.load(head) : undefined;
    if (!record) {
      const next = await chains.unblock(chain, head, now);
      if (next) await this.deps.schedule(next);
      return !!next;
    }
    if (record.state === 'claimed') return await this.takeOver(record, now);
    const jobState = record.job ? await this.deps.queue().getJobState(record.job) : 'unknown';
    if (LIVE_JOB_STATES.has(jobState)) {
      // Waiting for a worker (a backlog): look again later.
      await chains.recheck(record, Math.max(now, record.nextAt) + options.stuckAfterMs);
      return false;
    }
    const at = Math.max(now, record.nextAt);
    // A parked head whose wake never came (the client's attempts ended with their workers) is scheduled too.
    const { job, wake } = await chains.reschedule(record, { job: record.job, state: record.state }, at);
    if (job) await this.deps.schedule({ eventId: record.event.id, job, correlator: record.event.correlator, at });
    if (wake) await this.deps.schedule(wake);
    return !!job;
  }

  /** A claimed attempt whose lease ran out: its worker stopped before settling it. Counted, and tried again at once. */
  private async takeOver(record: EventRecord, now: number): Promise<boolean> {
    const { chains, options } = this.deps;
    if (record.leaseUntil > now) {
      await chains.recheck(record, record.leaseUntil);
      return false;
    }
    // Fenced on the lease too: an attempt that settles meanwhile wins, and this does nothing.
    const fence: Fence = { job: record.job, state: 'claimed', leaseBefore: now };
    const error = 'delivery attempt interrupted: its worker stopped';
    const e = record.event;
    const log = this.deps.logger.child({ eventId: e.id, clientId: e.clientId, attempt: record.attempts });
    if (record.attempts >= options.maxAttempts) {
      await this.deps.bury(record, fence, error, log);
      return true;
    }
    const { job, wake } = await chains.reschedule(record, fence, now, error);
    if (job) {
      log.warn('notification attempt lost with its worker; trying again');
      await this.deps.schedule({ eventId: e.id, job, correlator: e.correlator, at: now });
    }
    if (wake) await this.deps.schedule(wake);
    return !!job;
  }
}
