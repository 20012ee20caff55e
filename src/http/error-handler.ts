import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response, NextFunction } from 'express';
import type { Logger } from '../infra/logger.ts';
import { isRedisUnavailable } from '../infra/redis.ts';
import { ApiError } from './errors.ts';
import { writeReply } from './api-router.ts';
import { DependencyUnavailableError } from '../../adapters/ports.ts';

/** Maps body-parser failures to the catalog: they happen before any route runs. */
function fromBodyParser(err: { type?: string; status?: number }): ApiError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new ApiError('PAYLOAD_TOO_LARGE');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding or charset');
    case 'entity.parse.failed':
      return new ApiError('INVALID_ARGUMENT', 'the request body is not valid JSON');
    case undefined:
      return undefined;
    default:
      return typeof err.status === 'number' && err.status < 500 ? new ApiError('INVALID_ARGUMENT', 'malformed request body') : undefined;
  }
}

/**
 * The one place that writes CAMARA error bodies `{status, code, message}`. Known errors keep their
 * code; Redis or a southbound dependency being unreachable (DependencyUnavailableError) is 503
 * UNAVAILABLE (the client may retry); anything else is a bug,
 * logged with its stack and answered with a generic 500 that reveals nothing.
 */
export function writeError(err: unknown, req: IncomingMessage, res: ServerResponse & { locals?: { log?: Logger } }, logger: Logger): void {
  let apiError: ApiError;
  if (err instanceof ApiError) apiError = err;
  else if (isRedisUnavailable(err) || err instanceof DependencyUnavailableError) {
    apiError = new ApiError('UNAVAILABLE', 'the service is temporarily unavailable; retry shortly', { headers: { 'Retry-After': '1' } });
  } else {
    apiError = fromBodyParser(err as { type?: string }) ?? new ApiError('INTERNAL', 'internal error');
    if (apiError.code === 'INTERNAL') {
      (res.locals?.log ?? logger).error({ err, path: req.url?.split('?')[0], method: req.method }, 'unhandled error');
    }
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  writeReply(res, { status: apiError.status, headers: apiError.headers, body: apiError.toJSON() });
}

/** {@link writeError} as express's error middleware, for the routes express serves. */
export function errorHandler(logger: Logger) {
  return function expressError(err: unknown, req: Request, res: Response, _next: NextFunction): void {
    writeError(err, req, res, logger);
  };
}
