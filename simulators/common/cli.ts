/**
 * Running a simulator alone from the command line (`tsx simulators/<element>/main.ts`): the flags
 * every one takes, one `listening` JSON line on stdout, a clean stop on SIGTERM or SIGINT, and exit
 * codes a script can act on (2: the command line or the port is wrong; 1: anything else).
 */
import { parseArgs } from 'node:util';

/** The flags every simulator takes, and its own numeric ones. */
export interface SimulatorArgs<Extra extends string> {
  port: number;
  host: string;
  seed?: number;
  timeScale?: number;
  /** The simulator's own numeric flags, by flag name; undefined when not given. */
  extra: Record<Extra, number | undefined>;
}

/** A flag's number; a RangeError (usage) when it is not one. */
export function numberArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new RangeError(`--${name} must be a number, not "${value}"`);
  return n;
}

/**
 * Parses `--port` (default `defaultPort`), `--host` (default 127.0.0.1), `--seed`, `--time-scale` and
 * the numeric flags named in `extra`. Unknown flags throw (ERR_PARSE_ARGS_*), so a typo is not ignored.
 */
export function parseSimulatorArgs<Extra extends string = never>(argv: string[], defaultPort: number, extra: readonly Extra[] = []): SimulatorArgs<Extra> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: String(defaultPort) },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      ...Object.fromEntries(extra.map((name) => [name, { type: 'string' as const }])),
    },
    strict: true,
  });
  // Every flag is a string one (the spread of `extra` hides that from the parsed type).
  const text = (name: string) => (values as Record<string, string | undefined>)[name];
  return {
    port: numberArg('port', text('port'))!,
    host: text('host')!,
    seed: numberArg('seed', text('seed')),
    timeScale: numberArg('time-scale', text('time-scale')),
    extra: Object.fromEntries(extra.map((name) => [name, numberArg(name, text(name))])) as Record<Extra, number | undefined>,
  };
}

/** What {@link runSimulator} needs to know of one simulator. */
export interface SimulatorProgram<Handle extends { url: string; port: number; close(): Promise<void> }> {
  /** How messages name it: `bearer controller`. */
  name: string;
  /** Printed after a command-line mistake. */
  usage: string;
  /** Starts it from the command line's arguments (after `node main.ts`). */
  start(argv: string[]): Promise<Handle>;
  /** More fields of the `listening` line, after `url` and `port` (the settings in effect). */
  describe(handle: Handle): Record<string, unknown>;
}

function printLine(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

/** Starts the simulator, reports it on stdout and stops it on SIGTERM or SIGINT; exits on a failed start. */
export function runSimulator<Handle extends { url: string; port: number; close(): Promise<void> }>(program: SimulatorProgram<Handle>): void {
  const main = async () => {
    const handle = await program.start(process.argv.slice(2));
    printLine({ msg: `${program.name} listening`, url: handle.url, port: handle.port, ...program.describe(handle) });
    const stop = (signal: string) => {
      printLine({ msg: 'shutting down', signal });
      // close() is bounded, but a stuck one must not keep the process alive forever.
      setTimeout(() => process.exit(1), 5000).unref();
      void handle.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  };
  main().catch((err: unknown) => {
    const known = err instanceof RangeError || (err as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS');
    const inUse = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
    const message = inUse ? `the port is already in use; pick another with --port` : known ? (err as Error).message : ((err as Error)?.stack ?? String(err));
    process.stderr.write(`${program.name} could not start: ${message}\n${known ? `${program.usage}\n` : ''}`);
    process.exit(known || inUse ? 2 : 1);
  });
}
