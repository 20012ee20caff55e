import { randomUUID } from 'node:crypto';
import type { QosController, QosFlowEvent, QosFlowRequest, Subscriber, SubscriberIdentity } from '../../adapters/ports.ts';
import type { ConnectedSouthbound } from '../../src/southbound.ts';

/** Phone numbers of the stub's subscribers: +8613800000000 + i, every one QoS-eligible. */
export const stubPhone = (i: number): string => `+86138${String(i).padStart(8, '0')}`;

/** Where the stub pretends its PCF is: its references look like the N5 adapter's (`{apiRoot}/app-sessions/{uuid}`). */
const PCF_API_ROOT = 'http://127.0.0.1:7777/npcf-policyauthorization/v1';

/**
 * A network behind the southbound ports that answers at once, for measuring what the gateway keeps
 * in Redis: as many distinct subscribers as asked for (the simulated network has 9000 with QoS and
 * admits 11 flows each, fewer than 100,000 sessions need), and every flow ALLOCATED right after it
 * is requested, as the N5 adapter reports a PCF's SUCCESSFUL_RESOURCES_ALLOCATION. Neither port
 * keeps anything in Redis, so the stub changes nothing there.
 */
export function stubSouthbound(): ConnectedSouthbound {
  let handler: ((e: QosFlowEvent) => Promise<void>) | undefined;
  const subscriber = (i: number): Subscriber => ({
    msisdn: stubPhone(i),
    ipv4: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    qosEligible: true,
    attached: true,
  });
  const identity: SubscriberIdentity = {
    async byMsisdn(msisdn) {
      const m = /^\+86138(\d{8})$/.exec(msisdn);
      return m ? subscriber(Number(m[1])) : undefined;
    },
    async byIpv4() {
      return undefined;
    },
    async byIpv6() {
      return undefined;
    },
  };
  const qos: QosController = {
    async create(request: QosFlowRequest) {
      const networkRef = `${PCF_API_ROOT}/app-sessions/${randomUUID()}`;
      setImmediate(() => void handler?.({ flowId: request.flowId, kind: 'ALLOCATED', networkRef, at: new Date().toISOString() }).catch(() => {}));
      return { networkRef };
    },
    async delete() {},
    onEvent(h) {
      handler = h;
    },
    async close() {},
  };
  return { qos, identity, close: async () => {} };
}
