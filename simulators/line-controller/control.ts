/**
 * The Control API: lines, faults and load for tests and demos. Not a TMF API; a real OSS would show
 * these as provisioning, fibre cuts and the enterprise's traffic.
 */
import { stateRoutes } from '../common/control.ts';
import type { Route, RouteContext } from '../common/http.ts';
import { isObject } from '../common/validate.ts';
import type { LineControllerModel } from './model.ts';
import { SimulatorError } from './problems.ts';
import { INVENTORY_API } from './types.ts';
import { optionalAmount, parseLineSpec } from './validate.ts';

function bodyOf(context: RouteContext): Record<string, unknown> {
  return isObject(context.body) ? context.body : {};
}

function demandOf(context: RouteContext): number {
  const mbps = optionalAmount(bodyOf(context), 'mbps');
  if (mbps === undefined) throw new SimulatorError('INVALID_REQUEST', 'the body needs {"mbps": <offered load ≥ 0>}');
  return mbps;
}

function failuresOf(context: RouteContext): { count: number; state: 'failed' | 'rejected' } {
  const { count, state = 'failed' } = bodyOf(context);
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new SimulatorError('INVALID_REQUEST', 'the body needs {"count": <integer ≥ 0>}');
  if (state !== 'failed' && state !== 'rejected') throw new SimulatorError('INVALID_REQUEST', 'state must be "failed" or "rejected"');
  return { count, state };
}

export function controlRoutes(model: LineControllerModel): Route[] {
  const line = (action: string, run: (serviceId: string, context: RouteContext) => unknown): Route => ({
    method: 'POST',
    path: new RegExp(`^/control/lines/([^/]+)/${action}$`),
    handle: (context) => ({ status: 200, body: run(context.params[0], context) }),
  });
  return [
    {
      method: 'POST',
      path: /^\/control\/lines$/,
      handle: ({ body }) => {
        const service = model.createLine(parseLineSpec(body));
        return { status: 201, body: service, headers: { location: `${INVENTORY_API}/service/${encodeURIComponent(service.id)}` } };
      },
    },
    { method: 'GET', path: /^\/control\/lines\/([^/]+)$/, handle: ({ params }) => ({ status: 200, body: model.view(params[0]) }) },
    line('cut', (id) => model.cut(id)),
    line('restore', (id) => model.restore(id)),
    line('demand', (id, context) => model.setDemand(id, demandOf(context))),
    line('fail-orders', (id, context) => {
      const { count, state } = failuresOf(context);
      return model.failOrders(id, count, state);
    }),
    ...stateRoutes(model),
  ];
}
