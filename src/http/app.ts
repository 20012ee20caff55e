import express, { type Express, type Request, type Response, type NextFunction, type Router } from 'express';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import { ApiError } from './errors.ts';
import { errorHandler } from './error-handler.ts';
import { xCorrelator } from './middleware/x-correlator.ts';
import { apiDispatcher, type MountedApi } from './api-router.ts';
import './locals.ts';

/** The answer of /readyz. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, 'ok' | string>;
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  store: TenancyStore;
  bodyLimitBytes: number;
  apis: MountedApi[];
  /** Routes outside the API documents: the OAuth2 endpoints. */
  oauth: Router;
  readiness: () => Promise<Readiness>;
  /** Refreshes gauges (queue depths) just before /metrics is read. */
  beforeScrape: () => Promise<void>;
  /** True once shutdown began: new requests get 503 and the connection is closed. */
  draining: () => boolean;
}

/** Request log line, metrics and usage record, written once the response is finished. */
function observe(deps: AppDeps) {
  return function observeRequest(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const operation = res.locals.operation ?? 'unmatched';
      const labels = { operation, method: req.method, status_code: String(res.statusCode) };
      deps.metrics.httpRequests.inc(labels);
      deps.metrics.httpDuration.observe(labels, seconds);
      const principal = res.locals.principal;
      if (deps.logger.isLevelEnabled('info')) {
        (res.locals.log ?? deps.logger.child({ correlator: res.locals.correlator })).info({ method: req.method, path: req.path, operation, status: res.statusCode, ms: Math.round(seconds * 1000), clientId: principal?.clientId }, 'request');
      }
      if (principal) {
        deps.store.recordUsage(principal.clientId, principal.capability, operation, res.statusCode);
      }
    });
    next();
  };
}

/**
 * The gateway's HTTP application. Order: observation → x-correlator → drain guard → the API whose
 * base path matches (its body read, size-limited) → health → OAuth2 → 404 → error body.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(observe(deps));
  app.use(xCorrelator());
  app.use(function bindLogger(_req: Request, res: Response, next: NextFunction) {
    // Made when first used: most requests log nothing below the configured level.
    let log: Logger | undefined;
    Object.defineProperty(res.locals, 'log', {
      get: () => (log ??= deps.logger.child({ correlator: res.locals.correlator })),
      set: (value: Logger) => (log = value),
      enumerable: true,
      configurable: true,
    });
    next();
  });
  app.use(function drainGuard(_req: Request, res: Response, next: NextFunction) {
    if (!deps.draining()) return next();
    res.setHeader('Connection', 'close');
    next(new ApiError('UNAVAILABLE', 'the gateway is shutting down; retry', { headers: { 'Retry-After': '1' } }));
  });

  // The APIs first: most requests are API calls, and they need not walk the probe and OAuth2 routes.
  app.use(apiDispatcher(deps.apis, deps.bodyLimitBytes));
  app.get('/healthz', (_req, res) => {
    res.locals.operation = 'healthz';
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    res.locals.operation = 'readyz';
    const r = await deps.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', checks: r.checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.locals.operation = 'metrics';
    await deps.beforeScrape().catch(() => {});
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.use(deps.oauth);
  app.use((_req: Request, _res: Response, next: NextFunction) => next(new ApiError('NOT_FOUND', 'no such resource path')));
  app.use(errorHandler(deps.logger));
  return app;
}
