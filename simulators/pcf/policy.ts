/**
 * Policy decisions: from a media component to the QoS of its bearer (5QI, ARP, MBR, GBR, filters),
 * and the authorisation of those decisions against the subscriber's plan.
 */
import { sharedArps, sharedNumberLists } from '../common/shared.ts';
import type { Arp, Subscriber } from './bearer-client.ts';
import type { AppSessionContextReqData, MediaComponent } from './n5-types.ts';
import { DEFAULT_ARP, type PlanPolicy, type QosReferenceEntry } from './options.ts';
import { ProblemError, type AcceptableServiceInfo } from './problem.ts';

/** What this PCF decided for one media component: one bearer's worth of QoS. Bit rates in bit/s. */
export interface QosDecision {
  medCompN: number;
  fNums: readonly number[];
  fiveQi: number;
  arp: Arp;
  /** Requested maximum bit rates; undefined when the AF gave none (the plan's cap applies). */
  mbrUl?: number;
  mbrDl?: number;
  gbrUl?: number;
  gbrDl?: number;
  flowDescriptions: string[];
}

/** A decision the plan allowed: the MBR is always known. */
export type AuthorisedDecision = QosDecision & { mbrUl: number; mbrDl: number };

/** TS 23.501 Table 5.7.4-1: GBR and delay-critical GBR 5QIs (these need a guaranteed bit rate). */
const GBR_5QIS = new Set([1, 2, 3, 4, 65, 66, 67, 71, 72, 73, 74, 75, 76, 82, 83, 84, 85, 86, 87, 88, 89, 90]);
export const isGbr5qi = (fiveQi: number): boolean => GBR_5QIS.has(fiveQi);

const UNITS = [
  ['Tbps', 1e12],
  ['Gbps', 1e9],
  ['Mbps', 1e6],
  ['Kbps', 1e3],
  ['bps', 1],
] as const;

/** TS 29.571 BitRate ("4 Mbps"; K, M, G, T are ×1000) → bit/s. */
export function parseBitRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?) (bps|Kbps|Mbps|Gbps|Tbps)$/.exec(text);
  if (!m) throw new TypeError(`not a BitRate: ${text}`);
  return Math.round(Number(m[1]) * UNITS.find(([u]) => u === m[2])![1]);
}

/** bit/s → the shortest TS 29.571 BitRate. */
export function formatBitRate(bps: number): string {
  const [unit, factor] = UNITS.find(([, f]) => bps >= f) ?? UNITS[UNITS.length - 1];
  return `${Number((bps / factor).toFixed(3))} ${unit}`;
}

/**
 * ReservPriority (TS 29.514 §5.6.3.x: `PRIO_1` lowest, the default, … `PRIO_16` highest) → ARP
 * priority level (1 best … 15). No standard mapping exists; this one, level = 17 − n, is the inverse
 * of the usual AF side (PRIO_16 ↔ 1, PRIO_2 ↔ 15) and puts PRIO_1 at 15 too.
 */
function priorityLevelOf(resPrio: string | undefined): number | undefined {
  const m = /^PRIO_(\d{1,2})$/.exec(resPrio ?? '');
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 16 ? Math.min(15, 17 - n) : undefined;
}

export class PolicyEngine {
  constructor(
    private readonly qosReferences: Record<string, QosReferenceEntry>,
    private readonly plans: Record<string, PlanPolicy | null>,
  ) {}

  /** One decision per media component that is not REMOVED. Rejects service information it cannot map. */
  decide(data: AppSessionContextReqData): QosDecision[] {
    return Object.values(data.medComponents ?? {})
      .filter((mc) => mc.fStatus !== 'REMOVED')
      .map((mc) => this.decideComponent(mc, data));
  }

  /**
   * TS 29.514 §4.2.2.2: service information the operator policy rejects → 403
   * REQUESTED_SERVICE_NOT_AUTHORIZED, with `acceptableServInfo` when a lower bit rate would do.
   */
  authorise(subscriber: Subscriber, decisions: QosDecision[]): AuthorisedDecision[] {
    const plan = this.plans[subscriber.plan];
    if (!plan) throw new ProblemError('REQUESTED_SERVICE_NOT_AUTHORIZED', `the subscriber's plan ${subscriber.plan} includes no QoS on demand`);
    if (subscriber.qosEligible === false) throw new ProblemError('REQUESTED_SERVICE_NOT_AUTHORIZED', 'the subscriber is not eligible for QoS on demand');
    const refused = decisions.filter((d) => !plan.allowedFiveQis.includes(d.fiveQi));
    if (refused.length) {
      throw new ProblemError('REQUESTED_SERVICE_NOT_AUTHORIZED', `5QI ${refused.map((d) => d.fiveQi).join(', ')} not allowed by plan ${subscriber.plan}`);
    }
    const cap = plan.maxBitRatePerDirection;
    const totalUl = decisions.reduce((s, d) => s + (d.mbrUl ?? 0), 0);
    const totalDl = decisions.reduce((s, d) => s + (d.mbrDl ?? 0), 0);
    if (totalUl > cap || totalDl > cap) {
      throw new ProblemError(
        'REQUESTED_SERVICE_NOT_AUTHORIZED',
        `requested ${formatBitRate(totalUl)} up / ${formatBitRate(totalDl)} down; plan ${subscriber.plan} allows ${formatBitRate(cap)} per direction`,
        { acceptableServInfo: acceptable(decisions, cap, totalUl, totalDl) },
      );
    }
    return decisions.map((d) => ({ ...d, mbrUl: d.mbrUl ?? cap, mbrDl: d.mbrDl ?? cap }));
  }

  private decideComponent(mc: MediaComponent, data: AppSessionContextReqData): QosDecision {
    const at = `/ascReqData/medComponents/${mc.medCompN}`;
    const entry = this.profileOf(mc, at);
    const subComps = Object.values(mc.medSubComps ?? {}).filter((sc) => sc && sc.fStatus !== 'REMOVED');
    const sumOf = (k: 'marBwUl' | 'marBwDl') => (subComps.some((sc) => sc[k]) ? subComps.reduce((s, sc) => s + (sc[k] ? parseBitRate(sc[k]) : 0), 0) : undefined);
    const rate = (v: string | undefined) => (v === undefined ? undefined : parseBitRate(v));
    const decision: QosDecision = {
      medCompN: mc.medCompN,
      fNums: sharedNumberLists.of(subComps.map((sc) => sc.fNum).sort((a, b) => a - b)),
      fiveQi: entry.fiveQi,
      arp: sharedArps.of({
        priorityLevel: priorityLevelOf(mc.resPrio ?? data.resPrio) ?? entry.arp.priorityLevel,
        preemptCap: mc.preemptCap === 'MAY_PREEMPT' || mc.preemptCap === 'NOT_PREEMPT' ? mc.preemptCap : entry.arp.preemptCap,
        preemptVuln: mc.preemptVuln === 'PREEMPTABLE' || mc.preemptVuln === 'NOT_PREEMPTABLE' ? mc.preemptVuln : entry.arp.preemptVuln,
      }),
      mbrUl: rate(mc.marBwUl) ?? sumOf('marBwUl'),
      mbrDl: rate(mc.marBwDl) ?? sumOf('marBwDl'),
      flowDescriptions: subComps.flatMap((sc) => sc.fDescs ?? []),
    };
    // No flow information from the AF (allowed: medSubComps is optional): the rule covers all the UE's traffic.
    if (decision.flowDescriptions.length === 0) {
      const ue = data.ueIpv4 ?? data.ueIpv6 ?? 'any';
      decision.flowDescriptions = [`permit out ip from any to ${ue}`, `permit in ip from ${ue} to any`];
    }
    // A GBR 5QI guarantees mirBw, or marBw when the AF gave no minimum; a non-GBR one guarantees nothing.
    if (isGbr5qi(entry.fiveQi)) {
      const gbrUl = rate(mc.mirBwUl) ?? decision.mbrUl;
      const gbrDl = rate(mc.mirBwDl) ?? decision.mbrDl;
      if (gbrUl === undefined && gbrDl === undefined) {
        throw new ProblemError('INVALID_SERVICE_INFORMATION', `5QI ${entry.fiveQi} is GBR: give marBwUl/marBwDl or mirBwUl/mirBwDl`, { invalidParams: [{ param: `${at}/marBwDl`, reason: 'required for a GBR QoS' }] });
      }
      decision.gbrUl = gbrUl ?? 0;
      decision.gbrDl = gbrDl ?? 0;
      for (const [dir, gbr, mbr] of [['Ul', decision.gbrUl, decision.mbrUl], ['Dl', decision.gbrDl, decision.mbrDl]] as const) {
        if (mbr !== undefined && gbr > mbr) throw new ProblemError('INVALID_SERVICE_INFORMATION', `mirBw${dir} exceeds marBw${dir}`, { invalidParams: [{ param: `${at}/mirBw${dir}`, reason: `greater than marBw${dir}` }] });
      }
    }
    return decision;
  }

  /** The operator's table, then `5qi-<n>`; without a qosReference the default non-GBR 5QI 9. */
  private profileOf(mc: MediaComponent, at: string): QosReferenceEntry {
    if (mc.qosReference === undefined) return { fiveQi: 9, arp: { ...DEFAULT_ARP } };
    const configured = this.qosReferences[mc.qosReference];
    if (configured) return configured;
    const m = /^5qi-(\d{1,3})$/i.exec(mc.qosReference);
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= 255) return { fiveQi: Number(m[1]), arp: { ...DEFAULT_ARP } };
    throw new ProblemError('INVALID_SERVICE_INFORMATION', `unknown qosReference ${JSON.stringify(mc.qosReference)}`, {
      invalidParams: [{ param: `${at}/qosReference`, reason: 'not a QoS reference configured in this PCF' }],
    });
  }
}

/** The most this plan would authorise, per direction and, in proportion, per media component. */
function acceptable(decisions: QosDecision[], cap: number, totalUl: number, totalDl: number): AcceptableServiceInfo {
  const share = (v: number | undefined, total: number) => formatBitRate(Math.floor(total > cap ? ((v ?? 0) * cap) / total : (v ?? 0)));
  return {
    accBwMedComps: Object.fromEntries(
      decisions.map((d) => [String(d.medCompN), { medCompN: d.medCompN, marBwUl: share(d.mbrUl, totalUl), marBwDl: share(d.mbrDl, totalDl) }]),
    ),
    marBwUl: formatBitRate(Math.min(totalUl, cap)),
    marBwDl: formatBitRate(Math.min(totalDl, cap)),
  };
}
