/**
 * The line controller: an operator's OSS for enterprise dedicated lines, speaking a subset of TM
 * Forum TMF638 (Service Inventory) and TMF641 (Service Ordering) over HTTP/1.1 + JSON on loopback,
 * with a performance feed. Start it in-process with {@link startLineController}, or alone with `main.ts`.
 */
import { stderrLog } from '../common/server.ts';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../common/simulator.ts';
import { controlRoutes } from './control.ts';
import { LineControllerModel } from './model.ts';
import type { LineModelOptions } from './options.ts';
import { errorReply } from './problems.ts';
import { apiRoutes } from './routes.ts';
import type { TmfEvent } from './types.ts';

export { LineControllerModel } from './model.ts';
export { MODEL_DEFAULTS, MIN_SAMPLE_INTERVAL_MS, type LineModelOptions } from './options.ts';
export { SEEDED_LINES, DEMO_CUSTOMER } from './population.ts';
export { sampleOf, type Conditions } from './telemetry.ts';
export type { TmfError, Problem } from './problems.ts';
export * from './types.ts';

/** The model's options, and the listener's and hub events' (`notifyRetries`, ...: see SimulatorOptions). */
export interface LineControllerOptions extends Partial<LineModelOptions>, SimulatorOptions {}

/**
 * A running line controller (the simulator; not the `LineController` port of `adapters/ports.ts`):
 * `url` is `http://127.0.0.1:<port>`, the TMF APIs are under `/tmf-api/...`.
 */
export type LineControllerHandle = SimulatorHandle<LineControllerModel>;

/** Starts the line controller on `host:port`; resolves once it listens (hrefs then carry its URL). */
export async function startLineController(options: LineControllerOptions = {}): Promise<LineControllerHandle> {
  const { port, host, notifyRetries, notifyRetryDelayMs, log = stderrLog('line-controller'), ...modelOptions } = options;
  const model = new LineControllerModel(modelOptions);
  const handle = await startSimulator<LineControllerModel, TmfEvent>(model, {
    options: { port, host, notifyRetries, notifyRetryDelayMs, log },
    routes: [...apiRoutes(model), ...controlRoutes(model)],
    errorReply,
    maxSockets: 16,
    onDropped: (event, url, reason) => log('event dropped', { eventId: event.eventId, eventType: event.eventType, callback: url, reason }),
    // Each hub gets the events of one resource in order; hubs and resources do not wait for each other.
    connect: (notifier) =>
      model.onEvent((api, resourceId, event) => {
        for (const hub of model.hubs.matching(api, event.eventType)) notifier.send(`${hub.id} ${resourceId}`, hub.callback, event);
      }),
  });
  // Hrefs in TMF resources are absolute; the port is known only now.
  model.baseUrl = handle.url;
  return handle;
}
