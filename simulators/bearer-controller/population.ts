/**
 * The subscriber population: `+8613900000000` to `+8613900009999`, derived from the index i (the
 * last four digits) until something changes a UE; only changed UEs are stored.
 */
import { hashUnit } from '../common/prng.ts';
import type { Plan, RrcState, SimView, SubscriberView } from './types.ts';

export const POPULATION_SIZE = 10_000;
/** Indexes from here on have the IoT plan, which has no QoS. */
export const IOT_FROM = 9000;
/** Share of UEs in RRC CONNECTED at start; the rest are IDLE. */
const CONNECTED_SHARE = 0.3;
const MSISDN = /^\+861390000(\d{4})$/;
const UE_IPV4 = /^10\.45\.(0|[1-9]\d?)\.([1-9]\d{0,2})$/;
const DAY_MS = 86_400_000;
/** First SIMs were activated 1 to 3 years before the simulator started. */
const ACTIVATION_MIN_AGE_MS = 365 * DAY_MS;
const ACTIVATION_SPREAD_MS = 2 * 365 * DAY_MS;
/**
 * Keys of the activation-date draws start here, apart from the RRC-state keys (0..9999), so the
 * two derived values of a UE are independent.
 */
const ACTIVATION_KEYS = POPULATION_SIZE;

/** What can change about a UE. */
export interface UeState {
  attached: boolean;
  cellId: string;
  rrcState: RrcState;
  /** SIMs the number was given after its first one: 0 until its first SIM swap. */
  simSwaps: number;
  /** When the current SIM was paired with the number (ms since the epoch). */
  simPairedAt: number;
}

/** The numbers and addresses, each made once: bearers and views of the same UE share them. */
const msisdns: string[] = [];
const ipv4s: string[] = [];

export function msisdnOf(i: number): string {
  return (msisdns[i] ??= `+861390000${String(i).padStart(4, '0')}`);
}

/** The UE address of the PDU session (no NAT): 10.45.<i/250>.<i%250+1>. */
export function ipv4Of(i: number): string {
  return (ipv4s[i] ??= `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

/**
 * The IMSI of the number's current SIM: MCC 460, MNC 00, and an MSIN (TS 23.003 §2.2) that is i for
 * the first SIM and `swaps × 10 000 + i` after a swap, so no two SIMs ever share one.
 */
export function imsiOf(i: number, simSwaps: number): string {
  return `46000${String(simSwaps * POPULATION_SIZE + i).padStart(10, '0')}`;
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
  /** Hear about every change: a UE's index, or undefined when every UE went back to its initial state. */
  private readonly listeners: Array<(i: number | undefined) => void> = [];

  /**
   * @param startedAt when the simulator started (ms since the epoch, whole seconds): first
   *   activation dates are drawn back from it, so they stay the same across resets.
   */
  constructor(
    private readonly seed: number,
    private readonly cellCount: number,
    private readonly startedAt: number,
  ) {}

  /** The UE's current state; a copy, change it with {@link update}. */
  state(i: number): UeState {
    return { ...(this.changed.get(i) ?? this.initial(i)) };
  }

  update(i: number, patch: Partial<UeState>): UeState {
    const next = { ...this.state(i), ...patch };
    this.changed.set(i, next);
    for (const listener of this.listeners) listener(i);
    return { ...next };
  }

  /** Runs `listener` after every {@link update} (with the UE's index) and {@link clear} (with undefined). */
  onChange(listener: (i: number | undefined) => void): void {
    this.listeners.push(listener);
  }

  view(i: number): SubscriberView {
    const { attached, cellId, rrcState, simSwaps } = this.state(i);
    const plan: Plan = i >= IOT_FROM ? 'IOT' : 'STANDARD';
    return {
      msisdn: msisdnOf(i),
      imsi: imsiOf(i, simSwaps),
      ...(attached ? { ipv4: ipv4Of(i) } : {}),
      plan,
      qosEligible: plan !== 'IOT',
      attached,
      cellId,
      rrcState,
    };
  }

  /** The number's current SIM: when it was paired with the number, and whether it replaced another. */
  sim(i: number): SimView {
    const { simSwaps, simPairedAt } = this.state(i);
    return { msisdn: msisdnOf(i), imsi: imsiOf(i, simSwaps), latestSimChange: new Date(simPairedAt).toISOString(), swapped: simSwaps > 0 };
  }

  /** Indexes of the UEs whose state differs from the initial one (or did once). */
  changedIndexes(): number[] {
    return [...this.changed.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.changed.clear();
    for (const listener of this.listeners) listener(undefined);
  }

  private initial(i: number): UeState {
    return {
      attached: true,
      cellId: `cell-${i % this.cellCount}`,
      rrcState: hashUnit(this.seed, i) < CONNECTED_SHARE ? 'CONNECTED' : 'IDLE',
      simSwaps: 0,
      simPairedAt: this.activatedAt(i),
    };
  }

  /** When the number's first SIM was activated: seeded per index, to the second. */
  private activatedAt(i: number): number {
    const spreadSeconds = Math.floor((hashUnit(this.seed, ACTIVATION_KEYS + i) * ACTIVATION_SPREAD_MS) / 1000);
    return this.startedAt - ACTIVATION_MIN_AGE_MS - spreadSeconds * 1000;
  }
}
