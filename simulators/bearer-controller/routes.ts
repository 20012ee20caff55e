/**
 * The Subscriber API (identity and SIM-history lookups by the gateway) and the Bearer API (used by the PCF
 * simulator), over the model.
 */
import type { Route } from '../common/http.ts';
import type { BearerControllerModel } from './model.ts';
import { SimulatorError } from './problems.ts';
import { parseBearerRequest } from './validate.ts';

export function apiRoutes(model: BearerControllerModel): Route[] {
  return [
    { method: 'GET', path: /^\/subscribers\/([^/]+)$/, handle: ({ params }) => ({ status: 200, body: model.subscriber(params[0]) }) },
    { method: 'GET', path: /^\/subscribers\/([^/]+)\/sim$/, handle: ({ params }) => ({ status: 200, body: model.sim(params[0]) }) },
    {
      method: 'GET',
      path: /^\/subscribers$/,
      handle: ({ query }) => {
        const ipv4 = query.get('ipv4');
        if (!ipv4) throw new SimulatorError('INVALID_REQUEST', 'look a subscriber up with ?ipv4=<address>');
        return { status: 200, body: model.subscriberByIpv4(ipv4) };
      },
    },
    {
      method: 'POST',
      path: /^\/bearers$/,
      handle: ({ body }) => {
        const { bearerId, state } = model.requestBearer(parseBearerRequest(body));
        // 202: accepted, not allocated; the outcome comes to notifyUrl.
        return { status: 202, body: { bearerId, state }, headers: { location: `/bearers/${encodeURIComponent(bearerId)}` } };
      },
    },
    { method: 'GET', path: /^\/bearers\/([^/]+)$/, handle: ({ params }) => ({ status: 200, body: model.getBearer(params[0]) }) },
    {
      method: 'DELETE',
      path: /^\/bearers\/([^/]+)$/,
      handle: ({ params }) => {
        model.deleteBearer(params[0]);
        return { status: 204 };
      },
    },
  ];
}
