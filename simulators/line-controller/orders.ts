/**
 * The service orders the OSS has received: kept in arrival order, found by id or by the client's
 * `externalId`, bounded (the oldest finished orders are forgotten first).
 */
import { SimulatorError } from './problems.ts';
import { FINAL_ORDER_STATES, INVENTORY_API, ORDERING_API, type Note, type OrderRequest, type OrderState, type ServiceOrder } from './types.ts';

/** An order with what the simulator acts on. */
export interface OrderRecord {
  /** The order as TMF641 shows it, without its hrefs (added by {@link orderOf}). */
  order: Omit<ServiceOrder, 'href'>;
  serviceId: string;
  bandwidthMbps: number;
}

/** Why an order was rejected or failed: its ServiceOrderErrorMessage. */
export interface OrderFault {
  code: string;
  message: string;
}

const REASONS: Record<string, string> = {
  rejected: 'The order is not feasible',
  failed: 'The order could not be carried out',
};

const note = (text: string, at: string): Note => ({ date: at, author: 'OSS service order management', text, '@type': 'Note' });

export class OrderBook {
  /** Not reset by {@link clear}, so an id from before a reset never names a new order. */
  private nextId = 1;
  private readonly records = new Map<string, OrderRecord>();
  private readonly byExternalId = new Map<string, Set<string>>();
  /** Ids of finished orders, oldest first: the first to be forgotten. */
  private readonly finished = new Set<string>();

  constructor(private readonly keep: number) {}

  /** Records a new order, `acknowledged`. */
  create(request: OrderRequest): OrderRecord {
    const id = `so-${this.nextId++}`;
    const now = new Date().toISOString();
    const { externalId, description, category, priority, requestedStartDate, requestedCompletionDate } = request;
    const optional = Object.fromEntries(
      Object.entries({ externalId, description, category, priority, requestedStartDate, requestedCompletionDate }).filter(([, v]) => v !== undefined),
    );
    const record: OrderRecord = {
      serviceId: request.serviceId,
      bandwidthMbps: request.bandwidthMbps,
      order: {
        id,
        ...optional,
        orderDate: now,
        state: 'acknowledged',
        serviceOrderItem: [
          {
            id: request.itemId,
            action: 'modify',
            state: 'acknowledged',
            service: { id: request.serviceId, serviceCharacteristic: [{ name: 'bandwidth', valueType: 'integer', value: request.bandwidthMbps }], '@type': 'Service' },
            '@type': 'ServiceOrderItem',
          },
        ],
        note: [...request.note, note(`Order acknowledged: bandwidth of ${request.serviceId} to ${request.bandwidthMbps} Mbps`, now)],
        '@type': 'ServiceOrder',
      },
    };
    this.records.set(id, record);
    if (externalId !== undefined) {
      let ids = this.byExternalId.get(externalId);
      if (!ids) this.byExternalId.set(externalId, (ids = new Set()));
      ids.add(id);
    }
    this.prune();
    return record;
  }

  get(id: string): OrderRecord {
    const record = this.records.get(id);
    if (!record) throw new SimulatorError('ORDER_NOT_FOUND', `no service order ${id}`);
    return record;
  }

  /** Orders in arrival order; only those with `externalId`, in `state`, on `serviceId` when given. */
  find(filter: { externalId?: string; state?: string; serviceId?: string }): OrderRecord[] {
    const { externalId, state, serviceId } = filter;
    const candidates = externalId === undefined ? [...this.records.values()] : [...(this.byExternalId.get(externalId) ?? [])].map((id) => this.records.get(id)!);
    return candidates.filter((r) => (state === undefined || r.order.state === state) && (serviceId === undefined || r.serviceId === serviceId));
  }

  /** Moves an order and its item to `state`, with a note, and the fault when it failed. */
  move(record: OrderRecord, state: OrderState, text: string, fault?: OrderFault): void {
    const now = new Date().toISOString();
    const { order } = record;
    order.state = state;
    order.serviceOrderItem[0].state = state;
    order.note.push(note(text, now));
    if (state === 'inProgress') order.startDate = now;
    if (fault) {
      const itemRef = { itemId: order.serviceOrderItem[0].id, serviceOrderId: order.id, '@referredType': 'ServiceOrderItem' as const };
      order.errorMessage = [{ code: fault.code, reason: REASONS[state] ?? state, message: fault.message, timestamp: now, serviceOrderItem: [itemRef], '@type': 'ServiceOrderErrorMessage' }];
    }
    if (FINAL_ORDER_STATES.has(state)) {
      order.completionDate = now;
      this.finished.add(order.id);
      this.prune();
    }
  }

  /** How many orders are kept in each state. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { order } of this.records.values()) counts[order.state] = (counts[order.state] ?? 0) + 1;
    return counts;
  }

  get size(): number {
    return this.records.size;
  }

  clear(): void {
    this.records.clear();
    this.byExternalId.clear();
    this.finished.clear();
  }

  /** Forgets the oldest finished orders once too many are kept; orders under way always stay. */
  private prune(): void {
    for (const id of this.finished) {
      if (this.records.size <= this.keep) break;
      const externalId = this.records.get(id)?.order.externalId;
      this.finished.delete(id);
      this.records.delete(id);
      const ids = externalId === undefined ? undefined : this.byExternalId.get(externalId);
      ids?.delete(id);
      if (ids?.size === 0) this.byExternalId.delete(externalId!);
    }
  }
}

/** The order as TMF641 shows it; `baseUrl` makes the hrefs absolute. */
export function orderOf(record: OrderRecord, baseUrl: string): ServiceOrder {
  const { id, ...rest } = structuredClone(record.order);
  for (const item of rest.serviceOrderItem) {
    const { id: serviceId, ...service } = item.service;
    item.service = { id: serviceId, href: `${baseUrl}${INVENTORY_API}/service/${encodeURIComponent(serviceId)}`, ...service };
  }
  return { id, href: `${baseUrl}${ORDERING_API}/serviceOrder/${encodeURIComponent(id)}`, ...rest };
}
