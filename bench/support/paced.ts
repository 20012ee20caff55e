import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
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
  /**
   * The first this many requests warm the client and its connections up: sent at a rate rising to
   * `rate`, and left out of the percentiles, as are any after them until the client keeps its schedule.
   */
  warmupCount?: number;
  /**
   * Called with each answer, the `performance.now()` at which its request went out (the time it is
   * measured from), and whether it counts (false for the warm-up and for requests the client sent late).
   */
  onResponse?: (status: number, body: string, sentAt: number, measured: boolean) => void;
}

export interface PacedResult {
  statuses: Record<string, number>;
  errors: number;
  /** Response time percentiles, ms. */
  p50: number;
  p99: number;
  durationSeconds: number;
}

/** Where a response ends in a connection's bytes, once its head has arrived. */
interface Framing {
  status: number;
  /** Offset just past the head's blank line. */
  bodyStart: number;
  /** Body length from content-length; -1 for a chunked body (ends with the zero-length chunk). */
  length: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

function frame(buf: Buffer): Framing | undefined {
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = buf.toString('latin1', 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (cl) return { status, bodyStart: headEnd + 4, length: Number(cl[1]) };
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) return { status, bodyStart: headEnd + 4, length: -1 };
  return { status, bodyStart: headEnd + 4, length: 0 };
}

/** The body of a chunked message (`raw` from the first chunk's size line to the end). */
function unchunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.toString('latin1', at, eol), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * One keep-alive connection of the paced client, one request at a time (no pipelining), with a
 * hand-rolled HTTP/1.1 reader: node:http's client costs several times what the servers under test
 * spend on a small request, and its garbage collections would be counted as their latency.
 */
class PacedConnection {
  private readonly socket: Socket;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private framing?: Framing;
  private onDone?: (status: number, body: Buffer | undefined, error?: Error) => void;
  private closed = false;

  constructor(host: string, port: number, private readonly wantBody: boolean, onReady: (c: PacedConnection) => void, onClose: (c: PacedConnection) => void) {
    this.socket = connect({ host, port, noDelay: true }, () => onReady(this));
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    const close = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      const done = this.onDone;
      this.onDone = undefined;
      done?.(0, undefined, err ?? new Error('connection closed'));
      onClose(this);
    };
    this.socket.on('error', close);
    this.socket.on('close', () => close());
  }

  send(request: Buffer, done: (status: number, body: Buffer | undefined, error?: Error) => void): void {
    this.onDone = done;
    this.socket.write(request);
  }

  private read(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    this.framing ??= frame(buf);
    const f = this.framing;
    if (!f) return;
    let body: Buffer | undefined;
    if (f.length >= 0) {
      if (buf.length < f.bodyStart + f.length) return;
      body = this.wantBody ? buf.subarray(f.bodyStart, f.bodyStart + f.length) : undefined;
    } else {
      if (buf.length < f.bodyStart + CHUNKED_END.length || !buf.subarray(buf.length - CHUNKED_END.length).equals(CHUNKED_END)) return;
      body = this.wantBody ? unchunk(buf.subarray(f.bodyStart)) : undefined;
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.framing = undefined;
    const done = this.onDone;
    this.onDone = undefined;
    done?.(f.status, body);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** How late a request may leave and still count as on time, for the start of the measured part. */
const ON_TIME_MS = 2;

/**
 * When request i is due, in ms from the start: the warm-up requests at a rate rising evenly from a
 * fifth of `rate` to `rate` (a cold client and fresh connections at full rate start behind their
 * schedule), then every request at `rate`.
 */
function pacedSchedule(rate: number, warmupCount: number): (i: number) => number {
  // Warm-up lasting T ms: requests by time t are rate·(0.2t + 0.4t²/T)/1000, warmupCount by t = T.
  const T = warmupCount > 0 ? (warmupCount * 1000) / (0.6 * rate) : 0;
  const a = (0.4 * rate) / (1000 * T);
  const b = (0.2 * rate) / 1000;
  return (i) => {
    if (i < warmupCount) return (-b + Math.sqrt(b * b + 4 * a * i)) / (2 * a);
    return T + ((i - warmupCount) * 1000) / rate;
  };
}

/**
 * An open-loop POST load: after its warm-up, request i leaves at i/rate, so the server sees the rate itself
 * rather than bursts. (autocannon's `overallRate` gives each connection its share of a second at
 * the start of that second, so 32 connections arrive 32 at once every second.) A request goes out
 * on an idle kept-alive connection, or on a new one when all are busy (at most 512), never queued
 * behind another; it is timed from the moment it is handed to the client, a wait for a connection
 * included. See {@link pacedSchedule} and {@link PacedOptions.warmupCount} for how it starts.
 */
export async function pacedPost(o: PacedOptions): Promise<PacedResult> {
  const url = new URL(o.url);
  const host = url.hostname;
  const port = Number(url.port || 80);
  const head = Object.entries({ host: url.host, connection: 'keep-alive', ...o.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const statuses: Record<string, number> = {};
  const times: number[] = [];
  let errors = 0;
  let answered = 0;
  const idle: PacedConnection[] = [];
  const all = new Set<PacedConnection>();
  const waiting: Array<(c: PacedConnection) => void> = [];
  const wantBody = !!o.onResponse;
  /** A connection free for a request: to one waiting for it, or back to the pool (newest first). */
  const release = (c: PacedConnection) => {
    const job = waiting.shift();
    if (job) job(c);
    else idle.push(c);
  };
  const open = () => {
    const c = new PacedConnection(
      host,
      port,
      wantBody,
      release,
      (gone) => {
        all.delete(gone);
        const i = idle.indexOf(gone);
        if (i >= 0) idle.splice(i, 1);
      },
    );
    all.add(c);
  };
  // A few connections ready before the first request, as a kept-alive client would have.
  for (let i = 0; i < 8; i++) open();
  await new Promise<void>((resolve) => {
    const check = () => (idle.length >= 8 || all.size === 0 ? resolve() : setTimeout(check, 5));
    check();
  });
  const warmup = o.warmupCount ?? 0;
  const schedule = pacedSchedule(o.rate, warmup);
  const start = performance.now();
  let index = 0;
  let onSchedule = false;
  const send = (dueAt: number) => {
    const i = index++;
    // Measured from the first request after the warm-up that leaves on time: a client still
    // catching up with its own start would charge its lag to the server.
    if (!onSchedule && i >= warmup && performance.now() - dueAt <= ON_TIME_MS) onSchedule = true;
    const measured = onSchedule && i >= warmup;
    const body = o.body();
    const request = Buffer.from(`POST ${url.pathname}${url.search} HTTP/1.1\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const sentAt = performance.now();
    const go = (c: PacedConnection) => {
      c.send(request, (status, resBody, error) => {
        answered++;
        if (error) {
          errors++;
          return;
        }
        if (measured) times.push(performance.now() - sentAt);
        statuses[status] = (statuses[status] ?? 0) + 1;
        o.onResponse?.(status, resBody ? resBody.toString('utf8') : '', sentAt, measured);
        release(c);
      });
    };
    // A closed connection has left the pool already.
    const c = idle.pop();
    if (c) return go(c);
    // Every connection busy: the request goes out on the first one free, a new one or a returning one.
    if (all.size < 512) open();
    waiting.push(go);
  };
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      for (let due = start + schedule(next); next < o.count && due <= now; due = start + schedule(next)) {
        send(due);
        next++;
      }
      if (next < o.count) setTimeout(tick, Math.max(0, start + schedule(next) - performance.now()));
      else resolve();
    };
    tick();
  });
  const deadline = performance.now() + 30_000;
  while (answered < o.count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  errors += o.count - answered;
  for (const c of all) c.destroy();
  return { statuses, errors, p50: percentile(times, 50), p99: percentile(times, 99), durationSeconds: (performance.now() - start) / 1000 };
}

/**
 * Runs `script` (a client of the paced kind) in a child process with its request bodies, one per
 * line, in a file named by BODIES and the rest of its settings in `env`; resolves with the result
 * it sends over IPC as `{ type: 'result', result }`.
 */
export async function runWithBodies<R>(script: URL, bodies: string[], env: Record<string, string>, name: string): Promise<R> {
  const dir = mkdtempSync(join(tmpdir(), 'eg-paced-'));
  const file = join(dir, 'bodies.txt');
  writeFileSync(file, bodies.join('\n'));
  try {
    const child = fork(fileURLToPath(script), [], {
      // BENCH_CHILD_ARGS adds Node flags here as to every other child of a benchmark.
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean)],
      env: { ...process.env, ...env, BODIES: file },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return await new Promise<R>((resolve, reject) => {
      child.on('message', (m: { type: string; result: R }) => m.type === 'result' && resolve(m.result));
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`${name} exited (${code}) without a result`)));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * {@link pacedPost} from a child process (`bench/support/paced-process.ts`), one request per body:
 * the benchmark process's own pauses then cannot show up as the server's latency.
 */
export function pacedPostInChild(o: { url: string; rate: number; headers: Record<string, string>; bodies: string[]; warmupCount?: number }): Promise<PacedResult> {
  return runWithBodies<PacedResult>(new URL('./paced-process.ts', import.meta.url), o.bodies, { URL: o.url, RATE: String(o.rate), HEADERS: JSON.stringify(o.headers), WARMUP: String(o.warmupCount ?? 0) }, 'the paced client');
}
