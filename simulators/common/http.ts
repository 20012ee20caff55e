/**
 * A small JSON router over node:http, shared by the HTTP/1.1 simulators. Routes return a {@link Reply}
 * or throw a {@link SimulatorError}; by default the error goes out as `application/problem+json`, and a
 * simulator whose APIs answer another error body (TMF630 `Error`, say) passes its own `errorReply`.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { problemOf, routerError, SimulatorError } from './problems.ts';

/** What a route's handler gets of the request. */
export interface RouteContext {
  /** Path parameters (the regexp's groups), URL-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
}

/** What a route's handler answers; the router writes it as JSON. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Of a non-empty body. @defaultValue 'application/json' */
  contentType?: string;
}

/** One method on the paths `path` matches; its groups become `params`. */
export type Route = {
  method: 'GET' | 'POST' | 'DELETE';
  path: RegExp;
} & (
  | { handle(context: RouteContext): Reply }
  /**
   * An answer that stays open (a change feed): the route writes `res` itself, from now on. It may
   * still throw a SimulatorError before it writes anything, to refuse.
   */
  | { stream(context: RouteContext, res: ServerResponse): void }
);

/** How a simulator's router reports bugs and writes errors. */
export interface RouterOptions {
  /** Hears about failures that are bugs (anything thrown that is not a SimulatorError; answered 500). */
  onError(err: unknown): void;
  /**
   * The answer to a failed request; `pathname` tells which API it was for ('/' when the URL did not parse).
   * @defaultValue {@link problemReply}
   */
  errorReply?(err: unknown, pathname: string): Reply;
}

const MAX_BODY_BYTES = 64 * 1024;

/** RFC 9457 problem details `{title, status, detail, cause}` in `application/problem+json`. */
export function problemReply(err: unknown): Reply {
  const problem = problemOf(err);
  return { status: problem.status, body: problem, contentType: 'application/problem+json' };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw routerError('PAYLOAD_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  // Any Content-Type is read as JSON, so `curl -d '{...}'` works in demos.
  try {
    return JSON.parse(text);
  } catch {
    throw routerError('INVALID_JSON', 'the body is not valid JSON');
  }
}

function decodeParams(match: RegExpExecArray): string[] {
  try {
    return match.slice(1).map((p) => decodeURIComponent(p));
  } catch (err) {
    throw routerError('INVALID_REQUEST', 'the path is not valid percent-encoding', { cause: err });
  }
}

/** Finds the route of a request: 404 for an unknown path, 405 for a known path and another method. */
function resolve(routes: Route[], method: string, pathname: string): { route: Route; params: string[] } {
  const onPath = routes.map((route) => ({ route, match: route.path.exec(pathname) })).filter((r) => r.match);
  if (onPath.length === 0) throw routerError('NOT_FOUND', `no resource at ${pathname}`);
  const hit = onPath.find((r) => r.route.method === method);
  if (!hit) throw routerError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`);
  return { route: hit.route, params: decodeParams(hit.match!) };
}

function send(res: ServerResponse, reply: Reply): void {
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(text ? { 'content-type': reply.contentType ?? 'application/json' } : {}),
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

/** The request listener of a simulator's server. */
export function createRouter(routes: Route[], options: RouterOptions): RequestListener {
  const { onError, errorReply = problemReply } = options;
  return function simulatorRouter(req, res) {
    void (async () => {
      let pathname = '/';
      try {
        const url = new URL(req.url ?? '/', 'http://localhost');
        pathname = url.pathname;
        const { route, params } = resolve(routes, req.method ?? 'GET', pathname);
        const body = await readJson(req);
        const context = { params, query: url.searchParams, body };
        if ('stream' in route) route.stream(context, res);
        else send(res, route.handle(context));
      } catch (err) {
        if (!(err instanceof SimulatorError)) onError(err);
        // Leave nothing unread behind an early error, so the connection can be reused.
        if (!req.complete) req.resume();
        if (!res.headersSent) send(res, errorReply(err, pathname));
      }
    })();
  };
}
