/**
 * Runs the line controller alone:
 *   tsx simulators/line-controller/main.ts --port 9103 --seed 1 --time-scale 1 [--sample-interval 1000] [--host 127.0.0.1]
 * SIGTERM or SIGINT stops it cleanly.
 */
import { parseArgs } from 'node:util';
import { startLineController, type LineControllerOptions } from './index.ts';

const USAGE = 'usage: tsx simulators/line-controller/main.ts [--port 9103] [--seed 1] [--time-scale 1] [--sample-interval <ms>] [--host 127.0.0.1]';

function numberArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new RangeError(`--${name} must be a number, not "${value}"`);
  return n;
}

function parseOptions(argv: string[]): LineControllerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '9103' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      'sample-interval': { type: 'string' },
    },
    strict: true,
  });
  return {
    port: numberArg('port', values.port),
    host: values.host,
    seed: numberArg('seed', values.seed),
    timeScale: numberArg('time-scale', values['time-scale']),
    sampleIntervalMs: numberArg('sample-interval', values['sample-interval']),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const controller = await startLineController(options);
  const { seed, timeScale, sampleIntervalMs } = controller.model.options;
  const lines = controller.model.services().map((s) => s.id);
  process.stdout.write(`${JSON.stringify({ msg: 'line controller listening', url: controller.url, port: controller.port, seed, timeScale, sampleIntervalMs, lines })}\n`);
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
  process.stderr.write(`line controller could not start: ${message}\n${known ? `${USAGE}\n` : ''}`);
  process.exit(known || inUse ? 2 : 1);
});
