/**
 * The one error catalog of the simulator. Code throws `new SimulatorError('SERVICE_NOT_FOUND', detail)`;
 * the shared HTTP layer (`../common/http.ts`) writes it with {@link errorReply}: as a TMF Error
 * (TMF630 v4: `{code, reason, message, status, @type}`) on the TMF APIs, and as RFC 9457 problem
 * details `{title, status, detail, cause}` elsewhere.
 */
import { problemReply, type Reply } from '../common/http.ts';
import * as common from '../common/problems.ts';

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
} as const satisfies Record<string, { status: number; reason: string }> & { [C in common.RouterCode]: { status: (typeof common.ROUTER_STATUS)[C]; reason: string } };

export type ErrorCode = keyof typeof CATALOG;

/** An error the API answers with an error body; its status comes from the catalog. */
export class SimulatorError extends common.SimulatorError<ErrorCode> {
  constructor(code: ErrorCode, detail: string, options?: ErrorOptions) {
    super(code, CATALOG[code].status, detail, options);
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
export type Problem = common.Problem<ErrorCode>;

/** The TMF630 Error body of anything thrown (a bug: 500 `INTERNAL`). */
export function tmfErrorOf(err: unknown): TmfError {
  const e = common.simulatorErrorOf(err);
  // Every code thrown here is this catalog's: the router's own codes are in it too (see `satisfies` above).
  const code = e.code as ErrorCode;
  return { code, reason: CATALOG[code].reason, message: e.message, status: String(e.status), '@type': 'Error' };
}

/** The answer to a failed request: a TMF Error under `/tmf-api/` (in `application/json`), problem details elsewhere. */
export function errorReply(err: unknown, pathname: string): Reply {
  if (!pathname.startsWith('/tmf-api/')) return problemReply(err);
  const error = tmfErrorOf(err);
  return { status: Number(error.status), body: error };
}
