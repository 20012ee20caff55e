/**
 * What the simulators share about errors. Each simulator keeps its own catalog (`<element>/problems.ts`,
 * code → status) and throws a subclass of {@link SimulatorError}; the shared router answers it, and
 * treats anything else thrown as a bug (500 `INTERNAL`). RFC 9457 problem details are the default body.
 */
import { STATUS_CODES } from 'node:http';

/**
 * The codes the shared router raises itself (a path or body it cannot take), with their statuses.
 * Every simulator's catalog lists them with the same status (its `satisfies` clause checks that), so
 * one code never means two statuses in one simulator.
 */
export const ROUTER_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
} as const;

/** A code the shared router raises. */
export type RouterCode = keyof typeof ROUTER_STATUS;

/** An error the API answers with an error body: a catalog code and its HTTP status. */
export class SimulatorError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    readonly status: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = 'SimulatorError';
  }
}

/** Raises a router code (its status from {@link ROUTER_STATUS}). */
export function routerError(code: RouterCode, detail: string, options?: ErrorOptions): SimulatorError<RouterCode> {
  return new SimulatorError(code, ROUTER_STATUS[code], detail, options);
}

/** `err` as a SimulatorError: itself, or a 500 `INTERNAL` that keeps it as the cause (a bug). */
export function simulatorErrorOf(err: unknown): SimulatorError {
  return err instanceof SimulatorError ? err : routerError('INTERNAL', 'the simulator failed; see its log', { cause: err });
}

/** RFC 9457 problem details, as the simulators write them: `cause` is the catalog code. */
export interface Problem<Code extends string = string> {
  title: string;
  status: number;
  detail: string;
  cause: Code;
}

/** The problem details of anything thrown. `Code` is the caller's catalog: every code thrown comes from it. */
export function problemOf<Code extends string = string>(err: unknown): Problem<Code> {
  const e = simulatorErrorOf(err);
  return { title: STATUS_CODES[e.status] ?? 'Error', status: e.status, detail: e.message, cause: e.code as Code };
}
