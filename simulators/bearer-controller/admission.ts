/**
 * Radio admission control at one cell, as pure functions over the cell and its ESTABLISHED bearers.
 * Only GBR bearers consume the GBR budget; non-GBR ones are admitted while the cell is UP.
 */
import type { Arp, Bearer, Cell, CellLoad, ResourceType } from './types.ts';

/** TS 23.501 Table 5.7.4-1 (and TS 23.203 Table 6.1.7-A for QCI 65–67, 75): standardised GBR values. */
const GBR = new Set([1, 2, 3, 4, 65, 66, 67, 71, 72, 73, 74, 75, 76]);
/** TS 23.501 Table 5.7.4-1: delay-critical GBR, admitted like GBR. */
const DELAY_CRITICAL_GBR = new Set([82, 83, 84, 85, 86, 87, 88, 89, 90]);

export function resourceTypeOf(fiveQi: number): ResourceType {
  if (GBR.has(fiveQi)) return 'GBR';
  if (DELAY_CRITICAL_GBR.has(fiveQi)) return 'DELAY_CRITICAL_GBR';
  return 'NON_GBR';
}

export function isGbr(bearer: Pick<Bearer, 'resourceType'>): boolean {
  return bearer.resourceType !== 'NON_GBR';
}

/** The load of a cell given the bearers of its UEs (any state; only ESTABLISHED ones count). */
export function loadOf(bearers: Iterable<Bearer>): CellLoad {
  const load: CellLoad = { gbrUl: 0, gbrDl: 0, gbrBearers: 0, nonGbrBearers: 0, pendingBearers: 0 };
  for (const b of bearers) {
    if (b.state === 'PENDING') load.pendingBearers++;
    if (b.state !== 'ESTABLISHED') continue;
    if (!isGbr(b)) {
      load.nonGbrBearers++;
      continue;
    }
    load.gbrUl += b.gbrUl;
    load.gbrDl += b.gbrDl;
    load.gbrBearers++;
  }
  return load;
}

/** Σ GBR ≤ threshold × capacity × congestion factor, UL and DL apart, and the bearer-count cap. */
function fits(cell: Cell, load: CellLoad): boolean {
  const share = cell.admissionThreshold * cell.congestionFactor;
  return load.gbrUl <= share * cell.capacityUl && load.gbrDl <= share * cell.capacityDl && load.gbrBearers <= cell.maxGbrBearers;
}

function plus(load: CellLoad, b: Bearer, sign: 1 | -1): CellLoad {
  return { ...load, gbrUl: load.gbrUl + sign * b.gbrUl, gbrDl: load.gbrDl + sign * b.gbrDl, gbrBearers: load.gbrBearers + sign };
}

/**
 * Lowest ARP priority (highest level) first; among equals the most recently requested first.
 * Arrays given to this module are in request order, and Array#sort is stable.
 */
function lowestPriorityFirst(bearers: Bearer[]): Bearer[] {
  return [...bearers].reverse().sort((a, b) => b.arp.priorityLevel - a.arp.priorityLevel);
}

/** May `newcomer` pre-empt `victim`? TS 23.501 §5.7.2.2: capability, vulnerability, strictly worse level. */
function mayPreempt(newcomer: Arp, victim: Arp): boolean {
  return newcomer.preemptCap === 'MAY_PREEMPT' && victim.preemptVuln === 'PREEMPTABLE' && victim.priorityLevel > newcomer.priorityLevel;
}

export type Admission = { admitted: true; victims: Bearer[] } | { admitted: false };

/**
 * Admits a GBR newcomer at `cell`, pre-empting as few bearers as needed, lowest priority first
 * (TS 23.401 §4.7.3, TS 36.413 §8.2.1: E-RAB set-up may release others "due to pre-emption").
 * When even all eligible victims would not make room, nothing is pre-empted.
 */
export function admit(cell: Cell, established: Bearer[], newcomer: Bearer): Admission {
  let load = plus(loadOf(established), newcomer, 1);
  if (fits(cell, load)) return { admitted: true, victims: [] };
  const candidates = lowestPriorityFirst(established.filter((b) => isGbr(b) && mayPreempt(newcomer.arp, b.arp)));
  const victims: Bearer[] = [];
  for (const victim of candidates) {
    victims.push(victim);
    load = plus(load, victim, -1);
    if (fits(cell, load)) return { admitted: true, victims };
  }
  return { admitted: false };
}

/**
 * The GBR bearers to drop so the rest fit a congested cell: lowest ARP priority first, PREEMPTABLE
 * before NOT_PREEMPTABLE at the same level (TS 23.401 §4.7.3: ARP decides which bearers to drop
 * during exceptional resource limitations).
 */
export function shedForCongestion(cell: Cell, established: Bearer[]): Bearer[] {
  const vulnerable = (b: Bearer) => Number(b.arp.preemptVuln === 'PREEMPTABLE');
  const order = lowestPriorityFirst(established.filter(isGbr)).sort(
    (a, b) => b.arp.priorityLevel - a.arp.priorityLevel || vulnerable(b) - vulnerable(a),
  );
  let load = loadOf(established);
  const dropped: Bearer[] = [];
  for (const b of order) {
    if (fits(cell, load)) break;
    dropped.push(b);
    load = plus(load, b, -1);
  }
  return dropped;
}

/**
 * Handover resource allocation at the target (TS 36.413 §8.4.2): each GBR E-RAB is admitted or
 * listed as "not admitted", best ARP priority first; no pre-emption at the target. Returns the
 * rejected ones; non-GBR bearers are always admitted.
 */
export function rejectedAtTarget(target: Cell, establishedAtTarget: Bearer[], moving: Bearer[]): Bearer[] {
  let load = loadOf(establishedAtTarget);
  const rejected: Bearer[] = [];
  const bestFirst = (a: Bearer, b: Bearer) => a.arp.priorityLevel - b.arp.priorityLevel;
  for (const b of moving.filter((m) => m.state === 'ESTABLISHED' && isGbr(m)).sort(bestFirst)) {
    const next = plus(load, b, 1);
    if (fits(target, next)) load = next;
    else rejected.push(b);
  }
  return rejected;
}
