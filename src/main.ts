/**
 * `npm start`: runs the whole gateway (HTTP API, workers, simulators) in one process with embedded
 * defaults, starting a private redis-server when `REDIS_URL` is not set. `--role=gateway`,
 * `--role=worker` or `--role=simulators` (comma-separated for several) runs only those parts, so
 * operators can scale them apart; separate processes need a shared `REDIS_URL`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ROLES, ConfigError, loadConfig, type Role } from './infra/config.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { RedisConfigError } from './infra/redis.ts';
import { RedisServerError, startRedisServer, type RedisServer } from './infra/redis-server.ts';
import { BootstrapError } from './tenancy/bootstrap.ts';
import { createSystem, type System } from './system.ts';
import { startSimulatedNetwork, type SimulatedNetwork } from '../simulators/index.ts';

function parseRoles(argv: string[]): Role[] {
  const arg = argv.find((a) => a.startsWith('--role='));
  if (!arg) return [...ALL_ROLES];
  const roles = arg.slice('--role='.length).split(',').filter(Boolean);
  for (const r of roles) if (!ALL_ROLES.includes(r as Role)) throw new ConfigError(`unknown role "${r}"; use ${ALL_ROLES.join(', ')}`);
  return roles as Role[];
}

/** Stops a private redis-server left running by a previous run that was killed, so two never share one append-only file. */
async function stopStaleRedis(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : 'redis-server';
    if (pid > 0 && cmd.includes('redis-server')) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        process.kill(pid, 0);
      }
    }
  } catch {
    // not running (any more)
  }
  rmSync(pidFile, { force: true });
}

/** Starts the private redis-server of a single-process run and records its pid. */
async function startPrivateRedis(dir: string, logger: Logger): Promise<RedisServer> {
  const pidFile = join(dir, 'redis-server.pid');
  await stopStaleRedis(pidFile);
  logger.info({ dir }, 'REDIS_URL not set; starting a private redis-server (append-only, noeviction)');
  const server = await startRedisServer({ dir });
  writeFileSync(pidFile, String(server.process.pid));
  logger.info({ url: server.url, pid: server.process.pid }, 'private redis-server ready');
  return server;
}

async function stopPrivateRedis(server: RedisServer | undefined, dir: string): Promise<void> {
  if (!server) return;
  await server.stop();
  rmSync(join(dir, 'redis-server.pid'), { force: true });
}

/** Says where the gateway listens and, in development, the operator token of this run. */
function announce(system: System, port: number, logger: Logger): void {
  const { config } = system;
  logger.info({ port, url: config.publicUrl, capabilities: system.catalog.map((c) => c.id) }, 'gateway listening');
  if (config.adminTokenGenerated) {
    // Printed once so a developer can use the operator API; production requires ADMIN_TOKEN.
    process.stdout.write(`\nOperator API token for this run (set ADMIN_TOKEN to choose one): ${config.adminToken}\n\n`);
  }
  if (process.stdout.isTTY) {
    process.stdout.write(`Exposure Gateway is ready on ${config.publicUrl} (readiness: ${config.publicUrl}/readyz). Ctrl-C stops it.\n\n`);
  }
}

async function listen(system: System): Promise<number> {
  try {
    const address = (await system.listen()).address();
    return typeof address === 'object' && address ? address.port : system.config.port;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`port ${system.config.port} is already in use; stop what uses it or set PORT to a free port`);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const roles = parseRoles(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { roles: roles.join(',') });
  let privateRedis: RedisServer | undefined;
  const simulatorsOnly = roles.length === 1 && roles[0] === 'simulators';
  if (!config.redisUrl && !simulatorsOnly) {
    if (roles.length !== ALL_ROLES.length) throw new ConfigError('running separate roles needs a shared Redis: set REDIS_URL');
    privateRedis = await startPrivateRedis(config.redisDir, logger);
    config.redisUrl = privateRedis.url;
  }

  // The simulated network runs when asked for (its own role), or in a whole-system run that names no real network.
  let network: SimulatedNetwork | undefined;
  if (roles.includes('simulators') && (roles.length === 1 || !config.network)) {
    network = await startNetwork(logger, roles.length === 1);
    if (!config.network) {
      config.network = {
        pcfApiRoot: network.pcfApiRoot,
        subscriberApiUrl: network.subscriberApiUrl,
        n5CallbackPort: Number(process.env.N5_CALLBACK_PORT ?? 0),
        lineControllerUrl: network.lineControllerUrl,
        lineEventsPort: Number(process.env.LINE_EVENTS_PORT ?? 0),
      };
    }
  }

  let system: System | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000).unref();
    await system?.close();
    await network?.close();
    await stopPrivateRedis(privateRedis, config.redisDir);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (roles.length === 1 && network) return; // the simulators alone: nothing else to start
  try {
    system = await createSystem(config, { roles: roles.filter((r) => r !== 'simulators'), logger });
    if (roles.includes('gateway')) announce(system, await listen(system), logger);
  } catch (err) {
    // Leave nothing running behind a failed start.
    await system?.close();
    await network?.close();
    await stopPrivateRedis(privateRedis, config.redisDir);
    throw err;
  }
  if (roles.includes('worker')) logger.info({ queues: system.workers?.queueNames ?? [] }, 'workers running');
}

/**
 * Starts the simulated network (bearer controller, PCF, line controller). Alone, it listens on
 * fixed ports (`BEARER_CONTROLLER_PORT`, default 9101; `PCF_PORT`, default 9102;
 * `LINE_CONTROLLER_PORT`, default 9103) so gateway processes can be pointed at it; inside a
 * whole-system run it takes free ports.
 */
async function startNetwork(logger: Logger, alone: boolean): Promise<SimulatedNetwork> {
  const num = (name: string, fallback: number) => {
    const v = Number(process.env[name] ?? fallback);
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${name} must be a non-negative number`);
    return v;
  };
  const network = await startSimulatedNetwork({
    seed: num('SIMULATOR_SEED', 1),
    timeScale: num('SIMULATOR_TIME_SCALE', 1),
    bearerControllerPort: alone ? num('BEARER_CONTROLLER_PORT', 9101) : 0,
    pcfPort: alone ? num('PCF_PORT', 9102) : 0,
    lineControllerPort: alone ? num('LINE_CONTROLLER_PORT', 9103) : 0,
    log: (line) => logger.debug(line, 'simulator'),
  });
  logger.info(
    {
      pcfApiRoot: network.pcfApiRoot,
      subscriberApiUrl: network.subscriberApiUrl,
      lineControllerUrl: network.lineControllerUrl,
      networkControl: `${network.subscriberApiUrl}/control`,
      pcfControl: network.pcfControlUrl,
      lineControl: `${network.lineControllerUrl}/control`,
    },
    'simulated network running',
  );
  return network;
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof RedisServerError || err instanceof RedisConfigError || err instanceof BootstrapError;
  process.stderr.write(`\nExposure Gateway could not start: ${known ? (err as Error).message : (err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
