/**
 * A small JSON router over node:http. Routes return a {@link Reply} or throw a SimulatorError: a
 * TMF Error body under `/tmf-api/`, `application/problem+json` anywhere else.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { problemOf, SimulatorError, tmfErrorOf } from './problems.ts';

export interface RouteContext {
  /** Path parameters (the regexp's groups), URL-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: RegExp;
  handle(context: RouteContext): Reply;
}

const MAX_BODY_BYTES = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new SimulatorError('PAYLOAD_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  // Any Content-Type is read as JSON, so `curl -d '{...}'` works in demos.
  try {
    return JSON.parse(text);
  } catch {
    throw new SimulatorError('INVALID_JSON', 'the body is not valid JSON');
  }
}

function decodeParams(match: RegExpExecArray): string[] {
  try {
    return match.slice(1).map((p) => decodeURIComponent(p));
  } catch (err) {
    throw new SimulatorError('INVALID_REQUEST', 'the path is not valid percent-encoding', { cause: err });
  }
}

/** Finds the route of a request: 404 for an unknown path, 405 for a known path and another method. */
function resolve(routes: Route[], method: string, pathname: string): { route: Route; params: string[] } {
  const onPath = routes.map((route) => ({ route, match: route.path.exec(pathname) })).filter((r) => r.match);
  if (onPath.length === 0) throw new SimulatorError('NOT_FOUND', `no resource at ${pathname}`);
  const hit = onPath.find((r) => r.route.method === method);
  if (!hit) throw new SimulatorError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`);
  return { route: hit.route, params: decodeParams(hit.match!) };
}

function send(res: ServerResponse, reply: Reply, contentType = 'application/json'): void {
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(text ? { 'content-type': contentType } : {}),
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, pathname: string): void {
  if (pathname.startsWith('/tmf-api/')) {
    const error = tmfErrorOf(err);
    send(res, { status: Number(error.status), body: error });
  } else {
    const problem = problemOf(err);
    send(res, { status: problem.status, body: problem }, 'application/problem+json');
  }
}

/** The request listener of the server. `onError` hears about failures that are bugs (500). */
export function createRouter(routes: Route[], onError: (err: unknown) => void): RequestListener {
  return function lineControllerRouter(req, res) {
    void (async () => {
      let pathname = '/';
      try {
        const url = new URL(req.url ?? '/', 'http://localhost');
        pathname = url.pathname;
        const { route, params } = resolve(routes, req.method ?? 'GET', pathname);
        const body = await readJson(req);
        send(res, route.handle({ params, query: url.searchParams, body }));
      } catch (err) {
        if (!(err instanceof SimulatorError)) onError(err);
        // Leave nothing unread behind an early error, so the connection can be reused.
        if (!req.complete) req.resume();
        if (!res.headersSent) sendError(res, err, pathname);
      }
    })();
  };
}
