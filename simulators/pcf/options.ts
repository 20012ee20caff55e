/**
 * Options of the PCF simulator, with their defaults spread in one place ({@link resolveOptions}).
 */
import type { Arp } from './bearer-client.ts';
import type { InProcessBearerController } from './local-bearers.ts';
import { consoleLogger, type PcfLogger } from './log.ts';

/** What the operator configured for one `qosReference` (TS 29.514 §4.2.2.32: an operator-defined name). */
export interface QosReferenceEntry {
  fiveQi: number;
  arp: Arp;
}

/** What a subscriber's plan allows. `null`: the plan has no QoS on demand at all. */
export interface PlanPolicy {
  /** 5QIs an AF may obtain. */
  allowedFiveQis: number[];
  /** Cap on the sum of the requested bit rates of an app session, per direction, bit/s. */
  maxBitRatePerDirection: number;
}

/** How notifications reach the AF. `http://` alone cannot tell h2c from HTTP/1.1, so it is configured. */
export type CallbackProtocol = 'h2c' | 'http1';

export interface PcfOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** Only loopback is supported. @defaultValue '127.0.0.1' */
  host?: '127.0.0.1';
  /** Base URL of the bearer controller's HTTP/1.1 API, e.g. `http://127.0.0.1:9101`. */
  bearerControllerUrl: string;
  /**
   * The same bearer controller when it runs in this process (its start-up handle): the PCF then
   * calls its model and takes its events directly, as the simulated network does. @defaultValue none: HTTP
   */
  bearerController?: InProcessBearerController;
  /** `{apiRoot}` of Location headers and resource URIs. @defaultValue the listener's own `http://127.0.0.1:PORT` */
  apiRoot?: string;
  /** `qosReference → {fiveQi, arp}`. @defaultValue {@link DEFAULT_QOS_REFERENCES}; `5qi-<n>` always works */
  qosReferences?: Record<string, QosReferenceEntry>;
  /** Policy per subscriber plan. @defaultValue {@link DEFAULT_PLANS} */
  plans?: Record<string, PlanPolicy | null>;
  /** Multiplies every delay (policy processing, notification back-off). @defaultValue 1 */
  timeScale?: number;
  /** Protocol for `/notify` and `/terminate` callbacks, or a choice per URI. @defaultValue 'h2c' */
  callbackProtocol?: CallbackProtocol | ((uri: URL) => CallbackProtocol);
  /** Port of the HTTP/1.1 listener for bearer notifications. @defaultValue 0 (a free port) */
  bearerEventsPort?: number;
  /**
   * Folder holding the 3GPP OpenAPI files (TS29514_Npcf_PolicyAuthorization.yaml and its references);
   * `null` forces the built-in structural checks. @defaultValue env PCF_ANCHORS_DIR, else /work/shared/anchors/3gpp
   */
  anchorsDir?: string | null;
  /**
   * Features this PCF negotiates (TS 29.500 §6.6 hex bitmask); the answer is the AND with the AF's.
   * @defaultValue undefined: every feature the AF offers is echoed back
   */
  supportedFeatures?: string;
  /** Attempts per AF notification before it is dropped. @defaultValue 5 */
  notifyAttempts?: number;
  /** Start with the SBI listener stopped (connections refused) until `start()`. @defaultValue false */
  startStopped?: boolean;
  /** @defaultValue JSON lines on stderr */
  log?: PcfLogger;
}

/**
 * A default operator table for the CAMARA example profiles, the same one the gateway's default QoS
 * profiles assume (a deployment provisions both sides alike): all GBR (TS 23.501 Table 5.7.4-1:
 * 5QI 3 real-time, 2 conversational video, 4 buffered streaming), prioritised but not pre-empting.
 */
export const DEFAULT_QOS_REFERENCES: Readonly<Record<string, QosReferenceEntry>> = {
  QOS_E: { fiveQi: 3, arp: { priorityLevel: 6, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
  QOS_S: { fiveQi: 2, arp: { priorityLevel: 7, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
  QOS_M: { fiveQi: 2, arp: { priorityLevel: 8, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
  QOS_L: { fiveQi: 4, arp: { priorityLevel: 9, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
  QOS_LEGACY: { fiveQi: 4, arp: { priorityLevel: 10, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
};

/** ARP of `5qi-<n>` references and of media components without a `qosReference`. */
export const DEFAULT_ARP: Readonly<Arp> = { priorityLevel: 9, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' };

export const DEFAULT_PLANS: Readonly<Record<string, PlanPolicy | null>> = {
  STANDARD: {
    allowedFiveQis: [1, 2, 3, 4, 5, 6, 7, 8, 9, 65, 66, 67, 69, 70, 79, 80, 82, 83, 84, 85],
    maxBitRatePerDirection: 100e6,
  },
  IOT: null,
};

export const DEFAULT_ANCHORS_DIR = '/work/shared/anchors/3gpp';

export type ResolvedOptions = Required<Omit<PcfOptions, 'apiRoot' | 'supportedFeatures' | 'anchorsDir' | 'callbackProtocol' | 'bearerController'>> & {
  bearerController?: InProcessBearerController;
  apiRoot?: string;
  supportedFeatures?: string;
  anchorsDir: string | null;
  callbackProtocol: (uri: URL) => CallbackProtocol;
};

export function resolveOptions(options: PcfOptions): ResolvedOptions {
  if (!options?.bearerControllerUrl) throw new TypeError('startPcf: bearerControllerUrl is required');
  if ((options.host ?? '127.0.0.1') !== '127.0.0.1') throw new TypeError('startPcf: only 127.0.0.1 is supported');
  const protocol = options.callbackProtocol ?? 'h2c';
  return {
    port: 0,
    host: '127.0.0.1',
    timeScale: 1,
    bearerEventsPort: 0,
    notifyAttempts: 5,
    startStopped: false,
    log: consoleLogger,
    ...stripUndefined(options),
    bearerControllerUrl: options.bearerControllerUrl.replace(/\/+$/, ''),
    apiRoot: options.apiRoot?.replace(/\/+$/, ''),
    qosReferences: { ...DEFAULT_QOS_REFERENCES, ...options.qosReferences },
    plans: { ...DEFAULT_PLANS, ...options.plans },
    anchorsDir: options.anchorsDir === undefined ? (process.env.PCF_ANCHORS_DIR ?? DEFAULT_ANCHORS_DIR) : options.anchorsDir,
    callbackProtocol: typeof protocol === 'function' ? protocol : () => protocol,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
