/**
 * The parts of the TS 29.514 (Rel-17, API 1.2.3) data model this PCF reads or writes. Bodies are kept
 * as received, so attributes not listed here are stored and returned unchanged.
 */

export type BitRate = string;

export interface MediaSubComponent {
  fNum: number;
  /** TS 29.214 §5.3.8 IPFilterRule, e.g. "permit out 17 from 198.51.100.5 5000 to 10.45.0.2 6000". */
  fDescs?: string[];
  fStatus?: string;
  flowUsage?: string;
  marBwUl?: BitRate;
  marBwDl?: BitRate;
  [key: string]: unknown;
}

export interface MediaComponent {
  medCompN: number;
  medType?: string;
  qosReference?: string;
  fStatus?: string;
  marBwUl?: BitRate;
  marBwDl?: BitRate;
  mirBwUl?: BitRate;
  mirBwDl?: BitRate;
  preemptCap?: 'MAY_PREEMPT' | 'NOT_PREEMPT' | string;
  preemptVuln?: 'PREEMPTABLE' | 'NOT_PREEMPTABLE' | string;
  resPrio?: string;
  medSubComps?: Record<string, MediaSubComponent>;
  [key: string]: unknown;
}

export interface AfEventSubscription {
  event: string;
  notifMethod?: string;
  [key: string]: unknown;
}

export interface EventsSubscReqData {
  events: AfEventSubscription[];
  notifUri?: string;
  [key: string]: unknown;
}

export interface AppSessionContextReqData {
  notifUri: string;
  suppFeat: string;
  ueIpv4?: string;
  ueIpv6?: string;
  ueMac?: string;
  dnn?: string;
  resPrio?: string;
  medComponents?: Record<string, MediaComponent>;
  evSubsc?: EventsSubscReqData;
  [key: string]: unknown;
}

export interface AppSessionContextRespData {
  suppFeat?: string;
  [key: string]: unknown;
}

export interface AppSessionContext {
  ascReqData?: AppSessionContextReqData;
  ascRespData?: AppSessionContextRespData;
  evsNotif?: EventsNotification;
}

/** TS 29.514 Flows: a media component and, when known, its flow numbers. */
export interface Flows {
  medCompN: number;
  fNums?: number[];
}

export type AfEvent = 'SUCCESSFUL_RESOURCES_ALLOCATION' | 'FAILED_RESOURCES_ALLOCATION';

export interface ResourcesAllocationInfo {
  mcResourcStatus: 'ACTIVE' | 'INACTIVE';
  flows: Flows[];
}

export interface EventsNotification {
  evSubsUri: string;
  evNotifs: Array<{ event: AfEvent; flows?: Flows[] }>;
  succResourcAllocReports?: ResourcesAllocationInfo[];
  failedResourcAllocReports?: ResourcesAllocationInfo[];
}

export type TerminationCause = 'ALL_SDF_DEACTIVATION' | 'PDU_SESSION_TERMINATION' | 'INSUFFICIENT_QOS_FLOW_RESOURCES';

export interface TerminationInfo {
  termCause: TerminationCause;
  resUri: string;
}

export const API_BASE = '/npcf-policyauthorization/v1';
