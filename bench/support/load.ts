import autocannon from 'autocannon';

/** What a load run measured, in the units the report uses. */
export interface LoadResult {
  /** Mean successful (2xx) responses per second over the run. */
  rps: number;
  /** Latency percentiles of every response, ms. */
  p50: number;
  p99: number;
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
  onInstance?.(instance);
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
    p50: r.latency.p50,
    p99: r.latency.p99,
    statuses,
    errors: r.errors,
    timeouts: r.timeouts,
    ok,
    durationSeconds: r.duration,
  };
}

const started = Date.now();

/** One progress line on stderr, with the time since the run began. */
export function progress(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t} s] ${line}\n`);
}
