import { LineOrderFailedError, type LineController, type LineEvent, type LineInfo, type LineSample } from '../ports.ts';
import { TmfCallbackServer } from './callback-server.ts';
import { OssUnavailableError, TmfClient } from './tmf-client.ts';
import { FINAL_ORDER_STATES, isOrder, lineEventsOf, lineInfoOf, reasonOf, sampleOf, targetOf, type TmfEventEnvelope, type TmfOrder, type TmfService } from './tmf-mapping.ts';

export interface TmfLineControllerOptions {
  /** Base URL of the OSS; the APIs are under `{baseUrl}/tmf-api/...` and `{baseUrl}/performance/v1`. */
  baseUrl: string;
  /** Interface the event listener binds to. @defaultValue '127.0.0.1' */
  callbackHost?: string;
  /** Port of the event listener (0: any free one). @defaultValue 0 */
  callbackPort?: number;
  /** The URL the OSS's hubs POST events to. @defaultValue `http://{callbackHost}:{bound port}/tmf-events` */
  callbackUrl?: string;
  /** How often an order under way is read again (an order event wakes the reader earlier). @defaultValue 250 */
  pollIntervalMs?: number;
  /** How long setBandwidth follows an order before giving up (the order may still finish). @defaultValue 120_000 */
  orderTimeoutMs?: number;
  /** Bound of each HTTP request to the OSS. @defaultValue 5000 */
  requestTimeoutMs?: number;
}

const DEFAULTS = { callbackHost: '127.0.0.1', callbackPort: 0, pollIntervalMs: 250, orderTimeoutMs: 120_000, requestTimeoutMs: 5000 };

const INVENTORY_API = '/tmf-api/serviceInventory/v4';
const ORDERING_API = '/tmf-api/serviceOrdering/v4';
/** The samples endpoint answers at most this many per request. */
const MAX_SAMPLES = 500;
/** close() waits at most this long for the hubs to be unregistered. */
const UNREGISTER_DEADLINE_MS = 2000;

/** The hubs listen() registers (TMF630 v4 `POST /hub {callback, query}`): line events, and order progress. */
const HUBS = [
  { api: INVENTORY_API, query: 'eventType=ServiceStateChangeEvent,ServiceAttributeValueChangeEvent' },
  { api: ORDERING_API, query: 'eventType=ServiceOrderStateChangeEvent' },
];

/** Which of several orders with one externalId stands for it: a completed one, else one under way, else the newest. */
function chooseOrder(orders: TmfOrder[]): TmfOrder | undefined {
  return orders.find((o) => o.state === 'completed') ?? orders.find((o) => !FINAL_ORDER_STATES.has(o.state)) ?? orders.at(-1);
}

/** Waits `ms`; resolves early when `wake` is called, rejects when `signal` fires. */
function pause(ms: number, signal: AbortSignal, register: (wake: () => void) => () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let unregister = () => {};
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      unregister();
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    const timer = setTimeout(() => finish(), ms);
    unregister = register(() => finish());
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Enterprise dedicated lines through the OSS's TM Forum Open APIs: TMF638 Service Inventory to read
 * a line, TMF641 Service Ordering to change its bandwidth (a `modify` order, followed to its end),
 * their hubs for line events, and the OSS's performance feed for samples.
 */
export class TmfLineController implements LineController {
  private readonly options: Required<Omit<TmfLineControllerOptions, 'callbackUrl'>> & { callbackUrl?: string };
  private readonly client: TmfClient;
  private readonly callbacks: TmfCallbackServer;
  private handler: (event: LineEvent) => Promise<void> = async () => {};
  /** Hubs registered at the OSS: where to DELETE them. */
  private hubs: string[] = [];
  /** Followers of each order, woken by its ServiceOrderStateChangeEvent. */
  private readonly followers = new Map<string, Set<() => void>>();
  /** One per setBandwidth under way; close() aborts them all. */
  private readonly calls = new Set<AbortController>();
  private closed?: Promise<void>;
  /** The next try of hub registration while the OSS cannot be reached. */
  private retry?: NodeJS.Timeout;

  constructor(options: TmfLineControllerOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TmfLineControllerOptions;
    this.options = { ...DEFAULTS, ...given };
    this.client = new TmfClient(this.options.baseUrl, this.options.requestTimeoutMs);
    this.callbacks = new TmfCallbackServer((envelope) => this.receive(envelope));
  }

  onEvent(handler: (event: LineEvent) => Promise<void>): void {
    this.handler = handler;
  }

  /**
   * Starts the event listener and registers the hubs at the OSS; resolves with the listener's port.
   * An OSS that cannot be reached does not stop the process that runs this (its other
   * capabilities have nothing to do with lines): registration is tried again with back-off until
   * it works, and {@link hubsRegistered} says whether it has. Orders work meanwhile (they are polled).
   */
  async listen(): Promise<number> {
    if (this.closed) throw new OssUnavailableError('the line controller is closed');
    const { callbackHost, callbackPort } = this.options;
    const port = await this.callbacks.listen(callbackPort, callbackHost);
    const host = callbackHost.includes(':') ? `[${callbackHost}]` : callbackHost;
    const callback = this.options.callbackUrl ?? `http://${host}:${port}/tmf-events`;
    let delay = 1000;
    const attempt = async (): Promise<void> => {
      if (this.closed) return;
      try {
        await this.registerHubs(callback);
      } catch {
        await this.unregisterHubs();
        if (this.closed) return;
        this.retry = setTimeout(() => void attempt(), delay);
        this.retry.unref();
        delay = Math.min(delay * 2, 30_000);
      }
    };
    await attempt();
    return port;
  }

  /** True once the OSS accepted our hubs: line events (cuts, restores) reach this process. */
  get hubsRegistered(): boolean {
    return this.hubs.length === HUBS.length;
  }

  private async registerHubs(callback: string): Promise<void> {
    for (const { api, query } of HUBS) {
      const res = await this.client.request('POST', `${api}/hub`, { body: { callback, query } });
      const id = (res.body as { id?: unknown } | undefined)?.id;
      if (res.status !== 201 || typeof id !== 'string') throw new OssUnavailableError(`OSS refused the hub at ${api}: ${res.status}`);
      this.hubs.push(`${api}/hub/${encodeURIComponent(id)}`);
    }
  }

  async line(serviceId: string): Promise<LineInfo | undefined> {
    const res = await this.client.request('GET', `${INVENTORY_API}/service/${encodeURIComponent(serviceId)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) throw new OssUnavailableError(`OSS answered ${res.status} to a service read`);
    return lineInfoOf(res.body as TmfService);
  }

  /**
   * TMF641: finds the order placed under `orderKey` (its externalId) or places one, then follows it
   * until it ends. Polls every `pollIntervalMs`; an order event on the hub wakes the poll early.
   */
  async setBandwidth(serviceId: string, bandwidthMbps: number, orderKey: string, signal?: AbortSignal): Promise<{ orderId: string }> {
    signal?.throwIfAborted();
    if (this.closed) throw new OssUnavailableError('the line controller is closed');
    // A controller of our own rather than AbortSignal.any() with a long-lived signal: nothing to leak.
    const call = new AbortController();
    const forward = () => call.abort(signal!.reason);
    signal?.addEventListener('abort', forward, { once: true });
    this.calls.add(call);
    try {
      const deadline = Date.now() + this.options.orderTimeoutMs;
      const order = (await this.findOrder(orderKey, call.signal)) ?? (await this.placeOrder(serviceId, bandwidthMbps, orderKey, call.signal));
      const target = targetOf(order);
      const differs = (mine: unknown, theirs: unknown) => theirs !== undefined && theirs !== mine;
      if (differs(serviceId, target.serviceId) || differs(bandwidthMbps, target.bandwidthMbps)) {
        // The key is the idempotency key of one change; reusing it for another is the caller's bug.
        throw new LineOrderFailedError('rejected', `order key ${orderKey} already names order ${order.id} (${target.serviceId} to ${target.bandwidthMbps} Mbps)`, order.id);
      }
      return await this.follow(order, deadline, call.signal);
    } finally {
      this.calls.delete(call);
      signal?.removeEventListener('abort', forward);
    }
  }

  async telemetry(serviceId: string, options: { since?: Date; limit?: number } = {}): Promise<LineSample[]> {
    const query = new URLSearchParams();
    if (options.since) query.set('since', options.since.toISOString());
    if (options.limit !== undefined) query.set('limit', String(Math.max(1, Math.min(MAX_SAMPLES, Math.floor(options.limit)))));
    const res = await this.client.request('GET', `/performance/v1/services/${encodeURIComponent(serviceId)}/samples${query.toString() ? `?${query}` : ''}`);
    if (res.status === 404) return [];
    const samples = (res.body as { samples?: unknown } | undefined)?.samples;
    if (res.status !== 200 || !Array.isArray(samples)) throw new OssUnavailableError(`OSS answered ${res.status} to a samples read`);
    return samples.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null).map(sampleOf);
  }

  /** Unregisters the hubs (best effort, bounded), stops the listener and the connections; safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearTimeout(this.retry);
      for (const call of this.calls) call.abort(new OssUnavailableError('the line controller is closing'));
      const steps = [() => this.unregisterHubs(), () => this.callbacks.close(), () => this.client.close()];
      for (const step of steps) await step().catch(() => undefined);
    })();
    return this.closed;
  }

  /** TMF641 `GET /serviceOrder?externalId=`: how an order placed before a crash is found again. */
  private async findOrder(orderKey: string, signal: AbortSignal): Promise<TmfOrder | undefined> {
    const res = await this.client.request('GET', `${ORDERING_API}/serviceOrder?externalId=${encodeURIComponent(orderKey)}`, { signal });
    if (res.status !== 200 || !Array.isArray(res.body)) throw new OssUnavailableError(`OSS answered ${res.status} to an order search`);
    return chooseOrder(res.body.filter(isOrder));
  }

  private async placeOrder(serviceId: string, bandwidthMbps: number, orderKey: string, signal: AbortSignal): Promise<TmfOrder> {
    const body = {
      externalId: orderKey,
      description: `Bandwidth on demand: ${serviceId} to ${bandwidthMbps} Mbps`,
      serviceOrderItem: [
        {
          id: '1',
          action: 'modify',
          service: { id: serviceId, serviceCharacteristic: [{ name: 'bandwidth', valueType: 'integer', value: bandwidthMbps }], '@type': 'Service' },
          '@type': 'ServiceOrderItem',
        },
      ],
      '@type': 'ServiceOrder',
    };
    const res = await this.client.request('POST', `${ORDERING_API}/serviceOrder`, { body, signal });
    if (res.status === 201 && isOrder(res.body)) return res.body;
    if (res.status === 400) {
      const error = res.body as { message?: string; reason?: string } | undefined;
      throw new LineOrderFailedError('rejected', `the OSS refused the order: ${error?.message ?? error?.reason ?? 'bad request'}`);
    }
    throw new OssUnavailableError(`OSS answered ${res.status} to a new order`);
  }

  private async follow(first: TmfOrder, deadline: number, signal: AbortSignal): Promise<{ orderId: string }> {
    for (let order = first; ; ) {
      if (order.state === 'completed') return { orderId: order.id };
      if (FINAL_ORDER_STATES.has(order.state)) throw new LineOrderFailedError(order.state, reasonOf(order), order.id);
      const left = deadline - Date.now();
      if (left <= 0) throw new OssUnavailableError(`service order ${order.id} did not end within ${this.options.orderTimeoutMs} ms (still ${order.state})`);
      await pause(Math.min(this.options.pollIntervalMs, left), signal, (wake) => this.follower(order.id, wake));
      order = await this.readOrder(order.id, signal);
    }
  }

  private async readOrder(orderId: string, signal: AbortSignal): Promise<TmfOrder> {
    const res = await this.client.request('GET', `${ORDERING_API}/serviceOrder/${encodeURIComponent(orderId)}`, { signal });
    // The OSS forgot it (a purge, a reset): asking again with the same key places a new order.
    if (res.status === 404) throw new OssUnavailableError(`the OSS no longer knows service order ${orderId}`);
    if (res.status !== 200 || !isOrder(res.body)) throw new OssUnavailableError(`OSS answered ${res.status} to an order read`);
    return res.body;
  }

  /** Adds `wake` to the followers of an order; returns its removal. */
  private follower(orderId: string, wake: () => void): () => void {
    let set = this.followers.get(orderId);
    if (!set) this.followers.set(orderId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.followers.get(orderId) === set) this.followers.delete(orderId);
    };
  }

  /** A hub event: order changes wake their followers; line changes go to the handler. */
  private async receive(envelope: TmfEventEnvelope): Promise<void> {
    if (envelope.eventType === 'ServiceOrderStateChangeEvent') {
      const orderId = envelope.event?.serviceOrder?.id;
      for (const wake of [...(this.followers.get(orderId ?? '') ?? [])]) wake();
      return;
    }
    for (const event of lineEventsOf(envelope, new Date().toISOString())) await this.handler(event);
  }

  private async unregisterHubs(): Promise<void> {
    const hubs = this.hubs.splice(0);
    if (hubs.length === 0) return;
    const all = Promise.allSettled(hubs.map((path) => this.client.request('DELETE', path)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, UNREGISTER_DEADLINE_MS)));
    await Promise.race([all, deadline]);
    clearTimeout(timer);
  }
}
