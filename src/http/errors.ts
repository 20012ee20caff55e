/**
 * The one error catalog of the gateway (CAMARA Commonalities 0.8, `CAMARA_common.yaml`).
 *
 * Code throws `new ApiError('QUOTA_EXCEEDED')`; the error middleware turns it into the CAMARA
 * `ErrorInfo` body `{status, code, message}`. Capabilities add their own `API_NAME.CODE` entries
 * with {@link defineErrors} so that every code the gateway can answer is listed in one place.
 */

export interface ErrorSpec {
  status: number;
  message: string;
}

const catalog = new Map<string, ErrorSpec>(
  Object.entries({
    INVALID_ARGUMENT: { status: 400, message: 'Client specified an invalid argument, request body or query param.' },
    OUT_OF_RANGE: { status: 400, message: 'Client specified an invalid range.' },
    // Sink and sinkCredential of an event subscription (CAMARA_common.yaml, Event Subscription guide).
    INVALID_SINK: { status: 400, message: 'sink not valid for the specified protocol' },
    INVALID_CREDENTIAL: { status: 400, message: 'The sink credential is not valid.' },
    INVALID_TOKEN: { status: 400, message: 'Only an unexpired bearer access token is supported.' },
    UNAUTHENTICATED: {
      status: 401,
      message: 'Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required.',
    },
    PERMISSION_DENIED: { status: 403, message: 'Client does not have sufficient permissions to perform this action.' },
    INVALID_TOKEN_CONTEXT: { status: 403, message: 'The access token context is not valid for this operation.' },
    NOT_FOUND: { status: 404, message: 'The specified resource is not found.' },
    IDENTIFIER_NOT_FOUND: { status: 404, message: 'Device identifier not found.' },
    METHOD_NOT_ALLOWED: { status: 405, message: 'The requested method is not allowed/supported on the target resource.' },
    NOT_ACCEPTABLE: { status: 406, message: 'The server cannot produce a response matching the content requested by the client.' },
    CONFLICT: { status: 409, message: 'A specified resource duplicate entry found.' },
    ABORTED: { status: 409, message: 'Concurrency conflict.' },
    ALREADY_EXISTS: { status: 409, message: 'The resource that a client tried to create already exists.' },
    INCOMPATIBLE_STATE: { status: 409, message: 'The resource is not in a state that allows this operation.' },
    GONE: { status: 410, message: 'Access to the target resource is no longer available.' },
    FAILED_PRECONDITION: { status: 412, message: 'Request cannot be executed in the current system state.' },
    PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than the server is willing to process.' },
    UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The server refuses to accept the request because the payload format is in an unsupported format.' },
    SERVICE_NOT_APPLICABLE: { status: 422, message: 'The service is not available for the provided identifier.' },
    MISSING_IDENTIFIER: { status: 422, message: 'The device cannot be identified.' },
    UNSUPPORTED_IDENTIFIER: { status: 422, message: 'The identifier provided is not supported.' },
    UNNECESSARY_IDENTIFIER: { status: 422, message: 'The device is already identified by the access token.' },
    PRIVATE_KEY_JWT_NOT_CONFIGURED: { status: 422, message: 'No token endpoint and client id configured for PRIVATE_KEY_JWT authentication.' },
    QUOTA_EXCEEDED: { status: 429, message: 'Out of resource quota.' },
    TOO_MANY_REQUESTS: { status: 429, message: 'Rate limit reached.' },
    INTERNAL: { status: 500, message: 'Unknown server error. Typically a server bug.' },
    NOT_IMPLEMENTED: { status: 501, message: 'This functionality is not implemented yet.' },
    BAD_GATEWAY: { status: 502, message: 'An upstream internal service cannot be reached.' },
    UNAVAILABLE: { status: 503, message: 'Service Unavailable.' },
    TIMEOUT: { status: 504, message: 'Request timeout exceeded.' },
  }),
);

/** Registers capability-specific codes (`API_NAME.CODE`); a code can be defined only once. */
export function defineErrors(entries: Record<string, ErrorSpec>): void {
  for (const [code, spec] of Object.entries(entries)) {
    const existing = catalog.get(code);
    if (existing && (existing.status !== spec.status || existing.message !== spec.message)) {
      throw new Error(`error code ${code} is already defined differently`);
    }
    catalog.set(code, spec);
  }
}

/** Looks a code up; unknown codes are a programming error. */
export function errorSpec(code: string): ErrorSpec {
  const spec = catalog.get(code);
  if (!spec) throw new Error(`unknown error code ${code}`);
  return spec;
}

/** Every code the gateway can answer with, for documentation and tests. */
export function errorCodes(): ReadonlyMap<string, ErrorSpec> {
  return catalog;
}

/** An error that becomes a CAMARA ErrorInfo response. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  readonly headers: Record<string, string>;

  constructor(code: string, message?: string, options: { cause?: unknown; headers?: Record<string, string> } = {}) {
    const spec = errorSpec(code);
    super(message ?? spec.message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = spec.status;
    this.code = code;
    this.headers = options.headers ?? {};
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** The CAMARA `ErrorInfo` body. Messages are capped at the 512 characters CAMARA allows. */
  toJSON(): { status: number; code: string; message: string } {
    return { status: this.status, code: this.code, message: this.message.slice(0, 512) };
  }
}
