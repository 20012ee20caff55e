/**
 * Starting and stopping a simulator's listener, and where its operational messages go when nobody
 * asked: one JSON line each on stderr, so a test or an operator can grep them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { createRouter, type RouterOptions, type Route } from './http.ts';

/** Where a simulator's operational messages go (dropped notifications, bugs). */
export type SimulatorLog = (msg: string, fields: Record<string, unknown>) => void;

/** How long {@link stopServer} lets open connections finish before it cuts them. */
const CLOSE_GRACE_MS = 2000;

/** A log that writes `{time, service, msg, ...fields}` as one JSON line on stderr. */
export function stderrLog(service: string): SimulatorLog {
  return function stderrLog(msg, fields) {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), service, msg, ...fields })}\n`);
  };
}

/** Listens on `host:port` (port 0: a free one) and resolves with the port; rejects when it cannot (EADDRINUSE). */
export async function listen(server: NetServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Stops accepting connections and resolves once the server is closed: idle connections go at once,
 * busy ones get `graceMs` to finish before they are cut.
 */
export function stopServer(server: Server, graceMs = CLOSE_GRACE_MS): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** `http://host:port`, with an IPv6 host in brackets (RFC 3986 §3.2.2). */
function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where {@link serveRoutes} listens, and how failed requests are logged and answered. */
export interface RouteServerOptions extends Pick<RouterOptions, 'errorReply'> {
  port: number;
  host: string;
  /** Hears about requests that failed on a bug. */
  log: SimulatorLog;
}

/** A listening simulator API. */
export interface RouteServer {
  /** `http://host:port` */
  url: string;
  port: number;
  /** Stops the listener (see {@link stopServer}). */
  stop(): Promise<void>;
}

/** Serves `routes` over HTTP/1.1 on `host:port`; resolves once listening. */
export async function serveRoutes(routes: Route[], options: RouteServerOptions): Promise<RouteServer> {
  const { port, host, log, errorReply } = options;
  const onError = (err: unknown) => log('request failed', { error: String((err as Error)?.stack ?? err) });
  const server = createServer(createRouter(routes, { onError, errorReply }));
  const bound = await listen(server, port, host);
  return { url: urlOf(host, bound), port: bound, stop: () => stopServer(server) };
}
