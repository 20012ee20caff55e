/**
 * From TM Forum resources (TMF638 Service, TMF641 ServiceOrder, their hub events) to the port's
 * types. Only the fields the gateway needs are read; anything else the OSS sends is ignored.
 */
import type { LineEnd, LineEvent, LineInfo, LineSample } from '../ports.ts';

interface TmfCharacteristic {
  name?: string;
  value?: unknown;
}

/** A TMF638 Service, as far as a dedicated line needs it. */
export interface TmfService {
  id?: string;
  name?: string;
  state?: string;
  serviceCharacteristic?: TmfCharacteristic[];
}

/** A TMF641 ServiceOrder, as far as following one needs it. */
export interface TmfOrder {
  id: string;
  state: string;
  externalId?: string;
  serviceOrderItem?: Array<{ service?: { id?: string; serviceCharacteristic?: TmfCharacteristic[] } }>;
  errorMessage?: Array<{ code?: string; message?: string; reason?: string }>;
  note?: Array<{ text?: string }>;
}

/** The TMF v4 event envelope a hub POSTs to its callback. */
export interface TmfEventEnvelope {
  eventId?: string;
  eventTime?: string;
  eventType?: string;
  event?: { service?: TmfService; serviceOrder?: TmfOrder };
}

/** TMF641 ServiceOrderStateType values after which an order never changes. */
export const FINAL_ORDER_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'rejected', 'cancelled', 'partial']);

function characteristic(characteristics: TmfCharacteristic[] | undefined, name: string): unknown {
  return characteristics?.find((c) => c?.name === name)?.value;
}

/** A bandwidth in Mbps; some OSSs send characteristic values as strings. */
function mbpsOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function endOf(value: unknown): LineEnd | undefined {
  if (typeof value === 'string' && value !== '') return { site: value };
  if (typeof value !== 'object' || value === null) return undefined;
  const { siteName, address } = value as { siteName?: unknown; address?: unknown };
  if (typeof siteName !== 'string') return undefined;
  return typeof address === 'string' ? { site: siteName, address } : { site: siteName };
}

/** The line a Service describes; undefined when the service is not a dedicated line (no bandwidth, ends...). */
export function lineInfoOf(service: TmfService): LineInfo | undefined {
  const c = service.serviceCharacteristic;
  const bandwidthMbps = mbpsOf(characteristic(c, 'bandwidth'));
  const committedMbps = mbpsOf(characteristic(c, 'committedBandwidth'));
  const portCapacityMbps = mbpsOf(characteristic(c, 'portCapacity'));
  const aEnd = endOf(characteristic(c, 'aEnd'));
  const zEnd = endOf(characteristic(c, 'zEnd'));
  if (typeof service.id !== 'string' || bandwidthMbps === undefined || committedMbps === undefined || portCapacityMbps === undefined || !aEnd || !zEnd) {
    return undefined;
  }
  return { serviceId: service.id, name: service.name ?? service.id, state: service.state ?? 'unknown', aEnd, zEnd, committedMbps, portCapacityMbps, bandwidthMbps };
}

/** TMF638 ServiceStateChangeEvent (inactive: DOWN, active: UP) and ServiceAttributeValueChangeEvent (bandwidth). */
export function lineEventsOf(envelope: TmfEventEnvelope, receivedAt: string): LineEvent[] {
  const service = envelope.event?.service;
  if (typeof service?.id !== 'string') return [];
  const at = typeof envelope.eventTime === 'string' ? envelope.eventTime : receivedAt;
  if (envelope.eventType === 'ServiceStateChangeEvent') {
    if (service.state === 'inactive') return [{ serviceId: service.id, kind: 'DOWN', at }];
    if (service.state === 'active') return [{ serviceId: service.id, kind: 'UP', at }];
    return [];
  }
  if (envelope.eventType === 'ServiceAttributeValueChangeEvent') {
    const bandwidthMbps = mbpsOf(characteristic(service.serviceCharacteristic, 'bandwidth'));
    if (bandwidthMbps !== undefined) return [{ serviceId: service.id, kind: 'BANDWIDTH_CHANGED', bandwidthMbps, at }];
  }
  return [];
}

/** Why an order did not complete: its error message, else its last note, else its state. */
export function reasonOf(order: TmfOrder): string {
  const error = order.errorMessage?.find((e) => e?.message || e?.reason);
  if (error) return String(error.message ?? error.reason);
  const note = order.note?.filter((n) => typeof n?.text === 'string').at(-1);
  return note?.text ?? `the order ended ${order.state}`;
}

/** The service and bandwidth an order asks for (its first item). */
export function targetOf(order: TmfOrder): { serviceId?: string; bandwidthMbps?: number } {
  const service = order.serviceOrderItem?.[0]?.service;
  return { serviceId: service?.id, bandwidthMbps: mbpsOf(characteristic(service?.serviceCharacteristic, 'bandwidth')) };
}

export function isOrder(value: unknown): value is TmfOrder {
  return typeof value === 'object' && value !== null && typeof (value as TmfOrder).id === 'string' && typeof (value as TmfOrder).state === 'string';
}

export function sampleOf(value: Record<string, unknown>): LineSample {
  const num = (key: string) => (typeof value[key] === 'number' ? (value[key] as number) : 0);
  return {
    at: String(value.at),
    bandwidthMbps: num('bandwidthMbps'),
    utilisationPercent: num('utilisationPercent'),
    throughputMbps: num('throughputMbps'),
    latencyMs: num('latencyMs'),
    lossPercent: num('lossPercent'),
  };
}
