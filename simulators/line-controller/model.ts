/**
 * The operator's OSS for enterprise dedicated lines: the service inventory (TMF638), service orders
 * that change a line's bandwidth (TMF641), and each line's performance feed. HTTP handlers and tests
 * drive it; it reports changes through {@link onEvent}.
 */
import { hashUnit, mulberry32 } from '../common/prng.ts';
import { HubRegistry } from './hubs.ts';
import { Line, serviceOf, type InjectedOutcome } from './lines.ts';
import { withDefaults, type LineModelOptions } from './options.ts';
import { OrderBook, orderOf, type OrderFault, type OrderRecord } from './orders.ts';
import { SEEDED_LINES } from './population.ts';
import { SimulatorError } from './problems.ts';
import { OrderRunner, type RunnerHost } from './runner.ts';
import type { HubApi, LineSample, LineSpec, LineView, OrderRequest, OrderState, Service, ServiceOrder, ServiceState, TmfEvent, TmfEventType } from './types.ts';

/** Hears every event with the API whose hubs get it and the resource it is about (for ordering). */
export type EventListener = (api: HubApi, resourceId: string, event: TmfEvent) => void;

export class LineControllerModel implements RunnerHost {
  readonly options: Readonly<LineModelOptions>;
  /** Makes hrefs absolute: `http://host:port`, set once the server listens. */
  baseUrl = '';
  readonly hubs = new HubRegistry();
  private readonly lines = new Map<string, Line>();
  private readonly orders: OrderBook;
  private readonly runner: OrderRunner;
  /** Lines created since the last reset: each gets its own random stream from the seed and this. */
  private linesCreated = 0;
  private nextEventId = 1;
  private readonly listeners: EventListener[] = [];
  private readonly resetListeners: Array<() => void> = [];

  constructor(options: Partial<LineModelOptions> = {}) {
    this.options = withDefaults(options);
    this.orders = new OrderBook(this.options.keepOrders);
    this.runner = new OrderRunner(this, this.options);
    this.seedLines();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /** Runs `listener` on every {@link reset} (the notifier drops deliveries still under way). */
  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  /** TMF638 `GET /service`: every line, in creation order, filtered by `state` and `name` when given. */
  services(filter: { state?: string; name?: string } = {}): Service[] {
    return [...this.lines.values()]
      .filter((l) => (filter.state === undefined || l.state === filter.state) && (filter.name === undefined || l.name === filter.name))
      .map((l) => serviceOf(l, this.baseUrl));
  }

  service(serviceId: string): Service {
    return serviceOf(this.lineOrThrow(serviceId), this.baseUrl);
  }

  /** TMF641 `POST /serviceOrder`: records the order `acknowledged`; the rest happens later. */
  placeOrder(request: OrderRequest): ServiceOrder {
    const record = this.orders.create(request);
    this.runner.submit(record);
    return orderOf(record, this.baseUrl);
  }

  order(orderId: string): ServiceOrder {
    return orderOf(this.orders.get(orderId), this.baseUrl);
  }

  /** Orders in arrival order: how a client that lost an order's id finds it by its `externalId`. */
  findOrders(filter: { externalId?: string; state?: string; serviceId?: string }): ServiceOrder[] {
    return this.orders.find(filter).map((r) => orderOf(r, this.baseUrl));
  }

  /** The performance feed: the newest `limit` samples (after `since` when given), oldest first. */
  samples(serviceId: string, query: { since?: Date; limit: number }): { serviceId: string; samples: LineSample[] } {
    return { serviceId, samples: this.lineOrThrow(serviceId).samples(query.since?.getTime(), query.limit) };
  }

  createLine(spec: LineSpec): Service {
    const id = spec.id ?? this.freeLineId();
    if (this.lines.has(id)) throw new SimulatorError('LINE_EXISTS', `the inventory already has a service ${id}`);
    const prng = mulberry32(Math.floor(hashUnit(this.options.seed, this.linesCreated++) * 2 ** 32));
    const line = new Line(id, spec, { prng, intervalMs: this.options.sampleIntervalMs, maxSamples: this.options.maxSamples });
    this.lines.set(id, line);
    return serviceOf(line, this.baseUrl);
  }

  /** A fibre cut: the line goes `inactive`, and a bandwidth change under way on it fails. */
  cut(serviceId: string): LineView {
    this.changeState(this.lineOrThrow(serviceId), 'inactive');
    this.runner.lineCut(serviceId);
    return this.view(serviceId);
  }

  restore(serviceId: string): LineView {
    this.changeState(this.lineOrThrow(serviceId), 'active');
    return this.view(serviceId);
  }

  setDemand(serviceId: string, mbps: number): LineView {
    this.lineOrThrow(serviceId).setDemand(mbps);
    return this.view(serviceId);
  }

  /** The next `count` feasible orders on the line end `state` (0 clears it). */
  failOrders(serviceId: string, count: number, state: InjectedOutcome): LineView {
    Object.assign(this.lineOrThrow(serviceId).injected, { count, state });
    return this.view(serviceId);
  }

  view(serviceId: string): LineView {
    const l = this.lineOrThrow(serviceId);
    const { id, name, state, bandwidthMbps, committedMbps, portCapacityMbps, demandMbps, baseLatencyMs } = l;
    return { id, name, state, bandwidthMbps, committedMbps, portCapacityMbps, demandMbps, latencyMs: baseLatencyMs, injectedFailures: { ...l.injected }, orders: this.runner.queueOf(id) };
  }

  /** Every line with its simulation state, order counts and hubs, for debugging and tests. */
  snapshot() {
    const { seed, timeScale, sampleIntervalMs } = this.options;
    return { seed, timeScale, sampleIntervalMs, lines: [...this.lines.keys()].map((id) => this.view(id)), orders: { kept: this.orders.size, byState: this.orders.counts() }, hubs: this.hubs.list() };
  }

  /**
   * Back to the seeded lines, no orders, and the initial random streams. Hubs stay: they are the
   * clients' subscriptions, not the network's state. Order ids keep counting.
   */
  reset(): void {
    this.runner.cancelAll();
    this.orders.clear();
    this.lines.clear();
    this.linesCreated = 0;
    this.seedLines();
    for (const listener of this.resetListeners) listener();
  }

  /** Stops every order timer; safe to call twice. */
  close(): void {
    this.runner.cancelAll();
  }

  /** @internal RunnerHost */
  lineOf(serviceId: string): Line | undefined {
    return this.lines.get(serviceId);
  }

  /** @internal RunnerHost */
  moveOrder(record: OrderRecord, state: OrderState, text: string, fault?: OrderFault): void {
    this.orders.move(record, state, text, fault);
    this.emit('serviceOrdering', record.order.id, 'ServiceOrderStateChangeEvent', { serviceOrder: orderOf(record, this.baseUrl) });
  }

  /** @internal RunnerHost */
  applyBandwidth(line: Line, mbps: number): void {
    if (line.bandwidthMbps === mbps) return;
    line.setBandwidth(mbps);
    this.emit('serviceInventory', line.id, 'ServiceAttributeValueChangeEvent', { service: serviceOf(line, this.baseUrl) });
  }

  private changeState(line: Line, state: ServiceState): void {
    if (line.state === state) return;
    line.setState(state);
    this.emit('serviceInventory', line.id, 'ServiceStateChangeEvent', { service: serviceOf(line, this.baseUrl) });
  }

  private emit(api: HubApi, resourceId: string, eventType: TmfEventType, event: TmfEvent['event']): void {
    const body: TmfEvent = { eventId: `ev-${this.nextEventId++}`, eventTime: new Date().toISOString(), eventType, event };
    for (const listener of this.listeners) listener(api, resourceId, body);
  }

  private lineOrThrow(serviceId: string): Line {
    const line = this.lines.get(serviceId);
    if (!line) throw new SimulatorError('SERVICE_NOT_FOUND', `the inventory has no service ${serviceId}`);
    return line;
  }

  private freeLineId(): string {
    let n = this.lines.size + 1;
    while (this.lines.has(`LINE-${n}`)) n++;
    return `LINE-${n}`;
  }

  private seedLines(): void {
    for (const spec of SEEDED_LINES) this.createLine(spec);
  }
}
