import autocannon from 'autocannon';
import { percentile } from './stats.ts';
import { stealMeter, sumUsage, type Usage } from './usage.ts';

/** What a load run measured, in the units the report uses. */
export interface LoadResult {
  /** Mean successful (2xx) responses per second over the run. */
  rps: number;
  /** Latency percentiles of every response, ms. */
  p50: number;
  p99: number;
  /** The response time of every response, ms (to combine runs). */
  latencies: number[];
  /** Share of the machine's CPU time stolen by the hypervisor during the run (see {@link stealMeter}). */
  stolen: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Requests that got no response: connection errors (timeouts included) and, of those, timeouts. */
  errors: number;
  timeouts: number;
  /** 2xx responses. */
  ok: number;
  durationSeconds: number;
}

/**
 * Runs autocannon and summarises it. Prints a progress line every `progressEverySeconds`, so a
 * long run shows it is alive.
 */
export async function runLoad(label: string, options: autocannon.Options, progressEverySeconds = 5, onInstance?: (i: autocannon.Instance) => void): Promise<LoadResult> {
  const instance = autocannon({ timeout: 10, ...options });
  const latencies: number[] = [];
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  onInstance?.(instance);
  const stolen = stealMeter();
  let seconds = 0;
  let count = 0;
  instance.on('tick', ({ counter }: { counter: number }) => {
    seconds++;
    count += counter;
    if (seconds % progressEverySeconds === 0) progress(`  ${label}: ${seconds} s, ${count} responses (${Math.round(count / seconds)}/s)`);
  });
  const r = await instance;
  const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count)]));
  const ok = Object.entries(statuses).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0);
  return {
    rps: ok / r.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
    stolen: stolen(),
    statuses,
    errors: r.errors,
    timeouts: r.timeouts,
    ok,
    durationSeconds: r.duration,
  };
}

/** A closed-loop load run with what the server side spent on it. */
export interface Measured {
  load: LoadResult;
  usage: Usage;
}

/** One side of a comparison: its load, and what its processes and Redis spend on it. */
export interface Side {
  name: string;
  /** Runs the load for `seconds`, named `label` in progress lines. */
  load(label: string, seconds: number): Promise<LoadResult>;
  /** Starts a reading; `per(n)` then gives what was spent since, per request. */
  meter(): Promise<{ per(n: number): Promise<Usage> }>;
}

/** Several runs of the same load as one: their responses together over their time together. */
export function combine(runs: readonly Measured[]): Measured {
  const loads = runs.map((r) => r.load);
  const sum = (pick: (l: LoadResult) => number) => loads.reduce((a, l) => a + pick(l), 0);
  const durationSeconds = sum((l) => l.durationSeconds);
  const ok = sum((l) => l.ok);
  const statuses: Record<string, number> = {};
  for (const l of loads) for (const [code, n] of Object.entries(l.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const latencies = loads.flatMap((l) => l.latencies);
  return {
    load: {
      rps: ok / durationSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      latencies,
      stolen: sum((l) => l.stolen * l.durationSeconds) / durationSeconds,
      statuses,
      errors: sum((l) => l.errors),
      timeouts: sum((l) => l.timeouts),
      ok,
      durationSeconds,
    },
    usage: sumUsage(runs.map((r) => ({ usage: r.usage, n: r.load.ok }))),
  };
}

/**
 * Measures two sides in alternating windows, A B B A (then A B B A again for more rounds), after a
 * warm-up of each. On a shared virtual machine the CPU left to us drifts by a factor of two within
 * minutes; measured one after the other, a gateway and its baseline would be compared across
 * different machines. Alternating windows give both the same share of good and bad moments, and
 * the mirrored order cancels a steady drift.
 */
export async function alternate(a: Side, b: Side, o: { warmupSeconds: number; durationSeconds: number; windows?: number }): Promise<[Measured, Measured]> {
  const windows = o.windows ?? 4;
  const seconds = o.durationSeconds / (windows / 2);
  for (const side of [a, b]) await warmUp(side, o.warmupSeconds);
  return measureAlternately(a, b, windows, seconds);
}

/** Responses a side must have answered before it is measured: its hot paths optimised by the JIT. */
export const WARM_UP_RESPONSES = 5000;
/** A side that stays this slow is measured anyway (and is slow). */
const WARM_UP_MAX_SECONDS = 15;

/**
 * At least `seconds` of load, and more until the side has answered {@link WARM_UP_RESPONSES}: on a
 * slow machine a few seconds of a heavy endpoint are a few hundred requests, too few for V8 to
 * have optimised what every request runs.
 */
async function warmUp(side: Side, seconds: number): Promise<void> {
  let answered = 0;
  let spent = 0;
  while (spent < seconds || (answered < WARM_UP_RESPONSES && spent < WARM_UP_MAX_SECONDS)) {
    const step = spent < seconds ? seconds : 2;
    progress(`${side.name}: warm-up ${step} s (${answered} answered so far)`);
    const load = await side.load(`${side.name} warm-up`, step);
    answered += Object.values(load.statuses).reduce((x, y) => x + y, 0);
    spent += step;
  }
}

async function measureAlternately(a: Side, b: Side, windows: number, seconds: number): Promise<[Measured, Measured]> {
  const runs = new Map<Side, Measured[]>([[a, []], [b, []]]);
  for (let w = 0; w < windows; w++) {
    // A B | B A | A B | B A ...
    const side = (w % 4 === 0 || w % 4 === 3) ? a : b;
    progress(`${side.name}: window ${Math.floor(w / 2) + 1} of ${windows / 2}, ${seconds} s`);
    const meter = await side.meter();
    const load = await side.load(side.name, seconds);
    const m = { load, usage: await meter.per(load.ok) };
    progress(`  ${side.name}: ${Math.round(m.load.rps)} req/s, p50 ${m.load.p50.toFixed(1)} ms, p99 ${m.load.p99.toFixed(1)} ms, CPU stolen ${(m.load.stolen * 100).toFixed(0)}%`);
    runs.get(side)!.push(m);
  }
  return [combine(runs.get(a)!), combine(runs.get(b)!)];
}

const started = Date.now();

/** One progress line on stderr, with the time since the run began. */
export function progress(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t} s] ${line}\n`);
}
