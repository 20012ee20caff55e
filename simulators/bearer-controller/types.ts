/**
 * The data model of the bearer controller: the radio and core network (eNB/gNB, MME/AMF, SMF/PGW)
 * behind a PCF, reduced to what decides whether a dedicated bearer (4G) or QoS flow (5G) exists.
 */

export type RrcState = 'IDLE' | 'CONNECTED';
export type CellState = 'UP' | 'FAILED';
export type BearerState = 'PENDING' | 'ESTABLISHED' | 'FAILED' | 'RELEASED';
export type BearerEventKind = 'ESTABLISHED' | 'FAILED' | 'RELEASED';
/** TS 23.501 §5.7.3.2 resource types; only the GBR ones take part in admission control. */
export type ResourceType = 'GBR' | 'DELAY_CRITICAL_GBR' | 'NON_GBR';

/** Why a bearer failed or was released; the `cause` of a notification. */
export type BearerCause =
  | 'UE_NOT_ATTACHED'
  | 'UE_DETACHED'
  | 'MAX_NR_BEARERS_REACHED'
  | 'INSUFFICIENT_RESOURCES'
  | 'PREEMPTED'
  | 'RADIO_LINK_FAILURE'
  | 'HANDOVER_REJECTED'
  | 'CELL_FAILURE'
  | 'CONGESTION'
  /** The PCF deleted it (`DELETE /bearers/{id}`); never notified. */
  | 'RELEASED_BY_REQUEST';

/** ARP (TS 23.501 §5.7.2.2): priority 1 (best) to 15, and the pre-emption flags. */
export interface Arp {
  priorityLevel: number;
  preemptCap: 'MAY_PREEMPT' | 'NOT_PREEMPT';
  preemptVuln: 'PREEMPTABLE' | 'NOT_PREEMPTABLE';
}

/** The body of `POST /bearers`. Bit rates in bit/s. */
export interface BearerRequest {
  ueIpv4: string;
  fiveQi: number;
  gbrUl?: number;
  gbrDl?: number;
  mbrUl: number;
  mbrDl: number;
  arp: Arp;
  flowDescriptions: string[];
  notifyUrl: string;
}

/** How long the set-up took in simulated time, so tests compare delays without a wall clock. */
export interface SetupTiming {
  /** The UE was IDLE and had to be paged first (TS 23.401 §5.3.4.3 network-triggered service request). */
  paged: boolean;
  /** Simulated set-up latency in ms, before `timeScale`. */
  latencyMs: number;
  /** The real delay used: `latencyMs × timeScale`. */
  scaledDelayMs: number;
}

/** A dedicated bearer / QoS flow, as `GET /bearers/{id}` returns it. */
export interface Bearer extends Required<Omit<BearerRequest, 'gbrUl' | 'gbrDl'>> {
  bearerId: string;
  gbrUl: number;
  gbrDl: number;
  msisdn: string;
  /** The cell serving the UE; follows the UE on handover. */
  cellId: string;
  resourceType: ResourceType;
  state: BearerState;
  cause?: BearerCause;
  setup: SetupTiming;
  requestedAt: string;
  establishedAt?: string;
  endedAt?: string;
}

/** What `POST {notifyUrl}` carries. */
export interface BearerEvent {
  bearerId: string;
  event: BearerEventKind;
  cause?: BearerCause;
  at: string;
}

export interface Cell {
  cellId: string;
  /** GBR capacity, bit/s. */
  capacityUl: number;
  capacityDl: number;
  /** Share of the capacity that admission control may hand out to GBR bearers. */
  admissionThreshold: number;
  maxGbrBearers: number;
  state: CellState;
  /** Capacity multiplier; below 1 while the cell is congested. */
  congestionFactor: number;
}

/** GBR in use at a cell, counting ESTABLISHED bearers only. */
export interface CellLoad {
  gbrUl: number;
  gbrDl: number;
  gbrBearers: number;
  nonGbrBearers: number;
  pendingBearers: number;
}

export type Plan = 'STANDARD' | 'IOT';

/** A subscriber as `GET /subscribers/...` returns it. */
export interface SubscriberView {
  msisdn: string;
  imsi: string;
  /** Absent while detached: without a PDU session the UE has no address. */
  ipv4?: string;
  plan: Plan;
  qosEligible: boolean;
  attached: boolean;
  cellId: string;
  rrcState: RrcState;
}

/**
 * The number's current SIM, as `GET /subscribers/{msisdn}/sim` returns it: the MSISDN ↔ IMSI
 * pairing the HSS/UDM holds, which a SIM swap changes (what CAMARA SIM Swap reports).
 */
export interface SimView {
  msisdn: string;
  imsi: string;
  /** When the current SIM was paired with the number: the latest swap, or the first activation. */
  latestSimChange: string;
  /** True once the number has had a SIM swap; false while it has its first SIM. */
  swapped: boolean;
}

/**
 * A line of the subscriber change feed (`GET /subscribers/changes`, NDJSON): `subscribed` first,
 * once the feed is open; `changed` after anything about a UE changed (attachment, cell, RRC state,
 * SIM), naming its number and the address its data session has or would have; `reset` when every
 * UE went back to its initial state; `heartbeat` now and then, so a reader can tell a quiet feed
 * from a dead one.
 */
export type SubscriberChange =
  | { type: 'subscribed'; at: string }
  | { type: 'changed'; msisdn: string; ipv4: string; at: string }
  | { type: 'reset'; at: string }
  | { type: 'heartbeat'; at: string };
