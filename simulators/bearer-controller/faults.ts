/**
 * Mobility and failure procedures of the network: detach/attach, radio-link failure, handover, RRC
 * changes, cell failure and congestion. The model calls these; they change its state in place.
 */
import { isGbr, rejectedAtTarget, shedForCongestion } from './admission.ts';
import type { BearerControllerModel } from './model.ts';
import { SimulatorError } from './problems.ts';
import type { Cell, RrcState } from './types.ts';

function requireAttached(model: BearerControllerModel, i: number): void {
  if (!model.population.state(i).attached) {
    throw new SimulatorError('UE_NOT_ATTACHED', `${model.population.view(i).msisdn} is detached; attach it first`);
  }
}

/**
 * Detach (TS 23.401 §5.3.8): the PDU session and all its bearers go, and with them the UE address.
 * Set-ups still under way fail as UE_NOT_ATTACHED; established bearers are released as UE_DETACHED.
 */
export function detach(model: BearerControllerModel, i: number): void {
  for (const bearer of model.bearersOf(i)) model.end(bearer, bearer.state === 'PENDING' ? 'UE_NOT_ATTACHED' : 'UE_DETACHED');
  model.population.update(i, { attached: false, rrcState: 'IDLE' });
}

/** Attach (TS 23.401 §5.3.2): a PDU session with the UE's usual address; the UE is CONNECTED. */
export function attach(model: BearerControllerModel, i: number): void {
  if (model.population.state(i).attached) return;
  model.population.update(i, { attached: true, rrcState: 'CONNECTED' });
}

/**
 * Radio-link failure: S1 release with cause "radio connection with UE lost". TS 23.401 §5.3.5: the
 * MME deactivates the GBR bearers and preserves the non-GBR ones; the UE goes IDLE.
 */
export function radioLinkFailure(model: BearerControllerModel, i: number): void {
  requireAttached(model, i);
  for (const bearer of model.bearersOf(i)) if (isGbr(bearer)) model.end(bearer, 'RADIO_LINK_FAILURE');
  model.population.update(i, { rrcState: 'IDLE' });
}

/**
 * Handover (TS 36.413 §8.4.2 handover resource allocation): the target admits each GBR bearer or
 * lists it as not admitted; those are released. No 5G notification control: nothing survives as
 * "QoS not guaranteed". Bearers still being set up follow the UE and are admitted at the target.
 */
export function handover(model: BearerControllerModel, i: number, targetCellId: string): void {
  requireAttached(model, i);
  const target = model.cellOrThrow(targetCellId);
  if (target.state === 'FAILED') throw new SimulatorError('CELL_FAILED', `${targetCellId} is down; it cannot take a handover`);
  const ue = model.population.state(i);
  if (ue.cellId !== targetCellId) {
    const moving = model.bearersOf(i);
    const atTarget = model.bearersIn(targetCellId).filter((b) => b.state === 'ESTABLISHED');
    for (const rejected of rejectedAtTarget(target, atTarget, moving)) model.end(rejected, 'HANDOVER_REJECTED');
    for (const bearer of model.bearersOf(i)) bearer.cellId = targetCellId;
  }
  // Handover is a connected-mode procedure: the UE is CONNECTED at the target.
  model.population.update(i, { cellId: targetCellId, rrcState: 'CONNECTED' });
}

/** RRC IDLE keeps every bearer (S1 release for user inactivity, TS 23.401 §5.3.5); only paging changes. */
export function setRrcState(model: BearerControllerModel, i: number, state: RrcState): void {
  requireAttached(model, i);
  model.population.update(i, { rrcState: state });
}

/** A cell outage: every bearer of its UEs goes; new ones fail until it recovers. */
export function failCell(model: BearerControllerModel, cell: Cell): void {
  cell.state = 'FAILED';
  for (const bearer of model.bearersIn(cell.cellId)) model.end(bearer, 'CELL_FAILURE');
}

/**
 * Congestion scales the cell's capacity by `factor`. Chosen behaviour: GBR bearers that no longer
 * fit are RELEASED (cause CONGESTION), lowest ARP priority first, as a 4G eNB does (TS 23.401
 * §4.7.3); they are not kept as DEGRADED.
 */
export function congestCell(model: BearerControllerModel, cell: Cell, factor: number): void {
  cell.congestionFactor = factor;
  const established = model.bearersIn(cell.cellId).filter((b) => b.state === 'ESTABLISHED');
  for (const bearer of shedForCongestion(cell, established)) model.end(bearer, 'CONGESTION');
}
