/**
 * The one catalog of errors this PCF answers with: `cause → status` (TS 29.514 Table 5.7.3-1 for the
 * service-specific causes, TS 29.500 Table 5.2.7.2-1 for the protocol ones). Every error body is
 * ProblemDetails (TS 29.571 §5.2.4.1) in `application/problem+json`; 403 bodies are
 * ExtendedProblemDetails (TS 29.514 §5.6.2.x) and may carry `acceptableServInfo`.
 */

/** TS 29.571 InvalidParam. */
export interface InvalidParam {
  /** A JSON pointer into the request body. */
  param: string;
  reason?: string;
}

/** TS 29.514 AcceptableServiceInfo: the most the PCF would authorise. */
export interface AcceptableServiceInfo {
  accBwMedComps?: Record<string, { medCompN: number; marBwUl?: string; marBwDl?: string }>;
  marBwUl?: string;
  marBwDl?: string;
}

export interface ProblemDetails {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  instance?: string;
  cause?: string;
  invalidParams?: InvalidParam[];
  acceptableServInfo?: AcceptableServiceInfo;
}

/** `cause → status`; causes marked `protocolOnly` are HTTP conditions that have no 3GPP cause value. */
const CATALOG = {
  // TS 29.500 Table 5.2.7.2-1
  INVALID_MSG_FORMAT: { status: 400, title: 'Bad Request' },
  MANDATORY_IE_MISSING: { status: 400, title: 'Bad Request' },
  MANDATORY_IE_INCORRECT: { status: 400, title: 'Bad Request' },
  RESOURCE_URI_STRUCTURE_NOT_FOUND: { status: 404, title: 'Not Found' },
  SYSTEM_FAILURE: { status: 500, title: 'Internal Server Error' },
  // TS 29.514 Table 5.7.3-1
  INVALID_SERVICE_INFORMATION: { status: 400, title: 'Bad Request' },
  REQUESTED_SERVICE_NOT_AUTHORIZED: { status: 403, title: 'Forbidden' },
  APPLICATION_SESSION_CONTEXT_NOT_FOUND: { status: 404, title: 'Not Found' },
  PDU_SESSION_NOT_AVAILABLE: { status: 500, title: 'Internal Server Error' },
  // HTTP only (no cause in the body)
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload Too Large', protocolOnly: true },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type', protocolOnly: true },
} as const satisfies Record<string, { status: number; title: string; protocolOnly?: boolean }>;

export type ProblemCause = keyof typeof CATALOG;

/** Thrown by handlers; the server turns it into the response. */
export class ProblemError extends Error {
  readonly problem: ProblemDetails;

  constructor(cause: ProblemCause, detail: string, extra: { invalidParams?: InvalidParam[]; acceptableServInfo?: AcceptableServiceInfo; cause?: unknown } = {}) {
    super(`${cause}: ${detail}`, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ProblemError';
    const entry: { status: number; title: string; protocolOnly?: boolean } = CATALOG[cause];
    this.problem = {
      title: entry.title,
      status: entry.status,
      detail,
      ...(entry.protocolOnly ? {} : { cause }),
      ...(extra.invalidParams?.length ? { invalidParams: extra.invalidParams } : {}),
      ...(extra.acceptableServInfo ? { acceptableServInfo: extra.acceptableServInfo } : {}),
    };
  }

  get status(): number {
    return this.problem.status;
  }
}
