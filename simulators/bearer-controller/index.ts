/**
 * The bearer controller: a simulated radio and core network behind a PCF, speaking HTTP/1.1 + JSON
 * on loopback. Start it in-process with {@link startBearerController}, or alone with `main.ts`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlRoutes } from './control.ts';
import { createRouter } from './http.ts';
import { BearerControllerModel } from './model.ts';
import type { ModelOptions } from './options.ts';
import { Notifier } from './notifier.ts';
import { apiRoutes } from './routes.ts';

export { BearerControllerModel, MAX_BEARERS_PER_UE } from './model.ts';
export { MODEL_DEFAULTS, type ModelOptions } from './options.ts';
export type * from './types.ts';

export interface BearerControllerOptions extends Partial<ModelOptions> {
  /** TCP port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Listen address. @defaultValue '127.0.0.1' */
  host?: string;
  /** Delivery attempts after the first for each notification. @defaultValue 3 */
  notifyRetries?: number;
  /** Wait before the first retry of a notification, doubling after. @defaultValue 200 */
  notifyRetryDelayMs?: number;
  /** Where operational messages go (dropped notifications, bugs). @defaultValue a JSON line on stderr */
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface BearerController {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  model: BearerControllerModel;
  /** Stops timers, notifications and the listener; safe to call twice. */
  close(): Promise<void>;
}

/** How long close() lets open connections finish before it cuts them. */
const CLOSE_GRACE_MS = 2000;

function stderrLog(msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'bearer-controller', msg, ...fields })}\n`);
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

export async function startBearerController(options: BearerControllerOptions = {}): Promise<BearerController> {
  const { port = 0, host = '127.0.0.1', notifyRetries, notifyRetryDelayMs, log = stderrLog, ...modelOptions } = options;
  const model = new BearerControllerModel(modelOptions);
  const notifier = new Notifier({
    retries: notifyRetries,
    retryDelayMs: notifyRetryDelayMs,
    onDropped: (event, url, reason) => log('notification dropped', { ...event, notifyUrl: url, reason }),
  });
  model.onEvent((event, url) => notifier.send(event, url));
  model.onReset(() => notifier.cancelAll());
  const onBug = (err: unknown) => log('request failed', { error: String((err as Error)?.stack ?? err) });
  const server = createServer(createRouter([...apiRoutes(model), ...controlRoutes(model)], onBug));
  const bound = await listen(server, port, host);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
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
