/**
 * The HTTP/1.1 listener (loopback, its own port) where the bearer controller POSTs bearer events:
 * `POST /bearer-events/{token}` `{bearerId, event: ESTABLISHED|FAILED|RELEASED, cause?, at}` → 204.
 * The token was put in the notifyUrl of `POST /bearers`, so an event is matched to its media component
 * even when it overtakes the 202.
 */
import http from 'node:http';
import { listen } from '../common/server.ts';
import type { BearerEvent } from './bearer-client.ts';
import { parseBody } from './http1.ts';

const EVENTS = new Set(['ESTABLISHED', 'FAILED', 'RELEASED']);
const PATH = /^\/bearer-events\/([A-Za-z0-9-]{1,64})$/;

export interface BearerEventListener {
  /** `http://127.0.0.1:PORT/bearer-events`; a bearer's notifyUrl is this plus `/{token}`. */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Fault injection on the same listener: `POST /control/stop` and `/control/start` of the SBI listener. */
export interface PcfControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function listenForBearerEvents(port: number, onEvent: (token: string, event: BearerEvent) => void, control?: PcfControl): Promise<BearerEventListener> {
  const server = http.createServer((req, res) => {
    const action = /^\/control\/(stop|start)$/.exec(new URL(req.url ?? '/', 'http://x').pathname)?.[1] as 'stop' | 'start' | undefined;
    if (action && control && req.method === 'POST') {
      req.resume();
      control[action]().then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sbi: action === 'stop' ? 'stopped' : 'listening' })),
        (err: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })),
      );
      return;
    }
    const token = PATH.exec(new URL(req.url ?? '/', 'http://x').pathname)?.[1];
    if (!token || req.method !== 'POST') {
      res.writeHead(token ? 405 : 404).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = parseBody(Buffer.concat(chunks).toString('utf8')) as Partial<BearerEvent> | undefined;
      if (!body || typeof body.bearerId !== 'string' || !EVENTS.has(String(body.event))) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'expected {bearerId, event: ESTABLISHED|FAILED|RELEASED}' }));
        return;
      }
      res.writeHead(204).end();
      // After answering: the bearer controller must not wait for what the PCF does next.
      setImmediate(() => onEvent(token, body as BearerEvent));
    });
  });
  server.keepAliveTimeout = 5000;
  const actual = await listen(server, port, '127.0.0.1');
  return {
    baseUrl: `http://127.0.0.1:${actual}/bearer-events`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
