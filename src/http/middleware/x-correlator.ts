import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../errors.ts';

/** CAMARA Commonalities `XCorrelator` pattern. */
export const X_CORRELATOR_PATTERN = /^[a-zA-Z0-9-_:;.\/<>{}]{0,256}$/;

const HEADER = 'x-correlator';

/**
 * Validates, echoes and (when absent) generates `x-correlator` (CAMARA Design Guide §5.8.5).
 * The value is echoed on every response, error responses included, and is available to handlers,
 * logs, jobs and notifications as `res.locals.correlator`. A value that breaks the pattern is
 * answered 400 INVALID_ARGUMENT (the error returned); it is not echoed, since it may be the very
 * thing that is malformed, and a generated one is sent instead.
 */
export function correlate(req: IncomingMessage, res: ServerResponse & { locals: { correlator: string } }, generate: () => string = randomUUID): ApiError | undefined {
  const raw = req.headers[HEADER];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  const valid = value === undefined || (value !== '' && X_CORRELATOR_PATTERN.test(value));
  res.locals.correlator = valid && value !== undefined ? value : generate();
  res.setHeader(HEADER, res.locals.correlator);
  return valid ? undefined : new ApiError('INVALID_ARGUMENT', `${HEADER} must match ${X_CORRELATOR_PATTERN.source}`);
}
