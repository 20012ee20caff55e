import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.ts';

export interface PacedOptions {
  url: string;
  /** Requests per second, sent at even intervals whether or not earlier ones were answered. */
  rate: number;
  count: number;
  headers: Record<string, string>;
  body: () => string;
  /** The first this many requests are sent in the same even stream but left out of the percentiles. */
  warmupCount?: number;
  /** Called with each answer and the `performance.now()` at which its request was sent. */
  onResponse?: (status: number, body: string, sentAt: number) => void;
}

export interface PacedResult {
  statuses: Record<string, number>;
  errors: number;
  /** Response time percentiles, ms. */
  p50: number;
  p99: number;
  durationSeconds: number;
}

/**
 * An open-loop POST load: request i leaves at start + i/rate, so the server sees the rate itself
 * rather than bursts. (autocannon's `overallRate` gives each connection its share of a second at
 * the start of that second, so 32 connections arrive 32 at once every second.)
 */
export async function pacedPost(o: PacedOptions): Promise<PacedResult> {
  const url = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const statuses: Record<string, number> = {};
  const times: number[] = [];
  let errors = 0;
  let answered = 0;
  const start = performance.now();
  let sent = 0;
  const send = () => {
    const measured = sent++ >= (o.warmupCount ?? 0);
    const body = o.body();
    const sentAt = performance.now();
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...o.headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (measured) times.push(performance.now() - sentAt);
          statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
          o.onResponse?.(res.statusCode!, Buffer.concat(chunks).toString('utf8'), sentAt);
          answered++;
        });
      },
    );
    req.on('error', () => {
      errors++;
      answered++;
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  };
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < o.count && start + (next * 1000) / o.rate <= now) {
        send();
        next++;
      }
      if (next < o.count) setTimeout(tick, Math.max(0, start + (next * 1000) / o.rate - performance.now()));
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + 30_000;
  while (answered < o.count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  errors += o.count - answered;
  agent.destroy();
  return { statuses, errors, p50: percentile(times, 50), p99: percentile(times, 99), durationSeconds: (performance.now() - start) / 1000 };
}

/**
 * {@link pacedPost} from a child process (`bench/support/paced-process.ts`), one request per body:
 * the benchmark process's own pauses then cannot show up as the server's latency.
 */
export async function pacedPostInChild(o: { url: string; rate: number; headers: Record<string, string>; bodies: string[]; warmupCount?: number }): Promise<PacedResult> {
  const dir = mkdtempSync(join(tmpdir(), 'eg-paced-'));
  const file = join(dir, 'bodies.txt');
  writeFileSync(file, o.bodies.join('\n'));
  try {
    const child = fork(fileURLToPath(new URL('./paced-process.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BODIES: file, URL: o.url, RATE: String(o.rate), HEADERS: JSON.stringify(o.headers), WARMUP: String(o.warmupCount ?? 0) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return await new Promise<PacedResult>((resolve, reject) => {
      child.on('message', (m: { type: string; result: PacedResult }) => m.type === 'result' && resolve(m.result));
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`the paced client exited (${code}) without a result`)));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
