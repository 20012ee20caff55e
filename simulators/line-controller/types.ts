/**
 * The resources of the line controller: a subset of TM Forum TMF638 Service Inventory v4 and TMF641
 * Service Ordering v4 (names and state values as in those APIs), and the OSS's performance feed.
 */

/** Where TMF638 Service Inventory is served. */
export const INVENTORY_API = '/tmf-api/serviceInventory/v4';
/** Where TMF641 Service Ordering is served. */
export const ORDERING_API = '/tmf-api/serviceOrdering/v4';

/** TMF638 v4 ServiceStateType. The simulator's lines are `active`, or `inactive` while cut. */
export type ServiceState = 'feasibilityChecked' | 'designed' | 'reserved' | 'inactive' | 'active' | 'terminated';

/** TMF641 v4 ServiceOrderStateType. */
export type ServiceOrderState =
  | 'acknowledged'
  | 'rejected'
  | 'pending'
  | 'held'
  | 'inProgress'
  | 'cancelled'
  | 'completed'
  | 'failed'
  | 'partial'
  | 'assessingCancellation'
  | 'pendingCancellation';

/** The states an order of this simulator goes through (its single item follows the same ones). */
export type OrderState = Extract<ServiceOrderState, 'acknowledged' | 'rejected' | 'inProgress' | 'completed' | 'failed'>;

/** The states after which an order never changes again. */
export const FINAL_ORDER_STATES: ReadonlySet<string> = new Set(['rejected', 'completed', 'failed', 'cancelled', 'partial']);

/** TMF v4 Characteristic. */
export interface Characteristic {
  name: string;
  valueType?: string;
  value: unknown;
}

/** The value of the `aEnd` and `zEnd` characteristics. */
export interface SiteValue {
  siteName: string;
  address: string;
}

/** A party the line belongs to (TMF v4 RelatedParty). */
export interface RelatedParty {
  id: string;
  name: string;
  role: string;
  '@referredType': 'Organization';
}

/** TMF638 v4 Service, as `GET /service/{id}` returns it. */
export interface Service {
  id: string;
  href: string;
  name: string;
  description: string;
  category: string;
  serviceType: string;
  state: ServiceState;
  startDate: string;
  hasStarted: boolean;
  isServiceEnabled: boolean;
  serviceSpecification: { id: string; href: string; name: string; version: string; '@referredType': 'ServiceSpecification' };
  serviceCharacteristic: Characteristic[];
  relatedParty: RelatedParty[];
  '@type': 'Service';
}

/** TMF v4 Note. */
export interface Note {
  date: string;
  author: string;
  text: string;
  '@type': 'Note';
}

/** TMF641 v4.x ServiceOrderErrorMessage: why an order was rejected or failed. */
export interface OrderErrorMessage {
  code: string;
  reason: string;
  message: string;
  timestamp: string;
  serviceOrderItem: Array<{ itemId: string; serviceOrderId: string; '@referredType': 'ServiceOrderItem' }>;
  '@type': 'ServiceOrderErrorMessage';
}

export interface ServiceOrderItem {
  id: string;
  action: 'modify';
  state: OrderState;
  service: { id: string; href?: string; serviceCharacteristic: Characteristic[]; '@type': 'Service' };
  '@type': 'ServiceOrderItem';
}

/** TMF641 v4 ServiceOrder, as `GET /serviceOrder/{id}` returns it. */
export interface ServiceOrder {
  id: string;
  href: string;
  externalId?: string;
  description?: string;
  category?: string;
  priority?: string;
  orderDate: string;
  requestedStartDate?: string;
  requestedCompletionDate?: string;
  startDate?: string;
  completionDate?: string;
  state: OrderState;
  serviceOrderItem: ServiceOrderItem[];
  note: Note[];
  errorMessage?: OrderErrorMessage[];
  '@type': 'ServiceOrder';
}

/** A valid `POST /serviceOrder` body, reduced to what the simulator acts on. */
export interface OrderRequest {
  externalId?: string;
  description?: string;
  category?: string;
  priority?: string;
  requestedStartDate?: string;
  requestedCompletionDate?: string;
  note: Note[];
  itemId: string;
  serviceId: string;
  bandwidthMbps: number;
}

export type TmfEventType = 'ServiceOrderStateChangeEvent' | 'ServiceStateChangeEvent' | 'ServiceAttributeValueChangeEvent';

/** The two APIs that have a hub. */
export type HubApi = 'serviceOrdering' | 'serviceInventory';

/** What `POST {callback}` carries (TMF v4 event envelope). */
export interface TmfEvent {
  eventId: string;
  eventTime: string;
  eventType: TmfEventType;
  event: { serviceOrder: ServiceOrder } | { service: Service };
}

/** TMF v4 EventSubscription: the answer of `POST /hub`. */
export interface EventSubscription {
  id: string;
  callback: string;
  query: string | null;
}

/** One sample of the performance feed. */
export interface LineSample {
  /** End of the sample's interval. */
  at: string;
  bandwidthMbps: number;
  utilisationPercent: number;
  throughputMbps: number;
  latencyMs: number;
  lossPercent: number;
}

/** The body of `POST /control/lines`. */
export interface LineSpec {
  id?: string;
  name: string;
  aEnd: SiteValue;
  zEnd: SiteValue;
  committedMbps: number;
  portCapacityMbps: number;
  /** Offered load, Mbps. @defaultValue 70% of committedMbps */
  demandMbps?: number;
  /** One-way propagation latency, ms. @defaultValue 8 */
  latencyMs?: number;
  /** The enterprise the line belongs to. @defaultValue none */
  customer?: { id: string; name: string };
}

/** A line with its simulation state, as the Control API shows it. */
export interface LineView {
  id: string;
  name: string;
  state: ServiceState;
  bandwidthMbps: number;
  committedMbps: number;
  portCapacityMbps: number;
  demandMbps: number;
  latencyMs: number;
  /** Orders the Control API set to fail: the next `count` feasible orders end in `state`. */
  injectedFailures: { count: number; state: 'failed' | 'rejected' };
  /** The order being worked on, and those waiting behind it. */
  orders: { current?: string; waiting: string[] };
}
