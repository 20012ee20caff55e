/**
 * `npm run bench -- <name>`: runs one benchmark. Each prints a markdown table that sets what it
 * measured next to a baseline measured in the same run, and records it in docs/benchmarks.md.
 * Whatever a benchmark starts (processes, redis-servers, servers) is stopped at the end, also when
 * it fails or the run is interrupted.
 */
import { Cleanup } from './support/cleanup.ts';

interface Benchmark {
  summary: string;
  load: () => Promise<{ run(cleanup: Cleanup): Promise<void> }>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  auth: {
    summary: 'Number authentication: one-click token issuance and exchange throughput and latency next to a bare express + Redis GETDEL baseline',
    load: () => import('./auth.ts'),
  },
  qod: {
    summary: 'Quality on Demand: createSession throughput and activation latency next to a bare express + Redis baseline; Redis memory per active session',
    load: () => import('./qod.ts'),
  },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(8)} ${b.summary}`);
  return ['usage: npm run bench -- <name>', '', 'benchmarks:', ...names, ''].join('\n');
}

const name = process.argv[2];
const bench = name ? BENCHMARKS[name] : undefined;
if (!bench) {
  process.stderr.write(`${name && !['-h', '--help'].includes(name) ? `unknown benchmark "${name}"\n\n` : ''}${usage()}`);
  process.exit(name === '-h' || name === '--help' ? 0 : 2);
}

const cleanup = new Cleanup();
let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ctrl-C reaches us twice (from the terminal and relayed by tsx): the first starts the
    // cleanup, a second Ctrl-C (third signal) gives up on it.
    if (++signals > 2) process.exit(130);
    if (signals > 1) return;
    process.stderr.write(`\n${signal}: stopping what the benchmark started (Ctrl-C again to leave it)\n`);
    void cleanup.run().finally(() => process.exit(130));
  });
}

let code = 0;
try {
  await (await bench.load()).run(cleanup);
} catch (err) {
  if (!signals) process.stderr.write(`\nbenchmark ${name} failed: ${(err as Error)?.stack ?? String(err)}\n`);
  code = 1;
} finally {
  await cleanup.run();
}
// Anything a failed step left open (a connection, a timer) must not keep the run alive.
process.exit(code);
