import { OpenAPIBackend, type Context } from 'openapi-backend';
import addFormats from 'ajv-formats';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import { ApiError } from './errors.ts';
import { basePathOf, loadDocument, operationsOf } from './openapi.ts';
import { readRawBody } from './middleware/raw-body.ts';
import type { ApiDefinition, ApiRequest, Reply } from '../capabilities/types.ts';

/**
 * Checks a security scheme for one request. Returns normally when satisfied; throws the ApiError
 * to answer otherwise (401/403). Runs after routing, so it knows the operation and its scopes.
 */
export type SecurityCheck = (requirement: string[], context: Context, req: Request, res: Response) => Promise<void>;

/** Runs once a request is authorised and before it is validated (rate limits, quotas). */
export type AdmissionCheck = (context: Context, req: Request, res: Response) => Promise<void>;

export interface MountedApi {
  basePath: string;
  title: string;
  backend: OpenAPIBackend;
}

/** The request object openapi-backend routes and validates; `body` is the raw bytes until parsed. */
interface BackendRequest {
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

function describeValidation(context: Context): string {
  const errors = context.validation?.errors ?? [];
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
function parseBody(context: Context, request: BackendRequest): void {
  const requestBody = context.operation.requestBody as { required?: boolean; content?: Record<string, unknown> } | undefined;
  const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
  const hasBody = !!raw && raw.length > 0;
  if (!requestBody) {
    request.body = undefined;
    context.request.requestBody = undefined;
    return;
  }
  if (!hasBody) {
    if (requestBody.required) throw new ApiError('INVALID_ARGUMENT', 'the request body is required');
    request.body = undefined;
    context.request.requestBody = undefined;
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
  context.request.requestBody = request.body;
}

function allowedMethods(backend: OpenAPIBackend, path: string): string[] {
  const allowed: string[] = [];
  for (const method of ['get', 'put', 'post', 'delete', 'patch']) {
    try {
      if (backend.router.matchOperation({ method, path, headers: {} } as never, true)) allowed.push(method.toUpperCase());
    } catch {
      // not this method
    }
  }
  return allowed;
}

/**
 * Builds the openapi-backend instance of one API: strict mode, routing and request validation from
 * the document, handlers by operationId. The order a request goes through is
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
    const check = security[scheme];
    if (!check) throw new Error(`${api.document}: no security handler for scheme "${scheme}"`);
    backend.registerSecurityHandler(scheme, async (c: Context, req: Request, res: Response) => {
      const requirement = (c.operation.security ?? []).find((r: Record<string, string[]>) => scheme in r)?.[scheme] ?? [];
      await check(requirement, c, req, res);
      return true;
    });
  }
  backend.register({
    notFound: () => {
      throw new ApiError('NOT_FOUND', 'no such resource path in this API');
    },
    methodNotAllowed: (c: Context) => {
      const allow = allowedMethods(backend, c.request.path);
      throw new ApiError('METHOD_NOT_ALLOWED', `method not allowed; use ${allow.join(', ')}`, { headers: { Allow: allow.join(', ') } });
    },
    postRoutingHandler: (c: Context, _req: Request, res: Response) => {
      if (c.operation) res.locals.operation = c.operation.operationId;
    },
    unauthorizedHandler: (c: Context) => {
      const failure = Object.values(c.security ?? {}).find((r: any) => r && typeof r === 'object' && r.error) as { error: unknown } | undefined;
      // A security check that failed for another reason (Redis unreachable) keeps its error, so
      // the client gets 503 rather than a misleading 401.
      throw failure?.error ?? new ApiError('UNAUTHENTICATED');
    },
    postSecurityHandler: async (c: Context, req: Request, res: Response) => {
      const open = (c.operation.security ?? []).length === 0;
      if (!open && !c.security?.authorized) return; // unauthorizedHandler answers
      await admission(c, req, res);
      parseBody(c, res.locals.backendRequest as BackendRequest);
    },
    validationFail: (c: Context) => {
      throw new ApiError('INVALID_ARGUMENT', describeValidation(c));
    },
    postResponseHandler: (c: Context) => c.response,
  });
  // Handlers may serve several documents of a capability; each document takes its own operations,
  // and every operation it declares must have one.
  const declared = operationsOf(definition).map((o) => String(o.operation.operationId));
  const missing = declared.filter((id) => !api.handlers[id]);
  if (missing.length) throw new Error(`${api.document}: no handler for ${missing.join(', ')}`);
  for (const [operationId, handler] of Object.entries(api.handlers).filter(([id]) => declared.includes(id))) {
    backend.register(operationId, (c: Context, req: Request, res: Response) => {
      const request: ApiRequest = {
        params: c.request.params as Record<string, string>,
        query: c.request.query as Record<string, unknown>,
        headers: c.request.headers as ApiRequest['headers'],
        body: c.request.requestBody,
        peer: { address: req.socket?.remoteAddress, port: req.socket?.remotePort },
      };
      return handler(request, {
        operationId,
        correlator: res.locals.correlator,
        get log() {
          return res.locals.log;
        },
        principal: res.locals.principal,
      });
    });
  }
  await backend.init();
  // openapi-backend rebuilds the list of operations from the document (with lodash) on every
  // request it routes; the document never changes once loaded, so the list is built once.
  const operations = backend.router.getOperations();
  backend.router.getOperations = () => operations;
  return { basePath, title: definition.info.title, backend };
}

/** Writes a handler's reply. */
export function writeReply(res: Response, reply: Reply): void {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.body === undefined) {
    res.status(reply.status).end();
    return;
  }
  res.status(reply.status).type('application/json').send(JSON.stringify(reply.body));
}

/**
 * One express middleware that hands each request to the API whose base path it falls under, with
 * its body read as bytes (at most `bodyLimitBytes`). Other paths pass on untouched, their bodies
 * unread, to the routes after it.
 */
export function apiDispatcher(apis: MountedApi[], bodyLimitBytes: number): RequestHandler {
  const ordered = [...apis].sort((a, b) => b.basePath.length - a.basePath.length);
  return async function dispatchApi(req: Request, res: Response, next: NextFunction) {
    const api = ordered.find((a) => req.path === a.basePath || req.path.startsWith(a.basePath + '/'));
    if (!api) return next();
    try {
      const backendRequest: BackendRequest = {
        method: req.method,
        path: req.path,
        headers: req.headers,
        query: { ...(req.query as Record<string, unknown>) },
        body: await readRawBody(req, bodyLimitBytes),
      };
      res.locals.backendRequest = backendRequest;
      const reply = (await api.backend.handleRequest(backendRequest as never, req, res)) as Reply;
      writeReply(res, reply);
    } catch (err) {
      next(err);
    }
  };
}
