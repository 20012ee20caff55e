/**
 * The one error catalog of the simulator. Code throws `new SimulatorError('UE_NOT_FOUND', detail)`;
 * the HTTP layer writes RFC 9457 problem details `{title, status, detail, cause}`.
 */
import { STATUS_CODES } from 'node:http';

const CATALOG = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  SUBSCRIBER_NOT_FOUND: 404,
  /** TS 29.514 Table 5.7.3-1 PDU_SESSION_NOT_AVAILABLE: no UE holds that address (unknown or detached). */
  UE_NOT_FOUND: 404,
  BEARER_NOT_FOUND: 404,
  CELL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UE_NOT_ATTACHED: 409,
  CELL_FAILED: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
} as const;

export type ProblemCause = keyof typeof CATALOG;

/** An error the API answers with a problem document. */
export class SimulatorError extends Error {
  readonly status: number;

  constructor(
    readonly problem: ProblemCause,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = 'SimulatorError';
    this.status = CATALOG[problem];
  }
}

/** The body of an error response. */
export interface Problem {
  title: string;
  status: number;
  detail: string;
  cause: ProblemCause;
}

export function problemOf(err: unknown): Problem {
  const known = err instanceof SimulatorError ? err : new SimulatorError('INTERNAL', 'the simulator failed; see its log', { cause: err });
  return { title: STATUS_CODES[known.status] ?? 'Error', status: known.status, detail: known.message, cause: known.problem };
}
