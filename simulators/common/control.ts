/**
 * The part of the Control API every simulator has: read the whole state, and reset to the initial one.
 * Not part of any 3GPP or TMF interface; tests and demos use it.
 */
import type { Route } from './http.ts';

/** What the state routes need of a simulator's model. */
export interface ResettableModel {
  /** Everything a test may want to see, as JSON. */
  snapshot(): unknown;
  /** Back to the state the simulator started in. */
  reset(): void;
}

/** `GET /control/state` (the snapshot) and `POST /control/reset` (answers the snapshot after the reset). */
export function stateRoutes(model: ResettableModel): Route[] {
  return [
    { method: 'GET', path: /^\/control\/state$/, handle: () => ({ status: 200, body: model.snapshot() }) },
    {
      method: 'POST',
      path: /^\/control\/reset$/,
      handle: () => {
        model.reset();
        return { status: 200, body: model.snapshot() };
      },
    },
  ];
}
