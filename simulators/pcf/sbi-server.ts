/**
 * The SBI listener: HTTP/2 over cleartext TCP with prior knowledge (TS 29.500 §5.2: HTTP/2; `http`
 * URIs are h2c without Upgrade), on loopback. Routes TS 29.514 §5.3 resources to the operations and
 * writes `application/json` / `application/problem+json`. `stop()` closes the socket and every open
 * HTTP/2 session, so clients get connection refused (not a hang) until `listen()` again.
 */
import http2 from 'node:http2';
import { listen } from '../common/server.ts';
import type { N5Response, PolicyAuthorization } from './handlers.ts';
import { errorText, type PcfLogger } from './log.ts';
import { API_BASE } from './n5-types.ts';
import { ProblemError, type ProblemDetails } from './problem.ts';

const MAX_BODY_BYTES = 1 << 20;
const JSON_TYPE = 'application/json';
const MERGE_PATCH_TYPE = 'application/merge-patch+json';

interface Route {
  /** Allowed methods → the media type of the body, `null` when no body is expected, `optional` for POST .../delete. */
  methods: Record<string, { type: string | null; optional?: boolean; run: (id: string, body: unknown) => N5Response | Promise<N5Response> }>;
}

export class SbiServer {
  private server: http2.Http2Server | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    private readonly api: PolicyAuthorization,
    private readonly log: PcfLogger,
  ) {}

  get listening(): boolean {
    return !!this.server?.listening;
  }

  /** Listens on 127.0.0.1:`port` (0: a free one) and resolves with the port. */
  async listen(port: number): Promise<number> {
    if (this.server) throw new Error('the SBI listener is already running');
    const server = http2.createServer({ maxSessionMemory: 32 });
    server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => undefined);
    });
    server.on('request', (req, res) => void this.handle(req, res));
    const bound = await listen(server, port, '127.0.0.1');
    server.on('error', (err) => this.log({ level: 'error', msg: 'SBI listener error', err: errorText(err) }));
    this.server = server;
    return bound;
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    await closed;
  }

  private route(path: string): { route: Route; id: string } | undefined {
    if (!path.startsWith(`${API_BASE}/app-sessions`)) return undefined;
    const rest = path.slice(`${API_BASE}/app-sessions`.length);
    const api = this.api;
    if (rest === '' || rest === '/') return { id: '', route: { methods: { POST: { type: JSON_TYPE, run: (_, b) => api.create(b) } } } };
    // §5.4 custom operation without resource: nothing to restore here, acknowledged.
    if (rest === '/pcscf-restoration') return { id: '', route: { methods: { POST: { type: JSON_TYPE, run: () => ({ status: 204 }) } } } };
    const m = /^\/([^/]+)(\/delete|\/events-subscription)?$/.exec(rest);
    if (!m) return undefined;
    const id = decodeURIComponent(m[1]);
    if (!m[2]) {
      return { id, route: { methods: { GET: { type: null, run: (i) => api.get(i) }, PATCH: { type: MERGE_PATCH_TYPE, run: (i, b) => api.update(i, b) } } } };
    }
    if (m[2] === '/delete') return { id, route: { methods: { POST: { type: JSON_TYPE, optional: true, run: (i, b) => api.delete(i, b) } } } };
    return {
      id,
      route: { methods: { PUT: { type: JSON_TYPE, run: (i, b) => api.putEventsSubscription(i, b) }, DELETE: { type: null, run: (i) => api.deleteEventsSubscription(i) } } },
    };
  }

  private async handle(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): Promise<void> {
    const method = req.method;
    const path = new URL(req.url, 'http://pcf').pathname;
    try {
      const raw = await readBody(req);
      const matched = this.route(path);
      if (!matched) throw new ProblemError('RESOURCE_URI_STRUCTURE_NOT_FOUND', `no resource at ${path}`);
      const op = matched.route.methods[method];
      if (!op) {
        res.writeHead(405, { allow: Object.keys(matched.route.methods).join(', ') }).end();
        return;
      }
      const body = parseRequestBody(raw, req.headers['content-type'], op);
      const answer = await op.run(matched.id, body);
      this.log({ level: 'debug', msg: 'N5 request', method, path, status: answer.status });
      send(res, answer.status, answer.headers ?? {}, answer.body, JSON_TYPE);
    } catch (err) {
      const problem: ProblemDetails =
        err instanceof ProblemError ? err.problem : new ProblemError('SYSTEM_FAILURE', 'unexpected error in the PCF simulator', { cause: err }).problem;
      if (!(err instanceof ProblemError)) this.log({ level: 'error', msg: 'N5 request failed', method, path, err: errorText(err) });
      else this.log({ level: 'info', msg: 'N5 request rejected', method, path, status: problem.status, cause: problem.cause, detail: problem.detail });
      if (!res.headersSent && !res.stream.destroyed) send(res, problem.status, {}, { ...problem, instance: path }, 'application/problem+json');
    }
  }
}

function send(res: http2.Http2ServerResponse, status: number, headers: Record<string, string>, body: unknown, type: string): void {
  if (res.stream.destroyed) return;
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'content-type': type, 'content-length': String(payload.length) }).end(payload);
}

function readBody(req: http2.Http2ServerRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(new ProblemError('PAYLOAD_TOO_LARGE', `bodies are limited to ${MAX_BODY_BYTES} bytes`)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** TS 29.514 §5.2.2.2: JSON bodies are `application/json`, PATCH bodies `application/merge-patch+json`. */
function parseRequestBody(raw: Buffer, contentType: string | undefined, op: Route['methods'][string]): unknown {
  if (raw.length === 0) {
    if (op.type === null || op.optional) return undefined;
    throw new ProblemError('INVALID_MSG_FORMAT', 'this operation needs a JSON body');
  }
  if (op.type === null) throw new ProblemError('INVALID_MSG_FORMAT', 'this operation takes no body');
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== op.type) throw new ProblemError('UNSUPPORTED_MEDIA_TYPE', `expected Content-Type ${op.type}, got ${contentType ?? 'none'}`);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ProblemError('INVALID_MSG_FORMAT', 'the body is not valid JSON');
  }
}
