import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may carry secrets. pino replaces them before a line is written, so a request or a
 * job logged whole can never leak a credential.
 */
const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  'clientSecret',
  'client_secret',
  'client_assertion',
  'accessToken',
  'access_token',
  'sinkCredential',
  '*.clientSecret',
  '*.client_secret',
  '*.client_assertion',
  '*.accessToken',
  '*.access_token',
  '*.sinkCredential',
  '*.authorization',
];

/** Creates the JSON logger of a process; one line per event on stdout. */
export function createLogger(level: string, base: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'exposure-gateway', ...base },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
