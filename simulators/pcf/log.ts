/** The simulator's log: one JSON object per line, so a test or an operator can grep it. */

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  [key: string]: unknown;
}

export type PcfLogger = (entry: LogEntry) => void;

export const consoleLogger: PcfLogger = function consoleLogger(entry) {
  if (entry.level === 'debug' && !process.env.PCF_DEBUG) return;
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), name: 'pcf-sim', ...entry }) + '\n');
};

/** The message of anything thrown, for a log line. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message;
  return String(err);
}
