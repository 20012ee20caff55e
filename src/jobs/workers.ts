import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../infra/redis.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { withDeadline } from '../infra/deadline.ts';
import { queueOf, type JobName, type Processor, type ProcessorMap } from './registry.ts';

export interface WorkerPoolOptions {
  /** Makes a connection for each worker (BullMQ needs one per worker for blocking commands). */
  connect: () => RedisClient;
  prefix: string;
  logger: Logger;
  metrics: Metrics;
  /** Jobs each worker runs at once. @defaultValue 50 */
  concurrency?: number;
  /** How long close() waits for active jobs before it forces the workers shut. @defaultValue 5000 */
  closeTimeoutMs?: number;
  /**
   * BullMQ `lockDuration`, and `stalledInterval` too: a job whose worker died is taken back within
   * about twice this. @defaultValue 30000
   */
  lockDurationMs?: number;
}

/** Raised for a job whose name has no processor: a deployment mismatch, not a transient error. */
export class UnknownJobError extends Error {
  constructor(name: string) {
    super(`no processor for job ${name}`);
    this.name = 'UnknownJobError';
  }
}

/**
 * Runs one BullMQ worker per queue for the given processors. Delivery is at least once (a job
 * whose worker died re-runs after its lock expires), so processors must be idempotent.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly connections: RedisClient[] = [];
  private closing?: Promise<void>;

  constructor(
    private readonly processors: ProcessorMap,
    private readonly options: WorkerPoolOptions,
  ) {}

  /** The queues served, derived from the processors' job names. */
  get queueNames(): string[] {
    return [...new Set(Object.keys(this.processors).map(queueOf))].sort();
  }

  start(): void {
    const { logger } = this.options;
    for (const queueName of this.queueNames) {
      const connection = this.options.connect();
      this.connections.push(connection);
      const worker = new Worker(queueName, (job, _token, signal) => this.run(queueName, job, signal), {
        connection,
        prefix: this.options.prefix,
        concurrency: this.options.concurrency ?? 50,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.lockDurationMs ?? 30_000,
      });
      worker.on('error', (err) => logger.warn({ queue: queueName, err: err.message }, 'worker connection error'));
      worker.on('failed', (job, err) =>
        logger.warn({ queue: queueName, jobId: job?.id, name: job?.name, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
      );
      this.workers.push(worker);
    }
  }

  private async run(queueName: string, job: Job, signal?: AbortSignal): Promise<unknown> {
    const processor = this.processors[job.name as JobName] as Processor | undefined;
    const log = this.options.logger.child({ queue: queueName, jobId: job.id, job: job.name, correlator: job.data?.correlator });
    if (!processor) throw new UnknownJobError(job.name);
    const end = this.options.metrics.jobDuration.startTimer({ queue: queueName, name: job.name });
    try {
      const result = await processor(job.data, {
        jobId: job.id!,
        attempt: job.attemptsMade + 1,
        attemptsAllowed: job.opts.attempts ?? 1,
        signal: signal ?? new AbortController().signal,
        log,
      });
      const seconds = end({ outcome: 'completed' });
      log.debug({ attempt: job.attemptsMade + 1, ms: Math.round(seconds * 1000) }, 'job completed');
      return result;
    } catch (err) {
      end({ outcome: 'failed' });
      throw err;
    }
  }

  /** True while every worker is running and connected. */
  get running(): boolean {
    return !this.closing && this.workers.length > 0 && this.workers.every((w) => w.isRunning());
  }

  /**
   * Stops taking jobs, waits for active ones up to the deadline, then forces the workers shut and
   * closes their connections. Never hangs: BullMQ's own close() can wait forever while Redis is
   * unreachable, so each step is raced against a deadline. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const timeout = this.options.closeTimeoutMs ?? 5000;
      await Promise.all(
        this.workers.map(async (w) => {
          try {
            await withDeadline(w.close(), timeout, `worker ${w.name}`);
          } catch (err) {
            this.options.logger.warn({ queue: w.name, err: (err as Error).message }, 'worker did not stop in time; forcing');
            await withDeadline(w.close(true), 1000, `worker ${w.name} (forced)`).catch(() => {});
          }
        }),
      );
      for (const c of this.connections) c.disconnect();
    })();
    return this.closing;
  }
}
