/**
 * The one error catalog of the simulator. Code throws `new SimulatorError('UE_NOT_FOUND', detail)`;
 * the shared HTTP layer (`../common/http.ts`) writes RFC 9457 problem details `{title, status, detail, cause}`.
 */
import * as common from '../common/problems.ts';

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
} as const satisfies Record<string, number> & typeof common.ROUTER_STATUS;

export type ProblemCause = keyof typeof CATALOG;

/** An error the API answers with a problem document; its status comes from the catalog. */
export class SimulatorError extends common.SimulatorError<ProblemCause> {
  constructor(cause: ProblemCause, detail: string, options?: ErrorOptions) {
    super(cause, CATALOG[cause], detail, options);
  }
}
