/**
 * A gateway process of `npm run bench -- qod` or `-- auth`: the roles in BENCH_ROLES (`gateway`
 * or `worker`, or both), on the run's private redis-server (REDIS_URL), driving the simulated
 * network at PCF_URL and SUBSCRIBER_API_URL as a deployment would, with the bootstrap of the
 * benchmark named by BENCH_BOOTSTRAP (`qod`, the default, or `auth`). LOG_LEVEL (default `warn`),
 * WORKER_CONCURRENCY and WORKER_LOCK_MS are passed on, so a run can try other settings.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig, type Role } from '../src/infra/config.ts';
import { createSystem } from '../src/system.ts';
import { benchBootstrap } from './qod/bootstrap.ts';
import { authBootstrap } from './auth/bootstrap.ts';
import { serveAsChild } from './support/children.ts';

const roles = (process.env.BENCH_ROLES?.split(',') ?? ['gateway', 'worker']) as Role[];
// Only the settings that change how the gateway performs come from the environment.
const tuning = Object.fromEntries(['WORKER_CONCURRENCY', 'WORKER_LOCK_MS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
const config = loadConfig(
  { NODE_ENV: 'benchmark', ADMIN_TOKEN: 'bench-admin-token-0123456789', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...tuning },
  {
    redisUrl: process.env.REDIS_URL,
    publicUrl: 'http://127.0.0.1',
    // Sessions wait for their activation longer than any backlog of the run lasts.
    bootstrap: process.env.BENCH_BOOTSTRAP === 'auth' ? authBootstrap() : benchBootstrap({ requestedTimeoutSeconds: 300 }),
    network: { pcfApiRoot: process.env.PCF_URL!, subscriberApiUrl: process.env.SUBSCRIBER_API_URL!, n5CallbackPort: 0 },
  },
);
const system = await createSystem(config, { roles });
try {
  const port = roles.includes('gateway') ? ((await system.listen(0, '127.0.0.1')).address() as AddressInfo).port : 0;
  serveAsChild(port, () => system.close());
} catch (err) {
  await system.close();
  throw err;
}
