import { createServer, type Server } from 'node:http';
import type { Express, Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import { ConfigError, type GatewayConfig, type Role } from './infra/config.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { createMetrics, type Metrics } from './infra/metrics.ts';
import { assertNoEviction, createRedis, keyBuilder, parseRedisUrl, waitReady } from './infra/redis.ts';
import { runCleanups, withDeadline } from './infra/deadline.ts';
import { TenancyStore } from './tenancy/store.ts';
import { Limits, rateLimitHeaders } from './tenancy/limits.ts';
import { applyBootstrap } from './tenancy/bootstrap.ts';
import { Keyring } from './auth/keyring.ts';
import { AccessControl } from './auth/access.ts';
import { ClientAuthenticator } from './auth/client-auth.ts';
import { tokenRouter } from './auth/token-endpoint.ts';
import { safeEqual } from './auth/secrets.ts';
import { JobQueues, bullPrefix } from './jobs/queues.ts';
import { WorkerPool } from './jobs/workers.ts';
import { queueOf, type ProcessorMap } from './jobs/registry.ts';
import { ApiError } from './http/errors.ts';
import { buildApi, type MountedApi, type SecurityCheck } from './http/api-router.ts';
import { createApp, type Readiness } from './http/app.ts';
import { adminApi } from './admin/handlers.ts';
import { buildCatalog, type CatalogEntry } from './capabilities/catalog.ts';
import { builtinCapabilities } from './capabilities/index.ts';
import type { Capability, PlatformServices } from './capabilities/types.ts';

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
  app?: Express;
  workers?: WorkerPool;
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

/** Builds (and for the worker role, starts) a gateway process. */
export async function createSystem(config: GatewayConfig, options: SystemOptions = {}): Promise<System> {
  const roles = options.roles ?? ['gateway', 'worker'];
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  if (!config.redisUrl) throw new ConfigError('no Redis URL: set REDIS_URL, or start through `npm start`, which runs a private redis-server');
  const redisUrl = config.redisUrl;

  if (parseRedisUrl(redisUrl).kind === 'cluster' && !/^\{[^}]+\}/.test(config.redisPrefix)) {
    // Multi-key commands (BullMQ's scripts, our transactions) need every key in one slot.
    throw new ConfigError(`on Redis Cluster REDIS_PREFIX must start with a hash tag such as {eg}; got "${config.redisPrefix}"`);
  }
  const redis = createRedis(redisUrl, 'command', 'gateway');
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  try {
    await waitReady(redis, redisUrl);
    await assertNoEviction(redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }

  const key = keyBuilder(config.redisPrefix);
  const store = new TenancyStore(redis, key);
  const limits = new Limits(redis, key);
  const keyring = new Keyring(redis, key, { maxTokenLifetimeSeconds: config.accessTokenTtlSeconds + config.clockToleranceSeconds + 60 });
  await keyring.init();
  const queues = new JobQueues(redis, bullPrefix(config.redisPrefix));
  const services: PlatformServices = { config, redis, key, store, limits, queues, logger };

  const capabilities = enabledCapabilities(options.capabilities ?? builtinCapabilities, config.bootstrap.capabilities);
  const catalog = buildCatalog(capabilities);
  const scopeMap = new Map(catalog.map((c) => [c.id, c.scopes] as const));
  const runtimes = capabilities.map((cap) => ({ cap, runtime: cap.create(services) }));

  let app: Express | undefined;
  let workers: WorkerPool | undefined;
  let server: Server | undefined;
  let draining = false;

  if (roles.includes('gateway')) {
    const result = await applyBootstrap(store, config.bootstrap, [...scopeMap.keys()], { production: config.env === 'production' });
    logger.info({ ...result }, 'bootstrap applied');
    const access = new AccessControl(keyring, store, { issuer: config.publicUrl, audience: config.publicUrl, clockToleranceSeconds: config.clockToleranceSeconds });
    const clients = new ClientAuthenticator(store, redis, key, {
      issuer: config.publicUrl,
      tokenEndpoint: `${config.publicUrl}/oauth2/token`,
      clockToleranceSeconds: config.clockToleranceSeconds,
    });
    const adminCheck: SecurityCheck = async (_req, _c, req: Request) => {
      const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !safeEqual(m[1].trim(), config.adminToken)) {
        throw new ApiError('UNAUTHENTICATED', undefined, { headers: { 'WWW-Authenticate': 'Bearer realm="exposure-gateway-admin"' } });
      }
    };
    const apis: MountedApi[] = [await buildApi(adminApi({ store, keyring, catalog: () => catalog }), { adminToken: adminCheck }, async () => {})];
    for (const { cap, runtime } of runtimes) {
      const clientCheck: SecurityCheck = async (requirement, c: Context, req: Request, res: Response) => {
        const claims = await access.authenticate(req.headers.authorization);
        const requirements = (c.operation.security ?? []).map((r: Record<string, string[]>) => r.openId ?? requirement);
        res.locals.principal = await access.authorize(claims, requirements, cap.id);
        res.locals.capability = cap.id;
      };
      const admission = async (_c: Context, _req: Request, res: Response) => {
        const principal = res.locals.principal;
        if (!principal) return;
        try {
          const state = await limits.check(principal.clientId, cap.id, principal.plan);
          for (const [name, value] of Object.entries(rateLimitHeaders(state))) res.setHeader(name, value);
        } catch (err) {
          if (err instanceof ApiError) for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
          throw err;
        }
      };
      for (const api of runtime.apis) apis.push(await buildApi(api, { openId: clientCheck }, admission));
    }
    const oauth = tokenRouter(
      { store, keyring, clients },
      {
        issuer: config.publicUrl,
        audience: config.publicUrl,
        accessTokenTtlSeconds: config.accessTokenTtlSeconds,
        bodyLimitBytes: config.bodyLimitBytes,
        capabilityScopes: () => scopeMap,
      },
    );
    app = createApp({
      logger,
      metrics,
      store,
      bodyLimitBytes: config.bodyLimitBytes,
      apis,
      oauth,
      readiness: () => readiness(),
      beforeScrape: () => scrapeQueues(),
      draining: () => draining,
    });
  }

  const processors: ProcessorMap = Object.assign({}, ...runtimes.map(({ runtime }) => runtime.processors ?? {}));
  if (roles.includes('worker') && Object.keys(processors).length > 0) {
    workers = new WorkerPool(processors, {
      connect: () => {
        const c = createRedis(redisUrl, 'blocking', 'worker');
        c.on('error', () => {});
        return c;
      },
      prefix: bullPrefix(config.redisPrefix),
      logger,
      metrics,
      concurrency: config.workerConcurrency,
      closeTimeoutMs: Math.max(1000, Math.floor(config.shutdownTimeoutMs / 2)),
    });
    workers.start();
  }
  const queueNames = [...new Set(Object.keys(processors).map(queueOf))];
  // Open every queue now, while Redis is known to be up, so no request ever waits on a queue's first connection.
  for (const name of queueNames) queues.queue(name);

  async function scrapeQueues(): Promise<void> {
    const counts = await withDeadline(queues.counts(queueNames), 2000, 'queue counts');
    for (const [queue, byState] of Object.entries(counts)) {
      for (const [state, n] of Object.entries(byState)) metrics.queueDepth.set({ queue, state }, n);
    }
  }

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

  let closing: Promise<void> | undefined;
  const system: System = {
    config,
    services,
    catalog,
    keyring,
    metrics,
    app,
    workers,
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
      server = s;
      server.keepAliveTimeout = 5000;
      return server;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        const deadline = config.shutdownTimeoutMs;
        const onError = (step: string, err: unknown) => logger.warn({ step, err: (err as Error)?.message }, 'shutdown step failed');
        await runCleanups(
          [
            ['http', () => drainHttp(server, Math.floor(deadline / 2))],
            ['workers', () => workers?.close()],
            ['queues', () => queues.close()],
            ['redis', () => redis.quit().catch(() => redis.disconnect())],
          ],
          deadline,
          onError,
        );
        redis.disconnect();
      })();
      return closing;
    },
  };
  return system;
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
