import { OpenAPIBackend, type Context, type Operation } from 'openapi-backend';
import addFormats from 'ajv-formats';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { ApiError } from './errors.ts';
import { basePathOf, loadDocument, operationsOf } from './openapi.ts';
import { readRawBody } from './middleware/raw-body.ts';
import { OperationRouter } from './operation-router.ts';
import type { ApiDefinition, ApiRequest, Reply, RequestContext } from '../capabilities/types.ts';
import type { Principal } from '../auth/access.ts';
import type { Logger } from '../infra/logger.ts';

/** A response while the gateway serves it, with what it keeps about the request. */
export type ApiResponse = ServerResponse & { locals: Express.Locals };

/**
 * Checks a security scheme for one request. Returns normally when satisfied; throws the ApiError
 * to answer otherwise (401/403). Runs after routing, so it knows the operation and its scopes.
 */
export type SecurityCheck = (requirement: string[], context: Context, req: IncomingMessage, res: ApiResponse) => Promise<void>;

/** Runs once a request is authorised and before it is validated (rate limits, quotas). */
export type AdmissionCheck = (context: Context, req: IncomingMessage, res: ApiResponse) => Promise<void>;

export interface MountedApi {
  basePath: string;
  title: string;
  /** Runs one request through the pipeline below and returns the handler's reply (or throws an ApiError). */
  handle(request: BackendRequest, req: IncomingMessage, res: ApiResponse): Promise<Reply>;
}

/** A request as the router sees it; `body` is the raw bytes until parsed. */
export interface BackendRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  body: unknown;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0].trim().toLowerCase() || undefined;
}

function describeValidation(errors: unknown[]): string {
  const parts = errors.slice(0, 5).map((e: any) => {
    const where = String(e.instancePath || '').replace(/^\/requestBody/, 'body').replace(/^\//, '').replace(/\//g, '.') || 'request';
    const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : '';
    return `${where} ${e.message}${extra}`;
  });
  return parts.join('; ') || 'request does not match the API contract';
}

/**
 * Parses the body now that the operation is known: 415 for a content type the operation does not
 * accept, 400 for malformed JSON or a missing required body. Nothing malformed reaches a handler.
 */
function parseBody(operation: Operation, request: BackendRequest): void {
  const requestBody = operation.requestBody as { required?: boolean; content?: Record<string, unknown> } | undefined;
  const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
  const hasBody = !!raw && raw.length > 0;
  if (!requestBody) {
    request.body = undefined;
    return;
  }
  if (!hasBody) {
    if (requestBody.required) throw new ApiError('INVALID_ARGUMENT', 'the request body is required');
    request.body = undefined;
    return;
  }
  const type = mediaType(request.headers['content-type'] as string | undefined);
  const accepted = Object.keys(requestBody.content ?? {});
  if (!type || !accepted.includes(type)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `content type must be ${accepted.join(' or ')}`);
  }
  const charset = /;\s*charset="?([^";]+)"?/i.exec(String(request.headers['content-type']))?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'the request body must be encoded as UTF-8');
  }
  if (JSON_TYPE.test(type)) {
    try {
      request.body = JSON.parse(raw!.toString('utf8'));
    } catch {
      throw new ApiError('INVALID_ARGUMENT', 'the request body is not valid JSON');
    }
  } else {
    request.body = raw!.toString('utf8');
  }
}

/**
 * Mounts one API: routing and request validation from its document (openapi-backend compiles the
 * validators, the OperationRouter applies them), handlers by operationId. The order a request goes through is
 * route (404/405) → security (401/403) → admission (429) → body (415/400) → schema (400) → handler.
 */
export async function buildApi(
  api: ApiDefinition,
  security: Record<string, SecurityCheck>,
  admission: AdmissionCheck,
): Promise<MountedApi> {
  const definition = loadDocument(api.document);
  const basePath = basePathOf(definition);
  const backend = new OpenAPIBackend({
    definition: definition as never,
    apiRoot: basePath,
    strict: true,
    coerceTypes: true,
    // CAMARA schemas rely on formats (ipv4, ipv6, uri, date-time, uuid): enforce them, never ignore them.
    customizeAjv: (ajv) => {
      (addFormats as unknown as (a: typeof ajv) => void)(ajv);
      return ajv;
    },
  });
  // Schemes that only callbacks use (a sink's bearer token) guard nothing served here.
  const used = new Set([...(definition.security ?? []), ...Object.values(definition.paths).flatMap((item) => Object.values(item).flatMap((op: any) => op?.security ?? []))].flatMap((r: Record<string, string[]>) => Object.keys(r)));
  for (const scheme of Object.keys(definition.components?.securitySchemes ?? {}).filter((s) => used.has(s))) {
    if (!security[scheme]) throw new Error(`${api.document}: no security handler for scheme "${scheme}"`);
  }
  // Handlers may serve several documents of a capability; each document takes its own operations,
  // and every operation it declares must have one.
  const declared = operationsOf(definition).map((o) => String(o.operation.operationId));
  const missing = declared.filter((id) => !api.handlers[id]);
  if (missing.length) throw new Error(`${api.document}: no handler for ${missing.join(', ')}`);
  // openapi-backend loads the document and compiles its validators; requests are routed and
  // validated by the OperationRouter with the same semantics, at a fraction of the cost.
  await backend.init();
  const router = new OperationRouter(backend, basePath);

  /**
   * The operation's security requirements (OpenAPI: any one object, all schemes of that object).
   * A check that fails throws; the first failure is answered, so a check that failed for another
   * reason (Redis unreachable) gives 503 rather than a misleading 401.
   */
  async function authorize(context: Context, req: IncomingMessage, res: ApiResponse): Promise<void> {
    const requirements = (context.operation.security ?? []) as Array<Record<string, string[]>>;
    if (requirements.length === 0) return;
    const outcomes = new Map<string, unknown>();
    for (const scheme of new Set(requirements.flatMap((r) => Object.keys(r)))) {
      const requirement = requirements.find((r) => scheme in r)![scheme];
      try {
        await security[scheme](requirement, context, req, res);
        outcomes.set(scheme, true);
      } catch (err) {
        outcomes.set(scheme, err ?? new ApiError('UNAUTHENTICATED'));
      }
    }
    if (requirements.some((r) => Object.keys(r).every((scheme) => outcomes.get(scheme) === true))) return;
    throw [...outcomes.values()].find((o) => o !== true) ?? new ApiError('UNAUTHENTICATED');
  }

  async function handle(request: BackendRequest, req: IncomingMessage, res: ApiResponse): Promise<Reply> {
    const { op, params } = router.route(request.method, request.path);
    res.locals.operation = op.operationId;
    const context = { api: backend, operation: op.operation, request: { method: request.method, path: request.path, headers: request.headers, query: request.query, params } } as unknown as Context;
    await authorize(context, req, res);
    // Admission's Redis command is on its way (held for this turn's write) while the body is
    // checked; a refusal still comes first, as the order above says.
    const admitted = admission(context, req, res);
    let apiRequest: ApiRequest;
    try {
      parseBody(op.operation, request);
      const errors = router.validate(op, {
        params,
        query: request.query,
        headers: request.headers,
        body: request.body,
        contentType: mediaType(request.headers['content-type'] as string | undefined),
      });
      if (errors) throw new ApiError('INVALID_ARGUMENT', describeValidation(errors));
      apiRequest = {
        params,
        query: request.query,
        headers: request.headers,
        body: request.body,
        peer: { address: req.socket?.remoteAddress, port: req.socket?.remotePort },
      };
    } catch (err) {
      await admitted;
      throw err;
    }
    // In the same turn as admission's command, so the two leave in one write.
    const prefetched = api.prefetch?.[op.operationId]?.(apiRequest);
    // A refused request never looks at what was read; a failed read is the handler's to meet.
    prefetched?.catch(() => undefined);
    await admitted;
    // Admission may have read the client's rights again: the principal is taken now.
    return api.handlers[op.operationId](apiRequest, new HandlerContext(op.operationId, res.locals, prefetched));
  }
  return { basePath, title: definition.info.title, handle };
}

/**
 * What a handler gets besides the request. A class, so that `log` is one getter on the prototype:
 * a getter written in each request's object literal is stored in an AccessorPair, which V8
 * allocates in the old generation, and that pair, dead, still holds the getter's closure and so the
 * whole request through every young-generation collection until a full one (measured on token
 * exchanges: about 8 KB promoted per request, scavenges three times as long).
 */
class HandlerContext implements RequestContext {
  readonly correlator: string;
  readonly principal?: Principal;

  constructor(
    readonly operationId: string,
    private readonly locals: Express.Locals,
    readonly prefetched: Promise<unknown> | undefined,
  ) {
    this.correlator = locals.correlator;
    this.principal = locals.principal;
  }

  /** The request's logger, made when first used. */
  get log(): Logger {
    return this.locals.log;
  }
}

/**
 * Writes a handler's reply with node's own response calls: express's `send` would work out a
 * content type, a charset, an ETag (disabled) and freshness for every answer, all known here.
 */
export function writeReply(res: ServerResponse, reply: Reply): void {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.statusCode = reply.status;
  if (reply.body === undefined) {
    res.end();
    return;
  }
  const body = JSON.stringify(reply.body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Finds the API whose base path a request path falls under (the longest, when they nest). */
export function apiMatcher(apis: MountedApi[]): (path: string) => MountedApi | undefined {
  const ordered = [...apis].sort((a, b) => b.basePath.length - a.basePath.length);
  return (path) => ordered.find((a) => path.startsWith(a.basePath) && (path.length === a.basePath.length || path.charCodeAt(a.basePath.length) === 47 /* / */));
}

/** Serves one API call: its body read as bytes (at most `bodyLimitBytes`), the API's reply written. */
export async function serveApi(api: MountedApi, req: IncomingMessage, res: ApiResponse, path: string, query: Record<string, unknown>, bodyLimitBytes: number): Promise<void> {
  const backendRequest: BackendRequest = {
    method: req.method!,
    path,
    headers: req.headers,
    query,
    body: await readRawBody(req, bodyLimitBytes),
  };
  writeReply(res, await api.handle(backendRequest, req, res));
}

/**
 * One express middleware that hands each request to the API whose base path it falls under (see
 * {@link serveApi}). Other paths pass on untouched, their bodies unread, to the routes after it.
 * The gateway serves API calls without express (`createApp`); this serves the ones that reach
 * express, in a request-target form other than a plain path.
 */
export function apiDispatcher(apis: MountedApi[], bodyLimitBytes: number): RequestHandler {
  const apiAt = apiMatcher(apis);
  return async function dispatchApi(req: Request, res: Response, next: NextFunction) {
    const api = apiAt(req.path);
    if (!api) return next();
    try {
      await serveApi(api, req, res as ApiResponse, req.path, { ...(req.query as Record<string, unknown>) }, bodyLimitBytes);
    } catch (err) {
      next(err);
    }
  };
}
