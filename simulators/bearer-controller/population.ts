/**
 * The subscriber population: `+8613900000000` to `+8613900009999`, derived from the index i (the
 * last four digits) until something changes a UE; only changed UEs are stored.
 */
import { hashUnit } from './prng.ts';
import type { Plan, RrcState, SubscriberView } from './types.ts';

export const POPULATION_SIZE = 10_000;
/** Indexes from here on have the IoT plan, which has no QoS. */
export const IOT_FROM = 9000;
/** Share of UEs in RRC CONNECTED at start; the rest are IDLE. */
const CONNECTED_SHARE = 0.3;
const MSISDN = /^\+861390000(\d{4})$/;
const UE_IPV4 = /^10\.45\.(0|[1-9]\d?)\.([1-9]\d{0,2})$/;

/** What can change about a UE. */
export interface UeState {
  attached: boolean;
  cellId: string;
  rrcState: RrcState;
}

export function msisdnOf(i: number): string {
  return `+861390000${String(i).padStart(4, '0')}`;
}

/** The UE address of the PDU session (no NAT): 10.45.<i/250>.<i%250+1>. */
export function ipv4Of(i: number): string {
  return `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function indexOfMsisdn(msisdn: string): number | undefined {
  const m = MSISDN.exec(msisdn);
  return m ? Number(m[1]) : undefined;
}

/** The index whose UE would hold this address, attached or not. */
export function indexOfIpv4(address: string): number | undefined {
  const m = UE_IPV4.exec(address);
  if (!m) return undefined;
  const host = Number(m[2]);
  const i = Number(m[1]) * 250 + host - 1;
  return host <= 250 && i < POPULATION_SIZE ? i : undefined;
}

export class Population {
  private readonly changed = new Map<number, UeState>();

  constructor(
    private readonly seed: number,
    private readonly cellCount: number,
  ) {}

  /** The UE's current state; a copy, change it with {@link update}. */
  state(i: number): UeState {
    return { ...(this.changed.get(i) ?? this.initial(i)) };
  }

  update(i: number, patch: Partial<UeState>): UeState {
    const next = { ...this.state(i), ...patch };
    this.changed.set(i, next);
    return { ...next };
  }

  view(i: number): SubscriberView {
    const { attached, cellId, rrcState } = this.state(i);
    const plan: Plan = i >= IOT_FROM ? 'IOT' : 'STANDARD';
    return {
      msisdn: msisdnOf(i),
      imsi: `46000${String(i).padStart(10, '0')}`,
      ...(attached ? { ipv4: ipv4Of(i) } : {}),
      plan,
      qosEligible: plan !== 'IOT',
      attached,
      cellId,
      rrcState,
    };
  }

  /** Indexes of the UEs whose state differs from the initial one (or did once). */
  changedIndexes(): number[] {
    return [...this.changed.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.changed.clear();
  }

  private initial(i: number): UeState {
    return {
      attached: true,
      cellId: `cell-${i % this.cellCount}`,
      rrcState: hashUnit(this.seed, i) < CONNECTED_SHARE ? 'CONNECTED' : 'IDLE',
    };
  }
}
