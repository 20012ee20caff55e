import { Queue, type JobsOptions } from 'bullmq';
import { assertConnected, type RedisClient } from '../infra/redis.ts';
import { runCleanups } from '../infra/deadline.ts';
import { queueOf, type JobData, type JobName } from './registry.ts';

/** BullMQ key prefix under the gateway's prefix; keeps the hash tag, so it works on Redis Cluster. */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:q`;
}

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * The producer side of the job system, used on the request path. It shares the fail-fast
 * `command` connection, so `add()` rejects at once while Redis is down (the API answers 503) and
 * works again as soon as Redis is back.
 */
export class JobQueues {
  private readonly queues = new Map<string, Queue>();
  private closing?: Promise<void>;

  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
  ) {}

  /** The queue of a name, created on first use. */
  queue(queueName: string): Queue {
    let q = this.queues.get(queueName);
    if (!q) {
      assertConnected(this.connection);
      q = new Queue(queueName, { connection: this.connection, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      q.on('error', () => {
        // Connection errors surface on the command that failed; nothing to do here.
      });
      this.queues.set(queueName, q);
    }
    return q;
  }

  /**
   * Enqueues a job. Give a deterministic `jobId` when the same request may be enqueued twice:
   * BullMQ ignores an add whose id exists, so a retry can never run the work twice.
   */
  async add<N extends JobName>(name: N, data: JobData<N>, opts: JobsOptions = {}): Promise<string> {
    // BullMQ waits for a connection that is not ready yet; the request path must not.
    assertConnected(this.connection);
    const job = await this.queue(queueOf(name)).add(name, data, opts);
    return job.id!;
  }

  /** Job counts by state for every queue this process knows, for /metrics. */
  async counts(queueNames: Iterable<string>): Promise<Record<string, Record<string, number>>> {
    assertConnected(this.connection);
    const out: Record<string, Record<string, number>> = {};
    for (const name of queueNames) {
      out[name] = await this.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children');
    }
    return out;
  }

  /** Closes every queue; idempotent, each step bounded. */
  close(timeoutMs = 3000): Promise<void> {
    this.closing ??= runCleanups(
      [...this.queues.entries()].map(([name, q]) => [`queue ${name}`, () => q.close()] as [string, () => Promise<void>]),
      timeoutMs,
      () => {},
    );
    return this.closing;
  }
}
