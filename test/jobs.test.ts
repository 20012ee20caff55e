import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { createRedis, waitReady, type RedisClient } from '../src/infra/redis.ts';
import { createMetrics } from '../src/infra/metrics.ts';
import { JobQueues, bullPrefix } from '../src/jobs/queues.ts';
import { WorkerPool } from '../src/jobs/workers.ts';
import { queueOf, type ProcessorMap } from '../src/jobs/registry.ts';
import { testRedisUrl } from './support/hooks.ts';

declare module '../src/jobs/registry.ts' {
  interface JobDataMap {
    'testq.count': { n: number };
    'testq.hang': { n: number };
    'testq.flaky': { n: number };
  }
}

const silent = pino({ level: 'silent' });

describe('job system', () => {
  let redis: RedisClient;
  let queues: JobQueues;
  let pool: WorkerPool | undefined;
  let prefix: string;

  beforeEach(async () => {
    redis = createRedis(testRedisUrl(), 'command');
    await waitReady(redis, testRedisUrl());
    // A hash-tagged prefix, as on Redis Cluster: every key of the queue lands in one slot.
    prefix = bullPrefix(`{jobs-${randomUUID().slice(0, 8)}}`);
    queues = new JobQueues(redis, prefix);
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await queues.close();
    redis.disconnect();
  });

  function startPool(processors: ProcessorMap, closeTimeoutMs = 2000) {
    const metrics = createMetrics({ defaultMetrics: false });
    pool = new WorkerPool(processors, {
      connect: () => createRedis(testRedisUrl(), 'blocking'),
      prefix,
      logger: silent,
      metrics,
      concurrency: 5,
      closeTimeoutMs,
    });
    pool.start();
    return metrics;
  }

  async function until(check: () => boolean | Promise<boolean>, ms = 5000) {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not reached');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('names a queue by the part of the job name before the dot', () => {
    assert.equal(queueOf('quality-on-demand.create'), 'quality-on-demand');
    assert.throws(() => queueOf('nodot'));
  });

  it('runs jobs with their data and correlator, and records durations', async () => {
    const seen: Array<{ n: number; correlator: string }> = [];
    const metrics = startPool({ 'testq.count': async (d) => void seen.push({ n: d.n, correlator: d.correlator }) });
    for (let n = 0; n < 5; n++) await queues.add('testq.count', { n, correlator: `c${n}` });
    await until(() => seen.length === 5);
    assert.deepEqual(seen.map((s) => s.n).sort(), [0, 1, 2, 3, 4]);
    assert.ok(seen.every((s) => s.correlator === `c${s.n}`));
    const text = await metrics.registry.metrics();
    assert.match(text, /gateway_job_duration_seconds_count\{queue="testq",name="testq.count",outcome="completed"\} 5/);
    assert.ok(pool!.running);
  });

  it('a deterministic job id runs the work once however often it is enqueued', async () => {
    let runs = 0;
    startPool({ 'testq.count': async () => void runs++ });
    for (let i = 0; i < 5; i++) await queues.add('testq.count', { n: 1, correlator: 'x' }, { jobId: 'same-request' });
    await until(() => runs >= 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(runs, 1);
  });

  it('retries a failing job with back-off until it succeeds', async () => {
    let tries = 0;
    startPool({
      'testq.flaky': async () => {
        tries++;
        if (tries < 3) throw new Error('transient');
      },
    });
    await queues.add('testq.flaky', { n: 1, correlator: 'x' }, { attempts: 5, backoff: { type: 'fixed', delay: 50 } });
    await until(() => tries === 3);
    const counts = await queues.counts(['testq']);
    await until(async () => (await queues.counts(['testq'])).testq.completed === 1);
    assert.equal(counts.testq.failed, 0);
  });

  it('close() cannot hang on a job that never finishes', async () => {
    let started = false;
    startPool({ 'testq.hang': () => ((started = true), new Promise(() => {})) }, 300);
    await queues.add('testq.hang', { n: 1, correlator: 'x' });
    await until(() => started);
    const t0 = Date.now();
    await pool!.close();
    assert.ok(Date.now() - t0 < 5000, 'close finished');
    assert.equal(pool!.running, false);
    // Idempotent.
    await pool!.close();
  });

  it('the producer fails fast while Redis is unreachable instead of queueing the command', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'command');
    dead.on('error', () => {});
    const q = new JobQueues(dead, prefix);
    const t0 = Date.now();
    await assert.rejects(q.add('testq.count', { n: 1, correlator: 'x' }));
    assert.ok(Date.now() - t0 < 5000);
    dead.disconnect();
    await q.close(500);
  });
});
