/**
 * The bearer controller: a simulated radio and core network behind a PCF, speaking HTTP/1.1 + JSON
 * on loopback. Start it in-process with {@link startBearerController}, or alone with `main.ts`.
 */
import { stderrLog } from '../common/server.ts';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../common/simulator.ts';
import { ChangeFeed } from './change-feed.ts';
import { controlRoutes } from './control.ts';
import { BearerControllerModel } from './model.ts';
import type { ModelOptions } from './options.ts';
import { apiRoutes } from './routes.ts';
import type { BearerEvent } from './types.ts';

export { BearerControllerModel, MAX_BEARERS_PER_UE } from './model.ts';
export { MODEL_DEFAULTS, type ModelOptions } from './options.ts';
export type * from './types.ts';

/** The model's options, and the listener's and notifications' (`notifyRetries`, ...: see SimulatorOptions). */
export interface BearerControllerOptions extends Partial<ModelOptions>, SimulatorOptions {}

/** A running bearer controller: `url` is `http://127.0.0.1:<port>`. */
export type BearerController = SimulatorHandle<BearerControllerModel, BearerEvent>;

/** Starts the bearer controller on `host:port`; resolves once it listens. */
export async function startBearerController(options: BearerControllerOptions = {}): Promise<BearerController> {
  const { port, host, notifyRetries, notifyRetryDelayMs, log = stderrLog('bearer-controller'), ...modelOptions } = options;
  const model = new BearerControllerModel(modelOptions);
  const feed = new ChangeFeed(model);
  const simulator = await startSimulator<BearerControllerModel, BearerEvent>(model, {
    options: { port, host, notifyRetries, notifyRetryDelayMs, log },
    // The feed's path comes before `/subscribers/{msisdn}`, which would match it too.
    routes: [feed.route(), ...apiRoutes(model), ...controlRoutes(model)],
    onDropped: (event, url, reason) => log('notification dropped', { ...event, notifyUrl: url, reason }),
    // The events of one bearer go out in order.
    connect: (notifier) => model.onEvent((event, url) => notifier.send(event.bearerId, url, event)),
  });
  const close = simulator.close;
  return {
    ...simulator,
    close() {
      // Open feeds would keep the listener from closing.
      feed.close();
      return close();
    },
  };
}
