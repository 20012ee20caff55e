/**
 * The line controller: an operator's OSS for enterprise dedicated lines, speaking a subset of TM
 * Forum TMF638 (Service Inventory) and TMF641 (Service Ordering) over HTTP/1.1 + JSON on loopback,
 * with a performance feed. Start it in-process with {@link startLineController}, or alone with `main.ts`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlRoutes } from './control.ts';
import { createRouter } from './http.ts';
import { LineControllerModel } from './model.ts';
import type { LineModelOptions } from './options.ts';
import { Notifier } from './notifier.ts';
import { apiRoutes } from './routes.ts';

export { LineControllerModel } from './model.ts';
export { MODEL_DEFAULTS, MIN_SAMPLE_INTERVAL_MS, type LineModelOptions } from './options.ts';
export { SEEDED_LINES, DEMO_CUSTOMER } from './population.ts';
export { sampleOf, type Conditions } from './telemetry.ts';
export type { TmfError, Problem } from './problems.ts';
export * from './types.ts';

export interface LineControllerOptions extends Partial<LineModelOptions> {
  /** TCP port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Listen address. @defaultValue '127.0.0.1' */
  host?: string;
  /** Delivery attempts after the first for each hub event. @defaultValue 3 */
  notifyRetries?: number;
  /** Wait before the first retry of an event, doubling after. @defaultValue 200 */
  notifyRetryDelayMs?: number;
  /** Where operational messages go (dropped events, bugs). @defaultValue a JSON line on stderr */
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

/** A running line controller (the simulator; not the `LineController` port of `adapters/ports.ts`). */
export interface LineControllerHandle {
  /** `http://127.0.0.1:<port>`; the TMF APIs are under `/tmf-api/...`. */
  url: string;
  port: number;
  model: LineControllerModel;
  /** Stops timers, event deliveries and the listener; safe to call twice. */
  close(): Promise<void>;
}

/** How long close() lets open connections finish before it cuts them. */
const CLOSE_GRACE_MS = 2000;

function stderrLog(msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'line-controller', msg, ...fields })}\n`);
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startLineController(options: LineControllerOptions = {}): Promise<LineControllerHandle> {
  const { port = 0, host = '127.0.0.1', notifyRetries, notifyRetryDelayMs, log = stderrLog, ...modelOptions } = options;
  const model = new LineControllerModel(modelOptions);
  const notifier = new Notifier({
    retries: notifyRetries,
    retryDelayMs: notifyRetryDelayMs,
    onDropped: (event, url, reason) => log('event dropped', { eventId: event.eventId, eventType: event.eventType, callback: url, reason }),
  });
  // Each hub gets the events of one resource in order; hubs and resources do not wait for each other.
  model.onEvent((api, resourceId, event) => {
    for (const hub of model.hubs.matching(api, event.eventType)) notifier.send(`${hub.id} ${resourceId}`, hub.callback, event);
  });
  model.onReset(() => notifier.cancelAll());
  const onBug = (err: unknown) => log('request failed', { error: String((err as Error)?.stack ?? err) });
  const server = createServer(createRouter([...apiRoutes(model), ...controlRoutes(model)], onBug));
  const bound = await listen(server, port, host);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  model.baseUrl = url;
  let closing: Promise<void> | undefined;
  return {
    url,
    port: bound,
    model,
    close() {
      closing ??= (async () => {
        model.close();
        notifier.cancelAll();
        await stopServer(server);
      })();
      return closing;
    },
  };
}
