/**
 * Runs the bearer controller alone:
 *   tsx simulators/bearer-controller/main.ts --port 9101 --seed 7 --time-scale 1 [--cells 20] [--host 127.0.0.1]
 * SIGTERM or SIGINT stops it cleanly.
 */
import { parseArgs } from 'node:util';
import { startBearerController, type BearerControllerOptions } from './index.ts';

const USAGE = 'usage: tsx simulators/bearer-controller/main.ts [--port 9101] [--seed 1] [--time-scale 1] [--cells 20] [--host 127.0.0.1]';

function numberArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new RangeError(`--${name} must be a number, not "${value}"`);
  return n;
}

function parseOptions(argv: string[]): BearerControllerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '9101' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      cells: { type: 'string' },
    },
    strict: true,
  });
  return {
    port: numberArg('port', values.port),
    host: values.host,
    seed: numberArg('seed', values.seed),
    timeScale: numberArg('time-scale', values['time-scale']),
    cells: numberArg('cells', values.cells),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const controller = await startBearerController(options);
  const { seed, timeScale, cells } = controller.model.options;
  process.stdout.write(`${JSON.stringify({ msg: 'bearer controller listening', url: controller.url, port: controller.port, seed, timeScale, cells })}\n`);
  const stop = (signal: string) => {
    process.stdout.write(`${JSON.stringify({ msg: 'shutting down', signal })}\n`);
    setTimeout(() => process.exit(1), 5000).unref();
    void controller.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const known = err instanceof RangeError || (err as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS');
  const inUse = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
  const message = inUse ? `the port is already in use; pick another with --port` : known ? (err as Error).message : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`bearer controller could not start: ${message}\n${known ? `${USAGE}\n` : ''}`);
  process.exit(known || inUse ? 2 : 1);
});
