/**
 * The Control API: fault injection and inspection for tests and demos. Not part of any 3GPP
 * interface; a real network would show these as the outcome of radio conditions and mobility.
 */
import { stateRoutes } from '../common/control.ts';
import type { Route, RouteContext } from '../common/http.ts';
import type { BearerControllerModel } from './model.ts';
import { SimulatorError } from './problems.ts';
import type { RrcState } from './types.ts';

function field(context: RouteContext, name: string): unknown {
  const body = context.body;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

function targetCellOf(context: RouteContext): string {
  const target = field(context, 'targetCellId');
  if (typeof target !== 'string' || target === '') throw new SimulatorError('INVALID_REQUEST', 'the body needs {"targetCellId": "cell-N"}');
  return target;
}

function rrcStateOf(context: RouteContext): RrcState {
  const state = field(context, 'state');
  if (state !== 'IDLE' && state !== 'CONNECTED') throw new SimulatorError('INVALID_REQUEST', 'the body needs {"state": "IDLE" | "CONNECTED"}');
  return state;
}

function factorOf(context: RouteContext): number {
  const factor = field(context, 'factor');
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) {
    throw new SimulatorError('INVALID_REQUEST', 'the body needs {"factor": <capacity multiplier ≥ 0>}');
  }
  return factor;
}

/** RFC 3339 §5.6 date-time, with its offset ("T" and "Z" in either case, §5.6 note). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** When the SIM swap happened: `{"at": "<RFC 3339 date-time>"}`, now when the body leaves it out. */
function swapTimeOf(context: RouteContext): Date | undefined {
  const at = field(context, 'at');
  if (at === undefined) return undefined;
  const when = typeof at === 'string' && DATE_TIME.test(at) ? new Date(at) : undefined;
  if (!when || Number.isNaN(when.getTime())) throw new SimulatorError('INVALID_REQUEST', 'at must be an RFC 3339 date-time, e.g. "2025-01-31T12:00:00Z"');
  return when;
}

export function controlRoutes(model: BearerControllerModel): Route[] {
  const ue = (action: string, run: (msisdn: string, context: RouteContext) => unknown): Route => ({
    method: 'POST',
    path: new RegExp(`^/control/ues/([^/]+)/${action}$`),
    handle: (context) => ({ status: 200, body: run(context.params[0], context) }),
  });
  const cell = (action: string, run: (cellId: string, context: RouteContext) => unknown): Route => ({
    method: 'POST',
    path: new RegExp(`^/control/cells/([^/]+)/${action}$`),
    handle: (context) => ({ status: 200, body: run(context.params[0], context) }),
  });
  return [
    ue('detach', (msisdn) => model.detach(msisdn)),
    ue('attach', (msisdn) => model.attach(msisdn)),
    ue('rlf', (msisdn) => model.radioLinkFailure(msisdn)),
    ue('handover', (msisdn, context) => model.handover(msisdn, targetCellOf(context))),
    ue('rrc', (msisdn, context) => model.setRrcState(msisdn, rrcStateOf(context))),
    ue('sim-swap', (msisdn, context) => model.swapSim(msisdn, swapTimeOf(context))),
    cell('fail', (cellId) => model.failCell(cellId)),
    cell('recover', (cellId) => model.recoverCell(cellId)),
    cell('congest', (cellId, context) => model.congestCell(cellId, factorOf(context))),
    ...stateRoutes(model),
  ];
}
