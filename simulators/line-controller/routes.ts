/**
 * The TMF APIs (TMF638 Service Inventory, TMF641 Service Ordering, their hubs) and the OSS's
 * performance feed, over the model.
 */
import type { Reply, Route, RouteContext } from '../common/http.ts';
import type { LineControllerModel } from './model.ts';
import { SimulatorError } from './problems.ts';
import { INVENTORY_API, ORDERING_API, type HubApi } from './types.ts';
import { parseServiceOrder } from './validate.ts';

/** The largest TMF630 `limit`; without one a list holds every match (at most the orders kept). */
const MAX_PAGE = 10_000;
const DEFAULT_SAMPLES = 60;
const MAX_SAMPLES_PER_READ = 500;

const escape = (path: string) => path.replace(/\//g, '\\/');

/** An integer query parameter in [min, max], or `fallback` when absent. */
function integerParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new SimulatorError('INVALID_REQUEST', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** TMF630 attribute selection: `fields=state,name` keeps those (and id, href, @type). */
function selectFields<T extends object>(resource: T, fields: string | null): Partial<T> {
  if (!fields) return resource;
  const keep = new Set(['id', 'href', '@type', ...fields.split(',').map((f) => f.trim())]);
  return Object.fromEntries(Object.entries(resource).filter(([key]) => keep.has(key))) as Partial<T>;
}

/** A TMF630 list: `offset` and `limit` paging, `fields` selection, X-Total-Count and X-Result-Count. */
function listReply(items: object[], query: URLSearchParams): Reply {
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = integerParam(query, 'limit', items.length, 1, MAX_PAGE);
  const page = items.slice(offset, offset + limit).map((item) => selectFields(item, query.get('fields')));
  return { status: 200, body: page, headers: { 'x-total-count': String(items.length), 'x-result-count': String(page.length) } };
}

/** A filter value from the query, or undefined when absent. */
const filterOf = (query: URLSearchParams, name: string) => query.get(name) ?? undefined;

function hubRoutes(model: LineControllerModel, api: HubApi, base: string): Route[] {
  const hubPath = new RegExp(`^${escape(base)}\\/hub\\/([^/]+)$`);
  return [
    {
      method: 'POST',
      path: new RegExp(`^${escape(base)}\\/hub$`),
      handle: ({ body }) => {
        const subscription = model.hubs.register(api, body);
        return { status: 201, body: subscription, headers: { location: `${base}/hub/${encodeURIComponent(subscription.id)}` } };
      },
    },
    { method: 'GET', path: hubPath, handle: ({ params }) => ({ status: 200, body: model.hubs.get(api, params[0]) }) },
    {
      method: 'DELETE',
      path: hubPath,
      handle: ({ params }) => {
        model.hubs.unregister(api, params[0]);
        return { status: 204 };
      },
    },
  ];
}

function samplesQuery(context: RouteContext): { since?: Date; limit: number } {
  const raw = context.query.get('since');
  const since = raw === null ? undefined : new Date(raw);
  if (since && (raw!.trim() === '' || Number.isNaN(since.getTime()))) throw new SimulatorError('INVALID_REQUEST', 'since must be an ISO 8601 date-time');
  return { since, limit: integerParam(context.query, 'limit', DEFAULT_SAMPLES, 1, MAX_SAMPLES_PER_READ) };
}

export function apiRoutes(model: LineControllerModel): Route[] {
  return [
    {
      method: 'GET',
      path: new RegExp(`^${escape(INVENTORY_API)}\\/service$`),
      handle: ({ query }) => listReply(model.services({ state: filterOf(query, 'state'), name: filterOf(query, 'name') }), query),
    },
    {
      method: 'GET',
      path: new RegExp(`^${escape(INVENTORY_API)}\\/service\\/([^/]+)$`),
      handle: ({ params, query }) => ({ status: 200, body: selectFields(model.service(params[0]), query.get('fields')) }),
    },
    ...hubRoutes(model, 'serviceInventory', INVENTORY_API),
    {
      method: 'POST',
      path: new RegExp(`^${escape(ORDERING_API)}\\/serviceOrder$`),
      handle: ({ body }) => {
        const order = model.placeOrder(parseServiceOrder(body));
        // TMF641: 201 with the order as acknowledged; the outcome comes later (events, or GET).
        return { status: 201, body: order, headers: { location: `${ORDERING_API}/serviceOrder/${encodeURIComponent(order.id)}` } };
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${escape(ORDERING_API)}\\/serviceOrder$`),
      handle: ({ query }) => {
        // TMF630 filtering: attributes by name, nested ones in dot notation.
        const filter = { externalId: filterOf(query, 'externalId'), state: filterOf(query, 'state'), serviceId: filterOf(query, 'serviceOrderItem.service.id') };
        return listReply(model.findOrders(filter), query);
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${escape(ORDERING_API)}\\/serviceOrder\\/([^/]+)$`),
      handle: ({ params, query }) => ({ status: 200, body: selectFields(model.order(params[0]), query.get('fields')) }),
    },
    ...hubRoutes(model, 'serviceOrdering', ORDERING_API),
    {
      method: 'GET',
      path: /^\/performance\/v1\/services\/([^/]+)\/samples$/,
      handle: (context) => ({ status: 200, body: model.samples(context.params[0], samplesQuery(context)) }),
    },
  ];
}
