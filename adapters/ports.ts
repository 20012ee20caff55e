/**
 * The southbound ports the core calls. Adapters under `adapters/<protocol>/` implement them; the
 * core never imports a simulator, so an adapter cannot tell a simulator from a real network.
 */

/** ARP (TS 23.501 §5.7.2.2): priority 1 (best) to 15, and the pre-emption flags. */
export interface Arp {
  priorityLevel: number;
  /** May this flow pre-empt others? */
  preemptCap: 'MAY_PREEMPT' | 'NOT_PREEMPT';
  /** May this flow be pre-empted? */
  preemptVuln: 'PREEMPTABLE' | 'NOT_PREEMPTABLE';
}

/** The network side of a QoS profile. Bit rates are 3GPP BitRate strings ("4 Mbps"). */
export interface QosMapping {
  /** Operator-defined reference the PCF maps to a policy (TS 29.514 `qosReference`). */
  qosReference: string;
  /** 5QI (5G) or QCI (4G) of the flow. */
  fiveQi: number;
  gbrUl?: string;
  gbrDl?: string;
  mbrUl: string;
  mbrDl: string;
  arp: Arp;
}

/** One QoS flow for one UE, as the core asks for it. */
export interface QosFlowRequest {
  /** Our id for the flow (the QoD session id); makes create idempotent. */
  flowId: string;
  ueIpv4?: string;
  ueIpv6?: string;
  /** TS 29.214 §5.3.8 IPFilterRule strings, "permit out 17 from <as> <port> to <ue> <port>". */
  flowDescriptions: string[];
  qos: QosMapping;
}

/** What the network reports about a flow, asynchronously. */
export type QosFlowEventKind =
  /** The network allocated the resources (SUCCESSFUL_RESOURCES_ALLOCATION). */
  | 'ALLOCATED'
  /** The network could not allocate them (FAILED_RESOURCES_ALLOCATION). */
  | 'ALLOCATION_FAILED'
  /** The flow is gone: pre-emption, radio-link failure, PDU session released (terminate). */
  | 'TERMINATED'
  /** 5G notification control: the GBR can no longer be guaranteed, or is again. */
  | 'QOS_NOT_GUARANTEED'
  | 'QOS_GUARANTEED';

export interface QosFlowEvent {
  flowId: string;
  kind: QosFlowEventKind;
  /** The network's cause, e.g. INSUFFICIENT_QOS_FLOW_RESOURCES. */
  cause?: string;
  /** The network's reference of the flow the event is about (to spot flows no session owns). */
  networkRef?: string;
  at: string;
}

/**
 * A network element or data source could not be reached (or did not answer in time): nothing was
 * refused, the caller may retry. The HTTP layer answers 503 UNAVAILABLE for it.
 */
export class DependencyUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why the network refused a flow synchronously. */
export type QosRefusal = 'UE_NOT_CONNECTED' | 'NOT_AUTHORIZED' | 'INVALID_REQUEST';

export class QosRefusedError extends Error {
  constructor(
    readonly reason: QosRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'QosRefusedError';
  }
}

/** Controls QoS flows in the network (N5 to a PCF, Rx to a PCRF, ...). */
export interface QosController {
  /**
   * Asks the network for a flow. Resolves once the request is authorised (not yet allocated:
   * that comes as an ALLOCATED or ALLOCATION_FAILED event). Idempotent per `flowId`.
   * Rejects with QosRefusedError when the network refuses, other errors when it cannot be reached.
   */
  create(request: QosFlowRequest): Promise<{ networkRef: string }>;
  /** Releases a flow; releasing one that is already gone succeeds. */
  delete(networkRef: string): Promise<void>;
  /** Registers the handler of asynchronous flow events. */
  onEvent(handler: (event: QosFlowEvent) => Promise<void>): void;
  close(): Promise<void>;
}

/** A subscriber as the network knows it. */
export interface Subscriber {
  /** E.164 with '+'. */
  msisdn: string;
  ipv4?: string;
  ipv6Prefix?: string;
  /** False for subscribers whose plan has no QoS (IoT plans). */
  qosEligible: boolean;
  /** False when the UE has no data session (detached). */
  attached: boolean;
}

/** Resolves subscribers by phone number or by the address of their data session. */
export interface SubscriberIdentity {
  byMsisdn(msisdn: string): Promise<Subscriber | undefined>;
  byIpv4(address: string, port?: number): Promise<Subscriber | undefined>;
  byIpv6(address: string): Promise<Subscriber | undefined>;
}

/** When a phone number got its current SIM (HLR/HSS/UDM: the MSISDN ↔ IMSI pairing). */
export interface SimInfo {
  /** When the current SIM was paired with the number: the latest SIM swap, or the first activation. ISO 8601. */
  latestSimChange: string;
  /** True when that pairing replaced another SIM (a swap); false when it is the number's first SIM. */
  swapped: boolean;
}

/** The SIM history of phone numbers. */
export interface SimHistory {
  /** Undefined when the network does not know the number. */
  simInfo(msisdn: string): Promise<SimInfo | undefined>;
}

/**
 * Who holds a data-path address right now: the UE table of the packet core, RADIUS accounting
 * records, ... This is how device-facing endpoints identify the subscriber behind a request.
 */
export interface AddressResolver {
  /**
   * The MSISDN (E.164 with '+') of the subscriber whose data session holds `address` (and `port`,
   * behind carrier-grade NAT); undefined when nobody's does (Wi-Fi, a detached UE, an unknown address).
   */
  msisdnAt(address: string, port?: number): Promise<string | undefined>;
}

/** One end of an enterprise dedicated line. */
export interface LineEnd {
  /** The site's name, e.g. "Invoice cloud data centre (Shanghai)". */
  site: string;
  /** Postal address or location text, when the inventory has one. */
  address?: string;
}

/** A dedicated line as the operator's service inventory knows it (TMF638 Service). */
export interface LineInfo {
  /** The inventory's service id. */
  serviceId: string;
  name: string;
  /** `active`: in service. `inactive`: out of service (a cut). Other TMF638 states pass through. */
  state: string;
  aEnd: LineEnd;
  zEnd: LineEnd;
  /** The bandwidth the enterprise pays for all the time. */
  committedMbps: number;
  /** What the access ports at both ends can carry at most. */
  portCapacityMbps: number;
  /** The bandwidth configured on the line now (committed plus any boost in force). */
  bandwidthMbps: number;
}

/** One performance sample of a line. */
export interface LineSample {
  /** ISO 8601 end of the sample's interval. */
  at: string;
  /** The bandwidth configured when the sample was taken. */
  bandwidthMbps: number;
  /** Traffic carried, as a share of that bandwidth (0–100). */
  utilisationPercent: number;
  /** Traffic carried. */
  throughputMbps: number;
  /** One-way latency, averaged over the interval. */
  latencyMs: number;
  /** Share of packets lost (0–100). */
  lossPercent: number;
}

/** Something the network reports about a line, asynchronously (TMF638 service events). */
export interface LineEvent {
  serviceId: string;
  /** DOWN: the line went out of service (a cut). UP: back in service. BANDWIDTH_CHANGED: the configured bandwidth changed. */
  kind: 'DOWN' | 'UP' | 'BANDWIDTH_CHANGED';
  bandwidthMbps?: number;
  at: string;
}

/** Why the network did not carry out a bandwidth order. */
export class LineOrderFailedError extends Error {
  constructor(
    /** The order's final state (`failed`, `rejected`, `cancelled`). */
    readonly state: string,
    message: string,
    readonly orderId?: string,
  ) {
    super(message);
    this.name = 'LineOrderFailedError';
  }
}

/**
 * Reads and changes enterprise lines in the operator's OSS (TMF638 Service Inventory, TMF641
 * Service Ordering, ...). Unreachable or timed-out calls reject with DependencyUnavailableError.
 */
export interface LineController {
  /** The line, or undefined when the inventory has no such service. */
  line(serviceId: string): Promise<LineInfo | undefined>;
  /**
   * Orders the line's bandwidth set to `bandwidthMbps` and resolves once the order completed.
   * Idempotent per `orderKey` (the order's externalId): asking again with the same key follows
   * the order already placed instead of placing another. Rejects with LineOrderFailedError when
   * the order fails or is rejected.
   */
  setBandwidth(serviceId: string, bandwidthMbps: number, orderKey: string, signal?: AbortSignal): Promise<{ orderId: string }>;
  /** Recent samples, oldest first: those after `since` when given, at most `limit`. */
  telemetry(serviceId: string, options?: { since?: Date; limit?: number }): Promise<LineSample[]>;
  /** Registers the handler of line events. */
  onEvent(handler: (event: LineEvent) => Promise<void>): void;
  close(): Promise<void>;
}
