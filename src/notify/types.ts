/** A sink credential (CAMARA_event_common `SinkCredential`): how the gateway authenticates to a client's sink. */
export interface SinkCredential {
  credentialType: 'ACCESSTOKEN' | 'PRIVATE_KEY_JWT';
  /** ACCESSTOKEN only: sent as `Authorization: Bearer <accessToken>`. */
  accessToken?: string;
  /** ACCESSTOKEN only: RFC 3339; events are no longer sent with the token after it. */
  accessTokenExpiresUtc?: string;
  accessTokenType?: 'bearer';
}

/** One event a capability wants delivered to a client's sink. */
export interface NotificationRequest {
  /** The application that owns the sink. */
  clientId: string;
  /** URL the CloudEvent is POSTed to. */
  sink: string;
  sinkCredential?: SinkCredential;
  /** Events with the same key (e.g. a session id) are delivered one at a time, in the order enqueued. */
  orderingKey: string;
  /** CloudEvents `type`, e.g. `org.camaraproject.quality-on-demand.v1.qos-status-changed`. */
  type: string;
  /** CloudEvents `source`: the URI of the resource the event is about. */
  source: string;
  data: unknown;
  /** x-correlator of the request that caused the event; sent as the `x-correlator` header. */
  correlator: string;
  /**
   * The CloudEvent id, for an event that may be enqueued again (the work that enqueues it can be
   * repeated after a crash): while an event with this id waits for delivery, enqueueing it again
   * does nothing. @defaultValue a random UUID
   */
  id?: string;
}

/** An event that could not be delivered, as the operator API shows it (never its credential). */
export interface DeadLetter {
  id: string;
  clientId: string;
  sink: string;
  type: string;
  orderingKey: string;
  attempts: number;
  lastError: string;
  failedAt: string;
}

/** How deliveries are retried and bounded. */
export interface NotifierOptions {
  /** Delay before the second attempt; it doubles with every attempt, with jitter. @defaultValue 1000 */
  baseDelayMs?: number;
  /** Longest delay between attempts; also caps a sink's `Retry-After`. @defaultValue 3_600_000 (1 h) */
  maxDelayMs?: number;
  /** Share of each back-off that is random (0 none, 1 full jitter). @defaultValue 0.5 */
  jitter?: number;
  /** Attempts before an event becomes a dead letter. @defaultValue 10 */
  maxAttempts?: number;
  /** Time limit of one HTTP request (the delivery, or fetching a PRIVATE_KEY_JWT token). @defaultValue 10_000 */
  timeoutMs?: number;
  /**
   * Attempts of one application in flight at once, across every worker. Keeps a slow sink from
   * taking the worker slots other clients' deliveries need. 0 means unlimited.
   * @defaultValue a fifth of `config.workerConcurrency`, at least 1
   */
  maxInFlightPerClient?: number;
  /**
   * Attempts a process that runs workers starts at once, without a job, when an event becomes the
   * head of its chain (a job is the fallback beyond this; the sweeper repairs an attempt whose
   * process died, as it does a job's). 0 turns this off. @defaultValue `config.workerConcurrency`
   */
  maxInlineAttempts?: number;
  /**
   * How long a worker may hold an attempt before it is presumed dead and the event is tried again.
   * Must exceed the longest attempt (a token request and a delivery).
   * @defaultValue 2 × timeoutMs + 5000
   */
  leaseMs?: number;
  /** How often the sweeper looks for deliveries whose worker or job was lost. @defaultValue 5000 */
  sweepIntervalMs?: number;
  /** How long past its due time a scheduled delivery may wait for a worker before the sweeper checks its job. @defaultValue 30_000 */
  stuckAfterMs?: number;
  /** How long a dead letter is kept. @defaultValue 30 days */
  deadLetterRetentionSeconds?: number;
}

export type ResolvedNotifierOptions = Required<NotifierOptions>;

/** Fills in the documented defaults, in one place. */
export function resolveOptions(options: NotifierOptions, workerConcurrency: number): ResolvedNotifierOptions {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    baseDelayMs: 1000,
    maxDelayMs: 3_600_000,
    jitter: 0.5,
    maxAttempts: 10,
    maxInFlightPerClient: Math.max(1, Math.ceil(workerConcurrency / 5)),
    maxInlineAttempts: workerConcurrency,
    leaseMs: 2 * timeoutMs + 5000,
    sweepIntervalMs: 5000,
    stuckAfterMs: 30_000,
    deadLetterRetentionSeconds: 30 * 24 * 3600,
    ...definedOnly(options),
    timeoutMs,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An accepted event as kept in Redis until it is delivered or dead-lettered: the request, with its id and time. */
export interface StoredEvent extends NotificationRequest {
  id: string;
  /** RFC 3339; when the event was accepted. Stable across retries. */
  time: string;
}
