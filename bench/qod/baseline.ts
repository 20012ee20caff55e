import { startChild } from '../support/children.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { progress, runLoad, type Side } from '../support/load.ts';
import { startBenchRedis } from '../support/redis.ts';
import { usageMeter } from '../support/usage.ts';

/** How every closed-loop load run of the benchmark is shaped. */
export interface LoadSettings {
  /** Concurrent connections (each sends its next request when the previous is answered). */
  connections: number;
  /** Seconds measured. */
  durationSeconds: number;
  /** Seconds of load before the measurement, not counted (JIT, connection pools, Redis warm-up). */
  warmupSeconds: number;
}

/** What the baseline is sent: a small JSON document, about the size of a short createSession body. */
export const BASELINE_BODY = JSON.stringify({ device: { phoneNumber: '+8613900000001' }, qosProfile: 'QOS_BENCH', duration: 3600 });

/**
 * Serves the baseline from its own process on its own AOF redis-server, as one side of an
 * alternating measurement (see {@link alternate}); `stop` stops both.
 */
export async function startBaseline(cleanup: Cleanup, settings: LoadSettings): Promise<{ side: Side; stop(): Promise<void> }> {
  progress('baseline: starting a private redis-server (appendonly, everysec) and the express 5 + ioredis server');
  const redis = await startBenchRedis(cleanup, 'baseline');
  const child = await startChild('baseline server', 'bench/baseline-server.ts', { REDIS_URL: redis.server.url });
  const stopChild = cleanup.add('baseline server', () => child.stop());
  const load = {
    url: `http://127.0.0.1:${child.ready.port}/items`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: BASELINE_BODY,
    connections: settings.connections,
  };
  const side: Side = {
    name: 'baseline',
    load: (label, seconds) => runLoad(label, { ...load, duration: seconds }),
    meter: () => usageMeter(child.process.pid!, redis.server.process.pid!, redis.server.url),
  };
  return {
    side,
    async stop() {
      await stopChild();
      await redis.stop();
    },
  };
}
