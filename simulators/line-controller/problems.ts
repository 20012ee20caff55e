/**
 * The one error catalog of the simulator. Code throws `new SimulatorError('SERVICE_NOT_FOUND', detail)`;
 * the HTTP layer writes it as a TMF Error (TMF630 v4: `{code, reason, message, status, @type}`) on
 * the TMF APIs, and as RFC 9457 problem details `{title, status, detail, cause}` elsewhere.
 */
import { STATUS_CODES } from 'node:http';

const CATALOG = {
  INVALID_JSON: { status: 400, reason: 'The body is not valid JSON' },
  INVALID_REQUEST: { status: 400, reason: 'The request is malformed' },
  /** TMF641: this OSS carries out `modify` items only (no add, delete or noChange). */
  UNSUPPORTED_ACTION: { status: 400, reason: 'The order item action is not supported' },
  /** Only the `bandwidth` characteristic of a line can be ordered. */
  UNSUPPORTED_CHARACTERISTIC: { status: 400, reason: 'The characteristic cannot be ordered' },
  INVALID_BANDWIDTH: { status: 400, reason: 'The bandwidth is not a positive integer' },
  SERVICE_NOT_FOUND: { status: 404, reason: 'No such service' },
  ORDER_NOT_FOUND: { status: 404, reason: 'No such service order' },
  HUB_NOT_FOUND: { status: 404, reason: 'No such event subscription' },
  NOT_FOUND: { status: 404, reason: 'No such resource' },
  METHOD_NOT_ALLOWED: { status: 405, reason: 'Method not allowed' },
  LINE_EXISTS: { status: 409, reason: 'A service with that id exists' },
  PAYLOAD_TOO_LARGE: { status: 413, reason: 'The body is too large' },
  INTERNAL: { status: 500, reason: 'The simulator failed' },
} as const;

export type ErrorCode = keyof typeof CATALOG;

/** An error the API answers with an error body. */
export class SimulatorError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = 'SimulatorError';
    this.status = CATALOG[code].status;
  }
}

/** TMF630 v4 Error; `status` is a string there (an HTTP status code). */
export interface TmfError {
  code: ErrorCode;
  reason: string;
  message: string;
  status: string;
  '@type': 'Error';
}

/** RFC 9457 problem details, as the Control API and the performance feed answer. */
export interface Problem {
  title: string;
  status: number;
  detail: string;
  cause: ErrorCode;
}

function known(err: unknown): SimulatorError {
  return err instanceof SimulatorError ? err : new SimulatorError('INTERNAL', 'the simulator failed; see its log', { cause: err });
}

export function tmfErrorOf(err: unknown): TmfError {
  const e = known(err);
  return { code: e.code, reason: CATALOG[e.code].reason, message: e.message, status: String(e.status), '@type': 'Error' };
}

export function problemOf(err: unknown): Problem {
  const e = known(err);
  return { title: STATUS_CODES[e.status] ?? 'Error', status: e.status, detail: e.message, cause: e.code };
}
