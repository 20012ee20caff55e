/**
 * The gateway under test in `npm run bench -- qod`: gateway and worker roles in one process, as
 * `npm start` runs them, plus the simulated network with its delays off (`timeScale: 0`), so that
 * what is measured is the gateway's own work. REDIS_URL names the run's private redis-server;
 * BENCH_ROLES (default `gateway,worker`), LOG_LEVEL (default `warn`), WORKER_CONCURRENCY and
 * WORKER_LOCK_MS are passed on, so a run can try other settings.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig, type Role } from '../src/infra/config.ts';
import { createSystem, type System } from '../src/system.ts';
import { startSimulatedNetwork } from '../simulators/index.ts';
import { benchBootstrap } from './qod/bootstrap.ts';
import { serveAsChild } from './support/children.ts';

const net = await startSimulatedNetwork({ timeScale: 0, seed: 7 });
let system: System | undefined;
try {
  // Only the settings that change how the gateway performs come from the environment.
  const tuning = Object.fromEntries(['WORKER_CONCURRENCY', 'WORKER_LOCK_MS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]]));
  const config = loadConfig(
    { NODE_ENV: 'benchmark', ADMIN_TOKEN: 'bench-admin-token-0123456789', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...tuning },
    {
      redisUrl: process.env.REDIS_URL,
      publicUrl: 'http://127.0.0.1',
      // Sessions wait for their activation longer than any backlog of the run lasts.
      bootstrap: benchBootstrap({ requestedTimeoutSeconds: 300 }),
      network: { pcfApiRoot: net.pcfApiRoot, subscriberApiUrl: net.subscriberApiUrl, n5CallbackPort: 0 },
    },
  );
  system = await createSystem(config, { roles: (process.env.BENCH_ROLES?.split(',') ?? ['gateway', 'worker']) as Role[] });
  const server = await system.listen(0, '127.0.0.1');
  serveAsChild((server.address() as AddressInfo).port, async () => {
    await system!.close();
    await net.close();
  });
} catch (err) {
  await system?.close();
  await net.close();
  throw err;
}
