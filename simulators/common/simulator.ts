/**
 * How an HTTP/1.1 simulator runs in-process: its model behind the shared router, its events delivered
 * by the shared notifier, one idempotent `close()` for all of it. Each simulator's `index.ts` builds
 * its model and routes and says how its events are keyed and logged; this does the rest.
 */
import type { ResettableModel } from './control.ts';
import type { Route, RouterOptions } from './http.ts';
import { Notifier, type NotifierOptions } from './notifier.ts';
import { serveRoutes, type RouteServer, type SimulatorLog } from './server.ts';

/** The options every simulator takes besides its model's. */
export interface SimulatorOptions {
  /** TCP port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Listen address. @defaultValue '127.0.0.1' */
  host?: string;
  /** Delivery attempts after the first for each event (notification). @defaultValue 3 */
  notifyRetries?: number;
  /** Wait before the first retry of an event, doubling after. @defaultValue 200 */
  notifyRetryDelayMs?: number;
  /** Where operational messages go (dropped events, bugs). @defaultValue a JSON line on stderr */
  log?: SimulatorLog;
}

/** A running simulator. */
export interface SimulatorHandle<Model, Event = unknown> {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  model: Model;
  /** Hands the events for URLs under `prefix` to a listener in this process (see Notifier.deliverLocally). */
  deliverLocally(prefix: string, deliver: (url: string, event: Event) => void): () => void;
  /** Stops timers, event deliveries and the listener; safe to call twice. */
  close(): Promise<void>;
}

/** What the shared start-up needs of a simulator's model. */
export interface SimulatorModel extends ResettableModel {
  /** Runs `listener` on every reset (deliveries still under way are then dropped). */
  onReset(listener: () => void): void;
  /** Stops its timers. */
  close(): void;
}

/** What a simulator adds to its model for {@link startSimulator}. */
export interface SimulatorSetup<Event> extends Pick<RouterOptions, 'errorReply'> {
  /** The options given to the simulator; `log` already defaulted by the caller, who logs with it too. */
  options: SimulatorOptions & { log: SimulatorLog };
  routes: Route[];
  /** Kept-alive connections per listener. @defaultValue 32 */
  maxSockets?: number;
  /** Called when an event is given up after its retries. */
  onDropped: NotifierOptions<Event>['onDropped'];
  /** Hands the model's events to `notifier.send`, choosing the key that orders them and the URL. */
  connect(notifier: Notifier<Event>): void;
}

/** Serves `model` on `options.host:options.port` and delivers its events; resolves once listening. */
export async function startSimulator<Model extends SimulatorModel, Event>(model: Model, setup: SimulatorSetup<Event>): Promise<SimulatorHandle<Model, Event>> {
  const { port = 0, host = '127.0.0.1', notifyRetries, notifyRetryDelayMs, log } = setup.options;
  const notifier = new Notifier<Event>({ retries: notifyRetries, retryDelayMs: notifyRetryDelayMs, maxSockets: setup.maxSockets, onDropped: setup.onDropped });
  setup.connect(notifier);
  model.onReset(() => notifier.cancelAll());
  let server: RouteServer;
  try {
    server = await serveRoutes(setup.routes, { port, host, log, errorReply: setup.errorReply });
  } catch (err) {
    // A port in use must not leave the model's timers running in the caller's process.
    model.close();
    notifier.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    model,
    deliverLocally: (prefix, deliver) => notifier.deliverLocally(prefix, deliver),
    close() {
      closing ??= (async () => {
        model.close();
        notifier.close();
        await server.stop();
      })();
      return closing;
    },
  };
}
