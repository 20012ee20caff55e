/**
 * Event subscriptions (TMF630 v4 hub): `POST {api}/hub {callback, query}` registers a listener,
 * `DELETE {api}/hub/{id}` removes it. The query may name the event types wanted
 * (`eventType=ServiceStateChangeEvent,ServiceAttributeValueChangeEvent`); other filters are ignored.
 */
import { isHttpUrl, isObject } from '../common/validate.ts';
import { SimulatorError } from './problems.ts';
import type { EventSubscription, HubApi } from './types.ts';

interface Hub extends EventSubscription {
  api: HubApi;
  /** The event types the query asks for; undefined: every one. */
  eventTypes?: ReadonlySet<string>;
}

/** The callback must be an absolute http:// URL: the simulator delivers over plain HTTP/1.1. */
function callbackOf(value: unknown): string {
  if (!isHttpUrl(value)) throw new SimulatorError('INVALID_REQUEST', 'callback must be an absolute http:// URL');
  return value;
}

/** The `eventType` term of a hub query: `eventType=A,B` (spaces allowed around `=` and `,`). */
function eventTypesOf(query: string | null): ReadonlySet<string> | undefined {
  if (!query) return undefined;
  for (const term of query.split('&')) {
    const [name, value] = term.split('=').map((s) => s.trim());
    if (name === 'eventType' && value) return new Set(value.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return undefined;
}

export class HubRegistry {
  private nextId = 1;
  private readonly hubs = new Map<string, Hub>();

  register(api: HubApi, body: unknown): EventSubscription {
    if (!isObject(body)) throw new SimulatorError('INVALID_REQUEST', 'the body must be an EventSubscriptionInput {callback, query?}');
    const callback = callbackOf(body.callback);
    if (body.query !== undefined && body.query !== null && typeof body.query !== 'string') throw new SimulatorError('INVALID_REQUEST', 'query must be a string');
    const query = typeof body.query === 'string' ? body.query : null;
    const hub: Hub = { id: `hub-${this.nextId++}`, callback, query, api, eventTypes: eventTypesOf(query) };
    this.hubs.set(hub.id, hub);
    return subscriptionOf(hub);
  }

  get(api: HubApi, id: string): EventSubscription {
    return subscriptionOf(this.hubOf(api, id));
  }

  unregister(api: HubApi, id: string): void {
    this.hubs.delete(this.hubOf(api, id).id);
  }

  /** The hubs of `api` that want `eventType`. */
  matching(api: HubApi, eventType: string): EventSubscription[] {
    return [...this.hubs.values()].filter((h) => h.api === api && (!h.eventTypes || h.eventTypes.has(eventType))).map(subscriptionOf);
  }

  list(): Array<EventSubscription & { api: HubApi }> {
    return [...this.hubs.values()].map((h) => ({ ...subscriptionOf(h), api: h.api }));
  }

  private hubOf(api: HubApi, id: string): Hub {
    const hub = this.hubs.get(id);
    if (!hub || hub.api !== api) throw new SimulatorError('HUB_NOT_FOUND', `no event subscription ${id} on ${api}`);
    return hub;
  }
}

function subscriptionOf(hub: Hub): EventSubscription {
  return { id: hub.id, callback: hub.callback, query: hub.query };
}
