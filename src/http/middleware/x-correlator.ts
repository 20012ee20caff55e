import { randomUUID } from 'node:crypto';
import type { Request, Response, NextFunction } from 'express';
import { ApiError } from '../errors.ts';

/** CAMARA Commonalities `XCorrelator` pattern. */
export const X_CORRELATOR_PATTERN = /^[a-zA-Z0-9-_:;.\/<>{}]{0,256}$/;

export interface XCorrelatorOptions {
  /** Header name. @defaultValue 'x-correlator' */
  header?: string;
  /** Makes a correlator when the client sent none. @defaultValue randomUUID */
  generate?: () => string;
}

/**
 * Validates, echoes and (when absent) generates `x-correlator` (CAMARA Design Guide §5.8.5).
 * The value is echoed on every response, error responses included, and is available to handlers,
 * logs, jobs and notifications as `res.locals.correlator`. A value that breaks the pattern is a
 * 400 INVALID_ARGUMENT; it is not echoed, since it may be the very thing that is malformed.
 */
export function xCorrelator({ header = 'x-correlator', generate = randomUUID }: XCorrelatorOptions = {}) {
  return function xCorrelatorMiddleware(req: Request, res: Response, next: NextFunction): void {
    const raw = req.headers[header];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (value !== undefined && (!X_CORRELATOR_PATTERN.test(value) || value === '')) {
      res.locals.correlator = generate();
      res.setHeader(header, res.locals.correlator);
      next(new ApiError('INVALID_ARGUMENT', `${header} must match ${X_CORRELATOR_PATTERN.source}`));
      return;
    }
    res.locals.correlator = value ?? generate();
    res.setHeader(header, res.locals.correlator);
    next();
  };
}
