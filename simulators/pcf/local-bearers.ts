/**
 * The PCF's bearer controller when both run in one process (the simulated network): the model is
 * called directly, and its events are handed over without HTTP. Every answer is the one the
 * HTTP/1.1 API would give (the same request checks, the same refusals), so the PCF behaves the
 * same either way; only the loopback round trips between two parts of one simulated network go.
 * Session binding then reads the controller's UE table directly: always current, so nothing is
 * kept and no change feed is needed. Over HTTP, the controller is reached with {@link BearerClient}
 * and {@link SessionBindings}.
 */
import type { BearerControllerModel } from '../bearer-controller/model.ts';
import type { BearerEvent as ControllerEvent } from '../bearer-controller/types.ts';
import { parseBearerRequest } from '../bearer-controller/validate.ts';
import type { BearerApi, BearerCreation, BearerEvent, BearerRequest, Subscriber } from './bearer-client.ts';

/** What the PCF needs of a bearer controller running in its process (its start-up handle has both). */
export interface InProcessBearerController {
  model: BearerControllerModel;
  /** Hands the events for URLs under `prefix` to `deliver` instead of POSTing them; returns the undo. */
  deliverLocally(prefix: string, deliver: (url: string, event: ControllerEvent) => void): () => void;
}

/** The statuses `POST /bearers` refuses with (anything else from the API is a bug or an outage). */
const REFUSALS = new Set([404, 409, 422]);

/**
 * The HTTP status the API would answer `err` with; undefined for a bug. By shape, not `instanceof`:
 * a module loaded twice (once as CommonJS, once as ESM) has two SimulatorError classes.
 */
function statusOf(err: unknown): number | undefined {
  const e = err as { name?: unknown; status?: unknown } | undefined;
  return e?.name === 'SimulatorError' && typeof e.status === 'number' ? e.status : undefined;
}

export class LocalBearerApi implements BearerApi {
  constructor(private readonly model: BearerControllerModel) {}

  async subscriberByIpv4(ipv4: string): Promise<Subscriber | undefined> {
    try {
      return this.model.subscriberByIpv4(ipv4);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async createBearer(request: BearerRequest): Promise<BearerCreation> {
    try {
      return { accepted: true, bearerId: this.model.requestBearer(parseBearerRequest(request)).bearerId };
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && REFUSALS.has(status)) {
        const { code, message } = err as { code?: string; message: string };
        return { accepted: false, reason: `HTTP ${status} ${JSON.stringify({ status, detail: message, cause: code })}` };
      }
      throw err;
    }
  }

  async deleteBearer(bearerId: string): Promise<void> {
    try {
      this.model.deleteBearer(bearerId);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  close(): void {}
}

/**
 * Routes the controller's events for `{eventsUrl}/{token}` to `onEvent`, as the HTTP listener
 * would after its 204; returns the undo.
 */
export function receiveBearerEventsLocally(controller: InProcessBearerController, eventsUrl: string, onEvent: (token: string, event: BearerEvent) => void): () => void {
  const prefix = `${eventsUrl}/`;
  return controller.deliverLocally(prefix, (url, event) => {
    const token = url.slice(prefix.length);
    // In a turn of its own, as after the listener's 204: the controller never waits on the PCF.
    setImmediate(() => onEvent(token, { ...event }));
  });
}
