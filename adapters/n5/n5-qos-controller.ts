import { QosRefusedError, type QosController, type QosFlowEvent, type QosFlowRequest } from '../ports.ts';
import { H2cClient, H2TransportError } from './h2c-client.ts';
import { N5CallbackServer } from './callback-server.ts';

export interface N5Options {
  /** The PCF's apiRoot, e.g. http://pcf.5gc:7777 (h2c). */
  pcfApiRoot: string;
  /** Where the PCF reaches our callback server, e.g. http://10.0.0.5:9190 (h2c). */
  callbackBase: string;
  /** Port our callback server listens on (0: any). */
  callbackPort: number;
  callbackHost?: string;
  /** DNN of the subscribers' PDU sessions. @defaultValue 'internet' */
  dnn?: string;
  /** AF application identifier sent to the PCF. @defaultValue 'exposure-gateway' */
  afAppId?: string;
  timeoutMs?: number;
}

const API = '/npcf-policyauthorization/v1';

/** TS 29.514 §5.6.3.3 ReservPriority: PRIO_1 lowest … PRIO_16 highest; ARP level 1 is the best. */
export function reservPriority(arpLevel: number): string {
  return `PRIO_${Math.min(16, Math.max(1, 17 - arpLevel))}`;
}

/** Pairs of flow descriptions (downlink, uplink) become one media sub-component each (TS 29.514: at most two fDescs). */
function mediaSubComponents(flowDescriptions: string[]): Record<string, unknown> {
  const subs: Record<string, unknown> = {};
  for (let i = 0; i < flowDescriptions.length; i += 2) {
    const fNum = i / 2 + 1;
    subs[String(fNum)] = { fNum, fDescs: flowDescriptions.slice(i, i + 2), fStatus: 'ENABLED', flowUsage: 'NO_INFO' };
  }
  return subs;
}

/**
 * The QoS controller over N5 (TS 29.514 Npcf_PolicyAuthorization): one Individual Application
 * Session Context per QoD session, with one media component carrying the profile's
 * `qosReference` and bit rates, and a subscription to the allocation outcome and QoS notifications.
 */
export class N5QosController implements QosController {
  private readonly client: H2cClient;
  private readonly callbacks: N5CallbackServer;
  private handler: (event: QosFlowEvent) => Promise<void> = async () => {};

  constructor(private options: N5Options) {
    this.client = new H2cClient(new URL(options.pcfApiRoot).origin, options.timeoutMs ?? 5000);
    this.callbacks = new N5CallbackServer((e) => this.handler(e));
  }

  /** Starts the callback server the PCF notifies (`/notify`, `/terminate`). */
  async listen(): Promise<number> {
    return this.callbacks.listen(this.options.callbackPort, this.options.callbackHost ?? '127.0.0.1');
  }

  /** The base of the notification URIs given to the PCF (known once the callback server listens). */
  setCallbackBase(base: string): void {
    this.options.callbackBase = base.replace(/\/+$/, '');
  }

  onEvent(handler: (event: QosFlowEvent) => Promise<void>): void {
    this.handler = handler;
  }

  appSessionContext(r: QosFlowRequest): unknown {
    const notifUri = `${this.options.callbackBase}/flows/${encodeURIComponent(r.flowId)}`;
    const q = r.qos;
    const medComponent: Record<string, unknown> = {
      medCompN: 1,
      medType: 'DATA',
      qosReference: q.qosReference,
      fStatus: 'ENABLED',
      marBwUl: q.mbrUl,
      marBwDl: q.mbrDl,
      preemptCap: q.arp.preemptCap,
      preemptVuln: q.arp.preemptVuln,
      resPrio: reservPriority(q.arp.priorityLevel),
      medSubComps: mediaSubComponents(r.flowDescriptions),
    };
    if (q.gbrUl) medComponent.mirBwUl = q.gbrUl;
    if (q.gbrDl) medComponent.mirBwDl = q.gbrDl;
    return {
      ascReqData: {
        afAppId: this.options.afAppId ?? 'exposure-gateway',
        dnn: this.options.dnn ?? 'internet',
        notifUri,
        suppFeat: '0',
        ...(r.ueIpv4 ? { ueIpv4: r.ueIpv4 } : { ueIpv6: r.ueIpv6 }),
        medComponents: { '1': medComponent },
        evSubsc: {
          notifUri,
          events: ['SUCCESSFUL_RESOURCES_ALLOCATION', 'FAILED_RESOURCES_ALLOCATION', 'QOS_NOTIF', 'USAGE_REPORT'].map((event) => ({ event, notifMethod: 'EVENT_DETECTION' })),
        },
      },
    };
  }

  async create(r: QosFlowRequest): Promise<{ networkRef: string }> {
    const res = await this.client.request('POST', `${API}/app-sessions`, this.appSessionContext(r));
    const location = res.headers.location;
    // 201 Created, or 303 See Other: an equivalent context exists already (our retry after a crash).
    if ((res.status === 201 || res.status === 303) && typeof location === 'string') return { networkRef: new URL(location, this.options.pcfApiRoot).href };
    const cause = (res.body as { cause?: string } | undefined)?.cause ?? `HTTP ${res.status}`;
    if (res.status === 403) throw new QosRefusedError('NOT_AUTHORIZED', `PCF refused the flow: ${cause}`);
    if (cause === 'PDU_SESSION_NOT_AVAILABLE') throw new QosRefusedError('UE_NOT_CONNECTED', 'the UE has no PDU session');
    if (res.status === 400) throw new QosRefusedError('INVALID_REQUEST', `PCF rejected the request: ${cause}`);
    throw new H2TransportError(`PCF answered ${res.status} (${cause})`);
  }

  /**
   * TS 29.514 §4.2.4: deletion is POST {appSessionUri}/delete; an unknown context is already gone.
   * Only the URI's path is used, on our own connection to `pcfApiRoot`: nothing is ever sent to
   * another host, yet a context whose Location names another authority (the PCF's own FQDN, a proxy
   * or SCP in between) is still released instead of leaking.
   */
  async delete(networkRef: string): Promise<void> {
    const url = new URL(networkRef);
    if (!url.pathname.startsWith(`${API}/app-sessions/`)) return; // not a context of this API
    const res = await this.client.request('POST', `${url.pathname}/delete`);
    if (res.status === 204 || res.status === 200 || res.status === 404) return;
    throw new H2TransportError(`PCF answered ${res.status} to delete`);
  }

  async close(): Promise<void> {
    this.client.close();
    await this.callbacks.close();
  }
}
