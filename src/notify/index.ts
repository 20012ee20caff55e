import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient, KeyBuilder } from '../infra/redis.ts';
import type { Logger } from '../infra/logger.ts';
import type { GatewayConfig } from '../infra/config.ts';
import type { JobQueues } from '../jobs/queues.ts';
import type { ProcessorContext, ProcessorMap } from '../jobs/registry.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import type { Application } from '../tenancy/types.ts';
import type { Keyring } from '../auth/keyring.ts';
import { ApiError } from '../http/errors.ts';
import { withDeadline } from '../infra/deadline.ts';
import { Chains, type EventRecord, type Fence, type Scheduled } from './chains.ts';
import { backoffMs, postEvent, type AttemptOutcome } from './delivery.ts';
import { SinkTokens } from './sink-token.ts';
import { Sweeper } from './sweeper.ts';
import { accessTokenExpired, checkCredential, checkSink, sinkRefusal, urlRefusal } from './sink-policy.ts';
import { resolveOptions, type ResolvedNotifierOptions, type StoredEvent } from './types.ts';
import type { DeadLetter, NotificationRequest, NotifierOptions, SinkCredential } from './types.ts';

export type { DeadLetter, NotificationRequest, NotifierOptions, SinkCredential } from './types.ts';
export { CLOUDEVENTS_JSON, type CloudEvent } from './delivery.ts';

declare module '../jobs/registry.ts' {
  interface JobDataMap {
    /** One attempt to deliver the head of an ordering key's chain. */
    'notify.deliver': { eventId: string };
    /** Finds chains whose head's job or worker was lost and gets them moving again. */
    'notify.sweep': Record<never, never>;
  }
}

const QUEUE = 'notify';
const SWEEP_SCHEDULER = 'notify-sweep';

export interface NotifierServices {
  redis: RedisClient;
  key: KeyBuilder;
  queues: JobQueues;
  store: TenancyStore;
  keyring: Keyring;
  logger: Logger;
  config: GatewayConfig;
}

/**
 * Delivers CloudEvents to clients' sinks: durably (events live in Redis until delivered or
 * dead-lettered), in order per ordering key, at least once, and fairly (each attempt is a short
 * BullMQ job with a timeout; back-off is a delayed job; an application has a bounded number of
 * attempts in flight). See `chains.ts` for the state kept in Redis.
 */
export class Notifier {
  private readonly options: ResolvedNotifierOptions;
  private readonly chains: Chains;
  private readonly tokens: SinkTokens;
  private readonly sweeper: Sweeper;
  private readonly production: boolean;
  /** Attempts running in this process without a job (see {@link dispatch}). */
  private readonly inline = new Set<Promise<void>>();
  private inlineAllowed = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly services: NotifierServices,
    options: NotifierOptions = {},
  ) {
    this.options = resolveOptions(options, services.config.workerConcurrency);
    this.chains = new Chains(services.redis, services.key, this.options.stuckAfterMs);
    this.tokens = new SinkTokens(services.keyring, this.options.timeoutMs);
    this.production = services.config.env === 'production';
    this.sweeper = new Sweeper({
      chains: this.chains,
      redis: services.redis,
      queue: () => services.queues.queue(QUEUE),
      options: this.options,
      logger: services.logger,
      schedule: (s) => this.dispatch(s),
      bury: (r, fence, error, log) => this.bury(r, fence, error, log),
    });
  }

  /**
   * Checks a sink and credential when a resource is created: 400 INVALID_SINK, INVALID_CREDENTIAL
   * or INVALID_TOKEN, or 422 PRIVATE_KEY_JWT_NOT_CONFIGURED. A sink that answered 410 Gone before
   * is accepted again: the client names it for a new resource, so it is back.
   */
  async validateSink(clientId: string, sink: string, credential?: SinkCredential): Promise<void> {
    const app = await this.services.store.getApplication(clientId);
    if (!app) throw new ApiError('INVALID_SINK', 'sink not valid: the application is unknown');
    this.checkSink(app, sink, credential);
    await this.chains.revokeGone(clientId, sink);
  }

  /**
   * The checks of {@link validateSink} against an application already loaded, without touching
   * Redis. The caller then clears the sink's 410 mark itself, with {@link goneKey}, in the same
   * atomic step that stores the resource naming it. Without a sink there must be no credential.
   */
  checkSink(app: Application, sink: string | undefined, credential?: SinkCredential): void {
    if (sink === undefined) {
      if (credential !== undefined) throw new ApiError('INVALID_ARGUMENT', 'sinkCredential needs a sink');
      return;
    }
    checkSink(sink, app, this.production);
    if (credential !== undefined) checkCredential(credential, app, this.production);
  }

  /** The hash of a client's sinks that answered 410 Gone; a new resource naming a sink deletes its field. */
  goneKey(clientId: string): string {
    return this.chains.gone(clientId);
  }

  /**
   * Durably accepts an event for delivery and returns its CloudEvent id: one script and, when the
   * event is the first of its ordering key, one job. An event for a sink that answered 410 Gone
   * is dropped (its id is still returned).
   */
  async enqueue(request: NotificationRequest): Promise<string> {
    const problem = requestProblem(request);
    if (problem) throw new TypeError(`notification request: ${problem}`);
    const refusal = urlRefusal(request.sink, this.production);
    if (refusal) throw new ApiError('INVALID_SINK', `sink not valid: ${refusal}`);
    const type = request.sinkCredential?.credentialType;
    if (type !== undefined && type !== 'ACCESSTOKEN' && type !== 'PRIVATE_KEY_JWT') throw new ApiError('INVALID_CREDENTIAL');
    const event: StoredEvent = {
      id: request.id ?? randomUUID(),
      clientId: request.clientId,
      sink: request.sink,
      sinkCredential: credentialOf(request.sinkCredential),
      orderingKey: request.orderingKey,
      type: request.type,
      source: request.source,
      time: new Date().toISOString(),
      data: request.data,
      correlator: request.correlator,
    };
    const now = Date.now();
    if (this.inlineRoom()) {
      // Stored and, when it is the head and its client has room, claimed in the same script: the
      // attempt then starts here at once. A head whose client is at its limit is parked by the
      // same script, and one behind others waits for its chain: neither needs anything more now.
      const r = await this.chains.enqueueClaim(event, now, { leaseMs: this.options.leaseMs, cap: this.options.maxInFlightPerClient, parkCheckMs: this.options.stuckAfterMs });
      if (r === null) this.dropped(event);
      else if (typeof r === 'object') this.track(this.attemptClaimed(this.recordOf(event, r.job), r.job, r.attempts, this.services.logger, this.stopping.signal), { eventId: event.id, job: r.job, correlator: event.correlator, at: now });
      return event.id;
    }
    const job = await this.chains.enqueue(event, now);
    if (job === null) {
      this.dropped(event);
    } else if (job) {
      await this.dispatch({ eventId: event.id, job, correlator: event.correlator, at: now }, event);
    }
    return event.id;
  }

  /** The processors to run on the `notify` queue. */
  processors(): ProcessorMap {
    return {
      'notify.deliver': (data, ctx) => this.deliver(data.eventId, ctx),
      'notify.sweep': () => this.sweeper.sweep(),
    };
  }

  /**
   * Schedules the sweeper (idempotent; every process that runs workers may call it) and lets this
   * process attempt deliveries inline.
   */
  async start(): Promise<void> {
    this.inlineAllowed = this.options.maxInlineAttempts > 0;
    await this.services.queues
      .queue(QUEUE)
      .upsertJobScheduler(
        SWEEP_SCHEDULER,
        { every: this.options.sweepIntervalMs },
        { name: 'notify.sweep', data: { correlator: SWEEP_SCHEDULER }, opts: { removeOnComplete: true, removeOnFail: 100 } },
      );
  }

  /** Waits for the inline attempts under way, cutting those still waiting on a sink after `ms`. */
  async close(ms = 2000): Promise<void> {
    this.inlineAllowed = false;
    const settled = () => Promise.allSettled([...this.inline]);
    await withDeadline(settled(), ms, 'inline deliveries').catch(() => {});
    // An aborted attempt is settled as a failure to retry (a job), so nothing is lost.
    this.stopping.abort();
    await withDeadline(settled(), 1000, 'aborted inline deliveries').catch(() => {});
  }

  /** Dead letters, newest first (at most 1000). */
  async deadLetters(filter: { clientId?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    return await this.chains.deadLetters(filter.clientId, Math.min(1000, Math.max(1, filter.limit ?? 100)));
  }

  /** Queues a dead letter again, behind the events already waiting on its ordering key, with fresh attempts. */
  async retryDeadLetter(id: string): Promise<boolean> {
    const now = Date.now();
    const revived = await this.chains.revive(id, now);
    if (revived.job) await this.addJob({ eventId: id, job: revived.job, correlator: revived.correlator ?? '', at: now });
    return revived.found;
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    return await this.chains.purge(id);
  }

  /** The attempts a transition scheduled: the chain's next event and a woken parked head. */
  private async dispatchAll(...scheduled: Array<Scheduled | undefined>): Promise<void> {
    for (const s of scheduled) if (s) await this.dispatch(s);
  }

  /**
   * Starts a scheduled attempt that is due now in this process, without a BullMQ job, when this
   * process runs workers and has room; otherwise queues its job. An inline attempt is the same
   * fenced claim, POST and settle as a job's; if the process dies meanwhile, the event is in Redis
   * as scheduled or claimed, and the sweeper gets it moving again.
   */
  private async dispatch(s: Scheduled, event?: StoredEvent): Promise<void> {
    if (!this.inlineRoom() || s.at > Date.now()) return this.addJob(s);
    const attempt = (async () => {
      const record = event ? this.recordOf(event, s.job) : await this.chains.load(s.eventId);
      if (record) await this.attemptHead(record, s.job, this.services.logger, this.stopping.signal);
    })();
    this.track(attempt, s);
  }

  private inlineRoom(): boolean {
    return this.inlineAllowed && this.inline.size < this.options.maxInlineAttempts;
  }

  /** Keeps an inline attempt for close(); on Redis trouble its job does the same later (fenced, so never twice). */
  private track(attempt: Promise<unknown>, s: Scheduled): void {
    const tracked: Promise<void> = attempt
      .then(
        () => {},
        async (err) => {
          this.services.logger.warn({ eventId: s.eventId, err: (err as Error).message }, 'inline delivery attempt failed; queued as a job');
          await this.addJob(s);
        },
      )
      .finally(() => this.inline.delete(tracked));
    this.inline.add(tracked);
  }

  /** The record of an event just stored as the head of its chain. */
  private recordOf(event: StoredEvent, job: string): EventRecord {
    return { event, chain: this.chains.chainKey(event.clientId, event.orderingKey), state: 'scheduled', job, attempts: 0, nextAt: Date.now(), leaseUntil: 0, lastError: '', failedAt: 0 };
  }

  private dropped(event: StoredEvent): void {
    this.services.logger.info({ eventId: event.id, clientId: event.clientId, sink: origin(event.sink), type: event.type }, 'event dropped: its sink answered 410 Gone');
  }

  private async addJob(s: Scheduled): Promise<void> {
    try {
      await this.services.queues.add(
        'notify.deliver',
        { eventId: s.eventId, correlator: s.correlator },
        // Retries here cover only Redis trouble inside the processor; a sink's failures are settled as new jobs.
        { jobId: s.job, delay: Math.max(0, s.at - Date.now()), attempts: 3, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
      );
    } catch (err) {
      // The event is safe in Redis: the sweeper queues the job it lacks once it is overdue.
      this.services.logger.warn({ eventId: s.eventId, err: (err as Error).message }, 'could not queue a notification job; the sweeper will');
    }
  }

  private async deliver(eventId: string, ctx: ProcessorContext): Promise<unknown> {
    const record = await this.chains.load(eventId);
    if (!record) return { skipped: 'no such event' };
    return await this.attemptHead(record, ctx.jobId, ctx.log, ctx.signal);
  }

  /** Claims the head for attempt `job` and tries it: from a job, or inline. */
  private async attemptHead(record: EventRecord, job: string, logger: Logger, signal: AbortSignal): Promise<unknown> {
    const now = Date.now();
    // At its client's limit, the head is parked: the next of the client's attempts to end wakes it.
    const claim = await this.chains.claim(record, job, now, { leaseMs: this.options.leaseMs, cap: this.options.maxInFlightPerClient, parkCheckMs: this.options.stuckAfterMs });
    const e = record.event;
    switch (claim.kind) {
      case 'stale':
        return { skipped: 'superseded' };
      case 'busy':
        return { parked: 'client at its in-flight limit' };
      case 'gone':
        logger.info({ eventId: e.id, clientId: e.clientId, sink: origin(e.sink) }, 'event dropped: its sink answered 410 Gone');
        await this.dispatchAll(claim.next);
        return { dropped: 'sink gone' };
    }
    return await this.attemptClaimed(record, job, claim.attempts, logger, signal);
  }

  /** Makes a claimed attempt and settles it. */
  private async attemptClaimed(record: EventRecord, job: string, attempts: number, logger: Logger, signal: AbortSignal): Promise<unknown> {
    const e = record.event;
    const log = logger.child({ eventId: e.id, clientId: e.clientId, sink: origin(e.sink), type: e.type, attempt: attempts });
    const outcome = await this.attempt(e, signal);
    await this.settle(record, { job, state: 'claimed' }, attempts, outcome, log);
    return { outcome: outcome.kind };
  }

  /** Applications as read for recent attempts: a sink's policy is read at most once a second. */
  private readonly apps = new Map<string, { app: Application | undefined; at: number }>();

  private async application(clientId: string): Promise<Application | undefined> {
    const hit = this.apps.get(clientId);
    if (hit && Date.now() - hit.at < 1000) return hit.app;
    const app = await this.services.store.getApplication(clientId);
    if (this.apps.size >= 10_000) this.apps.clear();
    this.apps.set(clientId, { app, at: Date.now() });
    return app;
  }

  /** One try: policy checks that may have changed since the event was accepted, the credential, the POST. */
  private async attempt(e: StoredEvent, signal: AbortSignal): Promise<AttemptOutcome> {
    const app = await this.application(e.clientId);
    if (!app) return { kind: 'fatal', error: 'the application no longer exists' };
    // The operator may have narrowed the notification hosts since: they apply to every attempt.
    const refusal = sinkRefusal(e.sink, app, this.production);
    if (refusal) return { kind: 'fatal', error: `sink no longer allowed: ${refusal}` };
    const credential = e.sinkCredential;
    let authorization: string | undefined;
    if (credential?.credentialType === 'ACCESSTOKEN') {
      if (accessTokenExpired(credential)) return { kind: 'fatal', error: 'the sink access token has expired' };
      authorization = `Bearer ${credential.accessToken}`;
    }
    const source = app.sinkTokenEndpoint && app.sinkClientId ? { tokenEndpoint: app.sinkTokenEndpoint, clientId: app.sinkClientId } : undefined;
    if (credential?.credentialType === 'PRIVATE_KEY_JWT') {
      if (!source) return { kind: 'fatal', error: 'PRIVATE_KEY_JWT is no longer configured for the application' };
      const endpointRefusal = urlRefusal(source.tokenEndpoint, this.production);
      if (endpointRefusal) return { kind: 'fatal', error: `sink token endpoint not allowed: ${endpointRefusal}` };
      try {
        authorization = `Bearer ${await this.tokens.get(source, signal)}`;
      } catch (err) {
        return { kind: 'retry', error: (err as Error).message };
      }
    }
    const outcome = await postEvent(e, authorization, { timeoutMs: this.options.timeoutMs, signal });
    if (outcome.kind === 'retry' && outcome.status === 401 && source && credential?.credentialType === 'PRIVATE_KEY_JWT') this.tokens.forget(source);
    return outcome;
  }

  /** Moves the chain on after an attempt: next event, a later retry, or a dead letter. */
  private async settle(r: EventRecord, fence: Fence, attempts: number, outcome: AttemptOutcome, log: Logger): Promise<void> {
    const now = Date.now();
    if (outcome.kind === 'delivered' || outcome.kind === 'gone') {
      const { stale, next, wake } = await this.chains.finish(r, fence.job, outcome.kind, now);
      if (outcome.kind === 'gone') log.warn({ stale }, 'sink answered 410 Gone: no further events go to it');
      else log.debug({ status: outcome.status, stale }, 'notification delivered');
      await this.dispatchAll(next, wake);
      return;
    }
    if (outcome.kind === 'retry' && attempts < this.options.maxAttempts) {
      const delay = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, this.options.maxDelayMs) : backoffMs(attempts, this.options);
      const { job, wake } = await this.chains.reschedule(r, fence, now + delay, outcome.error);
      log.info({ err: outcome.error, retryInMs: delay, stale: !job }, 'notification not delivered; will retry');
      await this.dispatchAll(job ? { eventId: r.event.id, job, correlator: r.event.correlator, at: now + delay } : undefined, wake);
      return;
    }
    await this.bury(r, fence, outcome.error, log);
  }

  private async bury(r: EventRecord, fence: Fence, error: string, log: Logger): Promise<void> {
    const { stale, next, wake } = await this.chains.bury(r, fence, error, Date.now(), this.options.deadLetterRetentionSeconds * 1000);
    if (!stale) log.warn({ err: error }, 'notification dead-lettered');
    await this.dispatchAll(next, wake);
  }
}

function requestProblem(r: NotificationRequest): string | undefined {
  for (const field of ['clientId', 'sink', 'orderingKey', 'type', 'source'] as const) {
    if (typeof r?.[field] !== 'string' || r[field].length === 0) return `${field} is required`;
  }
  if (typeof r.correlator !== 'string') return 'correlator must be a string';
  if (r.id !== undefined && (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 128)) return 'id must be a string of 1 to 128 characters';
  return undefined;
}

/**
 * A CloudEvent id that is the same whenever it is made from the same `name` (SHA-1 of the name,
 * shaped as an RFC 9562 version-5 UUID): for an event whose enqueueing may be repeated, e.g.
 * `<session>/<version>`.
 */
export function stableEventId(name: string): string {
  const h = createHash('sha1').update('exposure-gateway/cloudevent/').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Keeps only the fields a credential has; nothing else a caller passed is stored. */
function credentialOf(c: SinkCredential | undefined): SinkCredential | undefined {
  if (!c) return undefined;
  if (c.credentialType !== 'ACCESSTOKEN') return { credentialType: c.credentialType };
  const { credentialType, accessToken, accessTokenExpiresUtc, accessTokenType } = c;
  return { credentialType, accessToken, accessTokenExpiresUtc, accessTokenType };
}

/** The scheme, host and port of a sink, for logs: a URL's path or query may carry a client's secret. */
function origin(sink: string): string {
  try {
    return new URL(sink).origin;
  } catch {
    return '(invalid)';
  }
}
