import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TmfEventEnvelope } from './tmf-mapping.ts';

type Handler = (event: TmfEventEnvelope) => Promise<void>;

const MAX_BODY_BYTES = 1024 * 1024;
/** How long close() lets a delivery in progress finish before cutting its connection. */
const CLOSE_GRACE_MS = 1000;

class BodyTooLarge extends Error {
  constructor() {
    super(`the body exceeds ${MAX_BODY_BYTES} bytes`);
    this.name = 'BodyTooLarge';
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function answer(res: ServerResponse, status: number, title?: string): void {
  if (res.headersSent || res.destroyed) return;
  const text = title ? JSON.stringify({ status, title }) : '';
  res.writeHead(status, text ? { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text) } : { 'content-length': 0 });
  res.end(text);
}

/**
 * The listener of the OSS's hubs (TMF630 v4 notifications): each event is a `POST {callback}` with
 * a JSON envelope, whatever the path. It answers 204 only once the handler has accepted the event,
 * and 503 when it could not, so the hub delivers it again.
 */
export class TmfCallbackServer {
  private server?: Server;

  constructor(private readonly handler: Handler) {}

  async listen(port: number, host: string): Promise<number> {
    if (this.server) throw new Error('the TMF event listener is already listening');
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', () => {});
    if (req.method !== 'POST') {
      req.resume();
      return answer(res, 405, 'events are delivered with POST');
    }
    let envelope: TmfEventEnvelope;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
      envelope = parsed as TmfEventEnvelope;
    } catch (err) {
      if (!req.complete) req.resume();
      return answer(res, err instanceof BodyTooLarge ? 413 : 400, 'the body is not a JSON event');
    }
    try {
      await this.handler(envelope);
    } catch {
      return answer(res, 503, 'cannot accept the event now; retry');
    }
    answer(res, 204);
  }

  /** Stops listening; safe to call twice, and before listen(). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}
