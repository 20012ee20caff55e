import { createServer, type Server } from 'node:http';
import { ConfigError, type GatewayConfig, type Role } from './infra/config.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { createMetrics, type Metrics } from './infra/metrics.ts';
import { assertNoEviction, createRedis, keyBuilder, parseRedisUrl, waitReady, type RedisClient } from './infra/redis.ts';
import { runCleanups, withDeadline } from './infra/deadline.ts';
import { TenancyStore } from './tenancy/store.ts';
import { Limits } from './tenancy/limits.ts';
import { applyBootstrap } from './tenancy/bootstrap.ts';
import { Keyring } from './auth/keyring.ts';
import { AccessControl } from './auth/access.ts';
import { ClientAuthenticator } from './auth/client-auth.ts';
import { tokenRouter } from './auth/token-endpoint.ts';
import { adminSecurity, clientSecurity } from './auth/api-security.ts';
import { JobQueues, bullPrefix } from './jobs/queues.ts';
import { WorkerPool } from './jobs/workers.ts';
import { queueOf, type ProcessorMap } from './jobs/registry.ts';
import { buildApi, type MountedApi } from './http/api-router.ts';
import { createApp, type GatewayApp, type Readiness } from './http/app.ts';
import { adminApi } from './admin/handlers.ts';
import { Notifier } from './notify/index.ts';
import { AuditLog } from './audit/audit-log.ts';
import { buildCatalog, type CatalogEntry } from './capabilities/catalog.ts';
import { builtinCapabilities } from './capabilities/index.ts';
import type { Capability, CapabilityRuntime, PlatformServices } from './capabilities/types.ts';
import { connectSouthbound, type ConnectedSouthbound } from './southbound.ts';
import { NumberVault } from './identity/number-vault.ts';
import { TrustedProxies } from './identity/client-address.ts';
import { ChainedAddresses } from './identity/identify.ts';
import { RadiusAddressBook } from '../adapters/radius/address-book.ts';
import { startRadiusAccounting, type RadiusAccounting } from '../adapters/radius/accounting-listener.ts';

export interface SystemOptions {
  /** Which parts run in this process. @defaultValue gateway and worker */
  roles?: readonly Role[];
  /** The capabilities available; the bootstrap's `capabilities` list picks from them. @defaultValue the built-in ones */
  capabilities?: readonly Capability[];
  logger?: Logger;
  metrics?: Metrics;
}

/** A running gateway process: HTTP app and/or workers over one Redis. */
export interface System {
  config: GatewayConfig;
  services: PlatformServices;
  catalog: CatalogEntry[];
  keyring: Keyring;
  metrics: Metrics;
  /** The HTTP application (gateway role only). */
  app?: GatewayApp;
  workers?: WorkerPool;
  /** The RADIUS accounting listener, when this process runs it (worker role, RADIUS_ACCT_PORT set). */
  radius?: { port: number };
  readiness(): Promise<Readiness>;
  /** Starts listening (gateway role). */
  listen(port?: number, host?: string): Promise<Server>;
  /** Graceful stop: drain HTTP, stop workers, close queues and Redis. Idempotent, bounded in time. */
  close(): Promise<void>;
}

/** Picks the capabilities the bootstrap document enables. */
function enabledCapabilities(available: readonly Capability[], wanted: string[] | undefined): Capability[] {
  if (!wanted) return [...available];
  return wanted.map((id) => {
    const cap = available.find((c) => c.id === id);
    if (!cap) throw new ConfigError(`capability "${id}" in the configuration is not one this gateway has (${available.map((c) => c.id).join(', ')})`);
    return cap;
  });
}

/** Opens the request-path connection and checks the Redis is fit to hold jobs. */
async function connectRedis(config: GatewayConfig, logger: Logger): Promise<RedisClient> {
  if (!config.redisUrl) throw new ConfigError('no Redis URL: set REDIS_URL, or start through `npm start`, which runs a private redis-server');
  if (parseRedisUrl(config.redisUrl).kind === 'cluster' && !/^\{[^}]+\}/.test(config.redisPrefix)) {
    // Multi-key commands (BullMQ's scripts, our transactions) need every key in one slot.
    throw new ConfigError(`on Redis Cluster REDIS_PREFIX must start with a hash tag such as {eg}; got "${config.redisPrefix}"`);
  }
  const redis = createRedis(config.redisUrl, 'command', 'gateway');
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  try {
    await waitReady(redis, config.redisUrl);
    await assertNoEviction(redis);
    return redis;
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}

interface GatewayParts {
  services: PlatformServices;
  keyring: Keyring;
  metrics: Metrics;
  catalog: CatalogEntry[];
  runtimes: Array<{ cap: Capability; runtime: CapabilityRuntime }>;
  readiness: () => Promise<Readiness>;
  scrapeQueues: () => Promise<void>;
  draining: () => boolean;
}

/** Applies the bootstrap and builds the HTTP application: operator API, OAuth2, every capability's APIs. */
async function buildGateway(p: GatewayParts): Promise<GatewayApp> {
  const { config, store, limits, redis, key, logger } = p.services;
  const result = await applyBootstrap(store, config.bootstrap, p.catalog.map((c) => c.id), { production: config.env === 'production' });
  logger.info({ ...result }, 'bootstrap applied');
  const issuer = config.publicUrl;
  const access = new AccessControl(p.keyring, store, { issuer, audience: issuer, clockToleranceSeconds: config.clockToleranceSeconds }, { redis, key });
  const clients = new ClientAuthenticator(store, redis, key, { issuer, tokenEndpoint: `${issuer}/oauth2/token`, clockToleranceSeconds: config.clockToleranceSeconds });
  const admin = adminApi({ store, keyring: p.keyring, catalog: () => p.catalog, notifier: p.services.notifier, audit: new AuditLog(redis, key), production: config.env === 'production' });
  const apis: MountedApi[] = [await buildApi(admin, { adminToken: adminSecurity(config.adminToken) }, async () => {})];
  for (const { cap, runtime } of p.runtimes) {
    const { openId, admission } = clientSecurity(access, limits, cap.id);
    for (const api of runtime.apis) apis.push(await buildApi(api, { openId }, admission));
    for (const api of runtime.adminApis ?? []) apis.push(await buildApi(api, { adminToken: adminSecurity(config.adminToken) }, async () => {}));
  }
  const scopes = new Map(p.catalog.map((c) => [c.id, c.scopes] as const));
  // The token endpoint and the authorization endpoint, which identifies devices by their data-path address.
  const { vault, trustedProxies, southbound } = p.services;
  const oauth = tokenRouter(
    { store, keyring: p.keyring, clients, redis, key, vault, trustedProxies, addresses: southbound?.addresses },
    {
      issuer,
      audience: issuer,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      bodyLimitBytes: config.bodyLimitBytes,
      clockToleranceSeconds: config.clockToleranceSeconds,
      capabilityScopes: () => scopes,
    },
  );
  return createApp({
    logger,
    metrics: p.metrics,
    store,
    bodyLimitBytes: config.bodyLimitBytes,
    apis,
    oauth,
    readiness: p.readiness,
    beforeScrape: p.scrapeQueues,
    draining: p.draining,
  });
}

/** Starts one BullMQ worker per queue, each on its own blocking connection. */
function startWorkers(config: GatewayConfig, processors: ProcessorMap, logger: Logger, metrics: Metrics): WorkerPool {
  const pool = new WorkerPool(processors, {
    connect: () => {
      // BullMQ works on duplicates of it, one for the jobs' state changes and one that blocks
      // waiting for jobs; both batch their writes per turn like it.
      const c = createRedis(config.redisUrl!, 'blocking', 'worker', { batchWrites: true });
      c.on('error', () => {}); // reconnects by itself; the worker logs what matters
      return c;
    },
    prefix: bullPrefix(config.redisPrefix),
    logger,
    metrics,
    concurrency: config.workerConcurrency,
    lockDurationMs: config.workerLockMs,
    closeTimeoutMs: Math.max(1000, Math.floor(config.shutdownTimeoutMs / 2)),
  });
  pool.start();
  return pool;
}

/** Builds (and for the worker role, starts) a gateway process. */
export async function createSystem(config: GatewayConfig, options: SystemOptions = {}): Promise<System> {
  const roles = options.roles ?? ['gateway', 'worker'];
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const redis = await connectRedis(config, logger);
  const key = keyBuilder(config.redisPrefix);
  const keyring = new Keyring(redis, key, { maxTokenLifetimeSeconds: config.accessTokenTtlSeconds + config.clockToleranceSeconds + 60 });
  await keyring.init();
  // BullMQ defines some fifty scripts on the connection it is given, and ioredis copies a
  // connection's scripts into every transaction (MULTI) made on it: the producer gets its own
  // connection so the request path's transactions stay cheap. Its writes are batched per turn of
  // the event loop like the command connection's, by corking, which copies nothing.
  const producer = createRedis(config.redisUrl!, 'command', 'producer');
  producer.on('error', () => {});
  try {
    await waitReady(producer, config.redisUrl!);
  } catch (err) {
    producer.disconnect();
    redis.disconnect();
    throw err;
  }
  let vault: NumberVault;
  let trustedProxies: TrustedProxies;
  try {
    trustedProxies = new TrustedProxies(config.trustedProxies);
    vault = await NumberVault.load(config.numberKey, config.env === 'production', redis, key, logger);
  } catch (err) {
    producer.disconnect();
    redis.disconnect();
    throw err instanceof ConfigError ? err : new ConfigError(`TRUSTED_PROXIES: ${(err as Error).message}`);
  }
  const queues = new JobQueues(producer, bullPrefix(config.redisPrefix));
  const store = new TenancyStore(redis, key);
  const notifier = new Notifier({ config, redis, key, store, queues, keyring, logger });
  // The network is reached through its adapters; only the worker role receives its notifications.
  let southbound: ConnectedSouthbound | undefined;
  let radius: RadiusAccounting | undefined;
  try {
    southbound = config.network ? await connectSouthbound(config.network, { listen: roles.includes('worker'), logger }) : undefined;
    if (config.radius && southbound) {
      // Devices are identified by what the packet gateway's RADIUS accounting says first, then by
      // the UE table. Every process reads the learned table from Redis; one UDP port per host, so
      // the listener runs where the N5 callback server does (the worker role).
      if (roles.includes('worker')) {
        radius = await startRadiusAccounting({ redis, key, vault, logger, metrics, host: config.radius.host, port: config.radius.port, secret: config.radius.secret });
      }
      const learned = radius?.addresses ?? new RadiusAddressBook({ redis, key, vault });
      southbound = { ...southbound, addresses: new ChainedAddresses(southbound.addresses ? [learned, southbound.addresses] : [learned]) };
    }
  } catch (err) {
    await southbound?.close();
    redis.disconnect();
    producer.disconnect();
    throw err;
  }
  const services: PlatformServices = { config, redis, key, store, limits: new Limits(redis, key), queues, logger, notifier, southbound, vault, trustedProxies };

  const capabilities = enabledCapabilities(options.capabilities ?? builtinCapabilities, config.bootstrap.capabilities);
  const catalog = buildCatalog(capabilities);
  const runtimes = capabilities.map((cap) => ({ cap, runtime: cap.create(services) }));
  for (const { runtime } of runtimes) await runtime.init?.();
  const processors: ProcessorMap = Object.assign(notifier.processors(), ...runtimes.map(({ runtime }) => runtime.processors ?? {}));
  const queueNames = [...new Set(Object.keys(processors).map(queueOf))];
  // Open every queue now, while Redis is known to be up, so no request ever waits on a queue's first connection.
  for (const name of queueNames) queues.queue(name);

  let draining = false;
  let server: Server | undefined;
  const workers = roles.includes('worker') && queueNames.length > 0 ? startWorkers(config, processors, logger, metrics) : undefined;

  async function readiness(): Promise<Readiness> {
    const checks: Record<string, string> = {};
    try {
      await withDeadline(redis.ping(), 1000, 'redis ping');
      checks.redis = 'ok';
    } catch (err) {
      checks.redis = `unreachable: ${(err as Error).message}`;
    }
    if (roles.includes('worker') && queueNames.length > 0) checks.workers = workers?.running ? 'ok' : 'not running';
    if (draining) checks.shutdown = 'draining';
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }

  async function scrapeQueues(): Promise<void> {
    const counts = await withDeadline(queues.counts(queueNames), 2000, 'queue counts');
    for (const [queue, byState] of Object.entries(counts)) {
      for (const [state, n] of Object.entries(byState)) metrics.queueDepth.set({ queue, state }, n);
    }
  }

  let app: GatewayApp | undefined;
  try {
    // The sweeper that recovers deliveries whose worker died runs wherever workers do, and so
    // does each capability's background work (network event intake, recovery loops).
    if (workers) {
      await notifier.start();
      for (const { runtime } of runtimes) runtime.startBackground?.();
    }
    if (roles.includes('gateway')) {
      app = await buildGateway({ services, keyring, metrics, catalog, runtimes, readiness, scrapeQueues, draining: () => draining });
    }
  } catch (err) {
    await workers?.close();
    await queues.close();
    await radius?.close();
    await southbound?.close();
    redis.disconnect();
    producer.disconnect();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    config,
    services,
    catalog,
    keyring,
    metrics,
    app,
    workers,
    radius: radius && { port: radius.port },
    readiness,
    async listen(port = config.port, host = config.host) {
      if (!app) throw new Error('this process does not run the gateway role');
      // node:http directly: express 5's app.listen() calls back on errors too, which would hide EADDRINUSE.
      const s = createServer(app);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.keepAliveTimeout = 5000;
      server = s;
      return s;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        await runCleanups(
          [
            ['http', () => drainHttp(server, Math.floor(config.shutdownTimeoutMs / 2))],
            ['background', () => Promise.all(runtimes.map(({ runtime }) => runtime.stopBackground?.()))],
            ['workers', () => workers?.close()],
            ['notifications', () => notifier.close()],
            ['usage', () => store.close()],
            ['capabilities', () => Promise.all(runtimes.map(({ runtime }) => runtime.close?.()))],
            ['radius', () => radius?.close()],
            ['southbound', () => southbound?.close()],
            ['queues', () => queues.close()],
            ['redis', () => Promise.all([redis, producer].map((c) => c.quit().catch(() => c.disconnect())))],
          ],
          config.shutdownTimeoutMs,
          (step, err) => logger.warn({ step, err: (err as Error)?.message }, 'shutdown step failed'),
        );
        redis.disconnect();
        producer.disconnect();
      })();
      return closing;
    },
  };
}

/** Stops accepting connections, lets in-flight requests finish, then cuts what is left. */
async function drainHttp(server: Server | undefined, timeoutMs: number): Promise<void> {
  if (!server || !server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  try {
    await withDeadline(closed, timeoutMs, 'http drain');
  } finally {
    server.closeAllConnections();
  }
}
