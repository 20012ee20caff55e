import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { TenancyStore } from '../tenancy/store.ts';
import { ApiError } from './errors.ts';
import { errorHandler, writeError } from './error-handler.ts';
import { correlate } from './middleware/x-correlator.ts';
import { apiDispatcher, apiMatcher, serveApi, type ApiResponse, type MountedApi } from './api-router.ts';
import { RequestLocals } from './locals.ts';

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

/** The gateway's HTTP request listener (for `http.createServer`, or supertest). */
export type GatewayApp = (req: IncomingMessage, res: ServerResponse) => void;

/** Request log line, metrics and usage record, written once the response is finished. */
function observe(deps: AppDeps, req: IncomingMessage, res: ApiResponse, path: string): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { locals } = res;
    const operation = locals.operation ?? 'unmatched';
    const labels = { operation, method: req.method!, status_code: String(res.statusCode) };
    deps.metrics.httpRequests.inc(labels);
    deps.metrics.httpDuration.observe(labels, seconds);
    const principal = locals.principal;
    if (deps.logger.isLevelEnabled('info')) {
      locals.log.info({ method: req.method, path, operation, status: res.statusCode, ms: Math.round(seconds * 1000), clientId: principal?.clientId }, 'request');
    }
    if (principal) {
      deps.store.recordUsage(principal.clientId, principal.capability, operation, res.statusCode);
    }
  });
}

/** The path of a request target in origin form (`/a/b?x=1`); undefined for any other form. */
function originPath(url: string): { path: string; search: string } | undefined {
  if (url.charCodeAt(0) !== 47 /* / */) return undefined;
  const q = url.indexOf('?');
  return q < 0 ? { path: url, search: '' } : { path: url.slice(0, q), search: url.slice(q + 1) };
}

/**
 * The gateway's HTTP application. Every request is observed, gets its x-correlator and is refused
 * while draining; then API calls (the paths under an API document's base path) go straight to
 * their API, and everything else (health, metrics, OAuth2, 404) to an express app.
 *
 * API calls skip express on purpose: express 5 swaps the prototypes of every request and response
 * object, which in V8 keeps each request's objects alive through young-generation collections, so
 * they are promoted and collected only by full collections (measured: 40% of what a request
 * allocates promoted, against none without the swap), and walks its router's layers. Express still
 * serves the API paths that arrive in another request-target form, through the same dispatcher.
 */
export function createApp(deps: AppDeps): GatewayApp {
  const apiAt = apiMatcher(deps.apis);
  const inner = createExpressApp(deps);

  return function gateway(req: IncomingMessage, plain: ServerResponse): void {
    const res = plain as ApiResponse;
    const target = originPath(req.url ?? '/');
    res.locals = new RequestLocals(deps.logger);
    observe(deps, req, res, target?.path ?? req.url ?? '');
    const refusal = correlate(req, res) ?? drainRefusal(deps, res);
    if (refusal) return writeError(refusal, req, res, deps.logger);
    const api = target && apiAt(target.path);
    if (!api) return inner(req, res);
    const query = target.search ? { ...parseQuery(target.search) } : {};
    serveApi(api, req, res, target.path, query, deps.bodyLimitBytes).catch((err) => {
      try {
        writeError(err, req, res, deps.logger);
      } catch {
        res.destroy();
      }
    });
  };
}

/** 503 while the process shuts down, on a connection that is then closed. */
function drainRefusal(deps: AppDeps, res: ServerResponse): ApiError | undefined {
  if (!deps.draining()) return undefined;
  res.setHeader('Connection', 'close');
  return new ApiError('UNAVAILABLE', 'the gateway is shutting down; retry', { headers: { 'Retry-After': '1' } });
}

/** What is not an API call in origin form: health, metrics, OAuth2, 404 and error bodies (the request already observed, correlated and admitted). */
function createExpressApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

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
