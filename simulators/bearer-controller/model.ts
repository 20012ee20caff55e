/**
 * The network behind the PCF: cells, UEs and their dedicated bearers, with seeded, time-scaled
 * set-up delays. HTTP handlers and tests drive it; it reports outcomes through {@link onEvent}.
 */
import { between, mulberry32, type Prng } from '../common/prng.ts';
import { sharedArps } from '../common/shared.ts';
import { admit, isGbr, loadOf, resourceTypeOf } from './admission.ts';
import * as faults from './faults.ts';
import { withDefaults, type ModelOptions } from './options.ts';
import { indexOfIpv4, indexOfMsisdn, ipv4Of, msisdnOf, Population } from './population.ts';
import { SimulatorError } from './problems.ts';
import type { Bearer, BearerCause, BearerEvent, BearerRequest, Cell, CellLoad, RrcState, SetupTiming, SimView, SubscriberChange, SubscriberView } from './types.ts';

/** EPS bearer identities 5–15 (TS 24.007 §11.2.3.1.5): at most 11 bearers per UE. */
export const MAX_BEARERS_PER_UE = 11;
/** Ended bearers stay readable (GET, idempotent DELETE) until this many bearers are kept. */
const KEEP_BEARERS = 10_000;

export type BearerListener = (event: BearerEvent, notifyUrl: string) => void;

const copy = (b: Bearer): Bearer => structuredClone(b);

export class BearerControllerModel {
  readonly options: Readonly<ModelOptions>;
  /** When the model was built, to the second: first SIM activations are dated back from it. */
  readonly startedAt = Math.floor(Date.now() / 1000) * 1000;
  /** @internal */ readonly population: Population;
  /** @internal */ readonly cells = new Map<string, Cell>();
  private prng: Prng;
  /** Not reset by {@link reset}, so an id from before a reset never names a new bearer. */
  private nextId = 1;
  private readonly bearers = new Map<string, Bearer>();
  /** PENDING and ESTABLISHED bearers, in request order. */
  private readonly active = new Map<string, Bearer>();
  /** The active bearers of each UE (by MSISDN), so per-UE work does not scan every bearer. */
  private readonly activeByUe = new Map<string, Set<Bearer>>();
  /** Ended bearers still kept (for GET), oldest first: the first to be forgotten. */
  private readonly ended = new Set<string>();
  private readonly timers = new Map<string, () => void>();
  private readonly listeners: BearerListener[] = [];
  private readonly resetListeners: Array<() => void> = [];

  constructor(options: Partial<ModelOptions> = {}) {
    this.options = withDefaults(options);
    this.population = new Population(this.options.seed, this.options.cells, this.startedAt);
    this.prng = mulberry32(this.options.seed);
    this.buildCells();
  }

  onEvent(listener: BearerListener): void {
    this.listeners.push(listener);
  }

  /**
   * Runs `listener` synchronously after every change to a UE (`changed`) and on {@link reset}
   * (`reset`), before whatever caused it returns: a change is announced before it is acknowledged.
   */
  onSubscriberChange(listener: (change: Extract<SubscriberChange, { type: 'changed' | 'reset' }>) => void): void {
    this.population.onChange((i) => {
      const at = new Date().toISOString();
      listener(i === undefined ? { type: 'reset', at } : { type: 'changed', msisdn: msisdnOf(i), ipv4: ipv4Of(i), at });
    });
  }

  /** Runs `listener` on every {@link reset} (the notifier drops deliveries still under way). */
  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  subscriber(msisdn: string): SubscriberView {
    return this.population.view(this.indexOrThrow(msisdn));
  }

  /** The number's current SIM (the HSS/UDM's MSISDN ↔ IMSI pairing) and when it was paired. */
  sim(msisdn: string): SimView {
    return this.population.sim(this.indexOrThrow(msisdn));
  }

  /**
   * A SIM swap: the number moves to a new SIM, so the HSS/UDM pairs it with a new IMSI, at `at`
   * (now or in the past; a SIM history has no future entries, nor entries before the current
   * pairing). A real UE would register again with the new SIM; the simulator keeps it attached,
   * with the same address and bearers, since only the SIM history is read (CAMARA SIM Swap).
   */
  swapSim(msisdn: string, at: Date = new Date()): SimView {
    const i = this.indexOrThrow(msisdn);
    const when = at.getTime();
    if (!Number.isFinite(when) || when > Date.now()) throw new SimulatorError('INVALID_REQUEST', 'a SIM swap cannot be in the future');
    const { simSwaps, simPairedAt } = this.population.state(i);
    if (when < simPairedAt) {
      throw new SimulatorError('INVALID_REQUEST', `the current SIM was paired at ${new Date(simPairedAt).toISOString()}; a swap cannot come before it`);
    }
    this.population.update(i, { simSwaps: simSwaps + 1, simPairedAt: when });
    return this.population.sim(i);
  }

  /** The subscriber whose PDU session holds `address`; a detached UE holds none. */
  subscriberByIpv4(address: string): SubscriberView {
    const i = indexOfIpv4(address);
    if (i === undefined || !this.population.state(i).attached) {
      throw new SimulatorError('SUBSCRIBER_NOT_FOUND', `no UE holds ${address}`);
    }
    return this.population.view(i);
  }

  /**
   * Starts a dedicated bearer set-up (TS 23.401 §5.4.1). Binding is by UE address: without a PDU
   * session there is nothing to bind to (TS 29.514 Table 5.7.3-1: PDU_SESSION_NOT_AVAILABLE).
   */
  requestBearer(request: BearerRequest): Bearer {
    const i = indexOfIpv4(request.ueIpv4);
    const ue = i === undefined ? undefined : this.population.state(i);
    if (i === undefined || !ue?.attached) throw new SimulatorError('UE_NOT_FOUND', `no PDU session holds ${request.ueIpv4}`);
    const address = ipv4Of(i);
    // Every field is set here, the ones known later too, so that none is added to the object afterwards.
    const bearer: Bearer = {
      bearerId: `br-${this.nextId++}`,
      ueIpv4: address === request.ueIpv4 ? address : request.ueIpv4,
      msisdn: msisdnOf(i),
      cellId: ue.cellId,
      fiveQi: request.fiveQi,
      resourceType: resourceTypeOf(request.fiveQi),
      gbrUl: request.gbrUl ?? 0,
      gbrDl: request.gbrDl ?? 0,
      mbrUl: request.mbrUl,
      mbrDl: request.mbrDl,
      arp: sharedArps.of(request.arp),
      flowDescriptions: [...request.flowDescriptions],
      notifyUrl: request.notifyUrl,
      state: 'PENDING',
      setup: this.drawSetup(ue.rrcState),
      requestedAt: new Date().toISOString(),
      cause: undefined,
      establishedAt: undefined,
      endedAt: undefined,
    };
    this.bearers.set(bearer.bearerId, bearer);
    this.active.set(bearer.bearerId, bearer);
    let ofUe = this.activeByUe.get(bearer.msisdn);
    if (!ofUe) this.activeByUe.set(bearer.msisdn, (ofUe = new Set()));
    ofUe.add(bearer);
    this.prune();
    this.schedule(bearer);
    return copy(bearer);
  }

  getBearer(bearerId: string): Bearer {
    return copy(this.bearerOrThrow(bearerId));
  }

  /** Releases a bearer the PCF no longer wants; idempotent, and never notified back. */
  deleteBearer(bearerId: string): void {
    const bearer = this.bearerOrThrow(bearerId);
    if (this.active.has(bearerId)) this.end(bearer, 'RELEASED_BY_REQUEST', { notify: false, state: 'RELEASED' });
  }

  cell(cellId: string): Cell & { load: CellLoad } {
    const cell = this.cellOrThrow(cellId);
    return { ...cell, load: loadOf(this.bearersIn(cellId)) };
  }

  /** Every cell with its load and bearers, and every UE that changed, for debugging and tests. */
  snapshot() {
    const { seed, timeScale } = this.options;
    return {
      seed,
      timeScale,
      cells: [...this.cells.keys()].map((id) => ({ ...this.cell(id), bearers: this.bearersIn(id).map(copy) })),
      ues: this.population.changedIndexes().map((i) => {
        const { latestSimChange, swapped } = this.population.sim(i);
        return { ...this.population.view(i), latestSimChange, swapped };
      }),
    };
  }

  /**
   * Back to the initial state: cells, UEs (SIM swaps too) and the random stream (bearer ids keep
   * counting; first activation dates stay, as they come from {@link startedAt}).
   */
  reset(): void {
    this.close();
    this.bearers.clear();
    this.active.clear();
    this.activeByUe.clear();
    this.ended.clear();
    this.population.clear();
    this.prng = mulberry32(this.options.seed);
    this.buildCells();
    for (const listener of this.resetListeners) listener();
  }

  /** Cancels every pending set-up timer; safe to call twice. */
  close(): void {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }

  detach = (msisdn: string) => this.control(msisdn, faults.detach);
  attach = (msisdn: string) => this.control(msisdn, faults.attach);
  radioLinkFailure = (msisdn: string) => this.control(msisdn, faults.radioLinkFailure);
  handover = (msisdn: string, targetCellId: string) => this.control(msisdn, (m, i) => faults.handover(m, i, targetCellId));
  setRrcState = (msisdn: string, state: RrcState) => this.control(msisdn, (m, i) => faults.setRrcState(m, i, state));
  failCell = (cellId: string) => (faults.failCell(this, this.cellOrThrow(cellId)), this.cell(cellId));
  recoverCell = (cellId: string) => ((this.cellOrThrow(cellId).state = 'UP'), this.cell(cellId));
  congestCell = (cellId: string, factor: number) => (faults.congestCell(this, this.cellOrThrow(cellId), factor), this.cell(cellId));

  /** @internal Active bearers of UE `i`, in request order. */
  bearersOf(i: number): Bearer[] {
    const { msisdn } = this.population.view(i);
    return [...(this.activeByUe.get(msisdn) ?? [])];
  }

  /** @internal Active bearers of the UEs in a cell, in request order. */
  bearersIn(cellId: string): Bearer[] {
    return [...this.active.values()].filter((b) => b.cellId === cellId);
  }

  /** @internal */
  cellOrThrow(cellId: string): Cell {
    const cell = this.cells.get(cellId);
    if (!cell) throw new SimulatorError('CELL_NOT_FOUND', `no cell ${cellId}`);
    return cell;
  }

  /** @internal Ends an active bearer: FAILED while still PENDING, RELEASED once ESTABLISHED. */
  end(bearer: Bearer, cause: BearerCause, how: { notify?: boolean; state?: 'FAILED' | 'RELEASED' } = {}): void {
    const state = how.state ?? (bearer.state === 'PENDING' ? 'FAILED' : 'RELEASED');
    this.timers.get(bearer.bearerId)?.();
    this.timers.delete(bearer.bearerId);
    this.active.delete(bearer.bearerId);
    const ofUe = this.activeByUe.get(bearer.msisdn);
    ofUe?.delete(bearer);
    if (ofUe?.size === 0) this.activeByUe.delete(bearer.msisdn);
    this.ended.add(bearer.bearerId);
    Object.assign(bearer, { state, cause, endedAt: new Date().toISOString() });
    if (how.notify !== false) this.emit(bearer, state, cause);
  }

  private control(msisdn: string, procedure: (model: this, i: number) => void): SubscriberView {
    const i = this.indexOrThrow(msisdn);
    procedure(this, i);
    return this.population.view(i);
  }

  private indexOrThrow(msisdn: string): number {
    const i = indexOfMsisdn(msisdn);
    if (i === undefined) throw new SimulatorError('SUBSCRIBER_NOT_FOUND', `no subscriber ${msisdn}`);
    return i;
  }

  /**
   * Set-up latency (research §5, TS 23.401 §5.4.1): ≈100–300 ms for a CONNECTED UE; an IDLE one is
   * paged first (DRX cycle, then service request, TS 23.401 §5.3.4.3), 0.5–3 s in all.
   */
  private drawSetup(rrc: RrcState): SetupTiming {
    const radio = between(this.prng, 100, 300);
    const paging = rrc === 'IDLE' ? between(this.prng, 400, 2700) : 0;
    const latencyMs = radio + paging;
    return { paged: rrc === 'IDLE', latencyMs, scaledDelayMs: latencyMs * this.options.timeScale };
  }

  private schedule(bearer: Bearer): void {
    const run = () => {
      this.timers.delete(bearer.bearerId);
      this.completeSetup(bearer);
    };
    const delay = bearer.setup.scaledDelayMs;
    if (delay === 0) {
      const immediate = setImmediate(run);
      this.timers.set(bearer.bearerId, () => clearImmediate(immediate));
    } else {
      const timer = setTimeout(run, delay);
      this.timers.set(bearer.bearerId, () => clearTimeout(timer));
    }
  }

  /** The end of the set-up: the UE answered paging (if paged) and the cell ran admission control. */
  private completeSetup(bearer: Bearer): void {
    if (bearer.state !== 'PENDING') return;
    const i = indexOfIpv4(bearer.ueIpv4)!;
    if (!this.population.state(i).attached) return this.end(bearer, 'UE_NOT_ATTACHED');
    if (bearer.setup.paged) this.population.update(i, { rrcState: 'CONNECTED' });
    const refusal = this.admitAtCell(bearer, i);
    if (refusal) return this.end(bearer, refusal);
    Object.assign(bearer, { state: 'ESTABLISHED', establishedAt: new Date().toISOString() });
    this.emit(bearer, 'ESTABLISHED');
  }

  /** Runs admission at the UE's cell, pre-empting if needed; returns why it failed, if it did. */
  private admitAtCell(bearer: Bearer, i: number): BearerCause | undefined {
    const established = this.bearersOf(i).filter((b) => b.state === 'ESTABLISHED');
    if (established.length >= MAX_BEARERS_PER_UE) return 'MAX_NR_BEARERS_REACHED';
    const cell = this.cellOrThrow(bearer.cellId);
    if (cell.state === 'FAILED') return 'CELL_FAILURE';
    // Non-GBR bearers take no GBR budget: admitted while the cell is up.
    if (!isGbr(bearer)) return undefined;
    const decision = admit(cell, this.bearersIn(cell.cellId).filter((b) => b.state === 'ESTABLISHED'), bearer);
    if (!decision.admitted) return 'INSUFFICIENT_RESOURCES';
    for (const victim of decision.victims) this.end(victim, 'PREEMPTED');
    return undefined;
  }

  private emit(bearer: Bearer, event: BearerEvent['event'], cause?: BearerCause): void {
    const body: BearerEvent = { bearerId: bearer.bearerId, event, ...(cause ? { cause } : {}), at: new Date().toISOString() };
    for (const listener of this.listeners) listener(body, bearer.notifyUrl);
  }

  private bearerOrThrow(bearerId: string): Bearer {
    const bearer = this.bearers.get(bearerId);
    if (!bearer) throw new SimulatorError('BEARER_NOT_FOUND', `no bearer ${bearerId}`);
    return bearer;
  }

  private buildCells(): void {
    this.cells.clear();
    const o = this.options;
    for (let n = 0; n < o.cells; n++) {
      const cellId = `cell-${n}`;
      this.cells.set(cellId, {
        cellId,
        capacityUl: o.cellCapacityUl,
        capacityDl: o.cellCapacityDl,
        admissionThreshold: o.admissionThreshold,
        maxGbrBearers: o.maxGbrBearersPerCell,
        state: 'UP',
        congestionFactor: 1,
      });
    }
  }

  /** Forgets the oldest ended bearers once too many are kept. */
  private prune(): void {
    for (const id of this.ended) {
      if (this.bearers.size <= KEEP_BEARERS) break;
      this.ended.delete(id);
      this.bearers.delete(id);
    }
  }
}
