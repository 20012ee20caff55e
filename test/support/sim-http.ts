/** Helpers of the simulators' own tests: plain HTTP calls, and a simulator started as its own program. */
import { spawn } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT } from './process.ts';

/** An HTTP answer as a simulator test looks at it. */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  type: string | null;
  headers: Headers;
  body: T;
}

/** One request with a JSON (or raw string) body; the answer's body parsed when it has one. */
export async function call<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/**
 * Starts `simulators/<element>/main.ts` with `args` and resolves with its `listening` line
 * (parsed) once it printed it, and how to stop it (resolves with the exit code or signal).
 */
export async function startSimulatorProgram(element: string, args: string[]): Promise<{ listening: Record<string, unknown>; stop(): Promise<number | string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `simulators/${element}/main.ts`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const found = out.split('\n').find((l) => l.includes('listening'));
      if (found) resolve(found);
    });
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then(() => reject(new Error(`exited early: ${out}`)));
  });
  return {
    listening: JSON.parse(line) as Record<string, unknown>,
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The exit code of a simulator program started with `args` (a bad command line exits 2). */
export function exitCodeOf(element: string, args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', `simulators/${element}/main.ts`, ...args], { cwd: ROOT, stdio: 'ignore' });
  return new Promise((r) => child.on('exit', r));
}

/**
 * A notification receiver on loopback that records the JSON events POSTed to it, counts the
 * deliveries per key (refused ones too) and can refuse the next few with 503, so a test sees a
 * simulator's retries.
 */
export class EventReceiver<E> {
  readonly events: E[] = [];
  /** Deliveries by key, refused ones included. */
  readonly attempts = new Map<string, number>();
  refuseNext = 0;
  url = '';
  private server?: Server;

  constructor(
    private readonly keyOf: (event: E) => string,
    private readonly path = '/events',
  ) {}

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => this.receive(JSON.parse(text) as E, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${this.path}`;
    return this;
  }

  /** Every delivery so far, refused ones included. */
  get totalAttempts(): number {
    return [...this.attempts.values()].reduce((a, b) => a + b, 0);
  }

  /** Waits until the events received satisfy `ok`; returns what `select` picks from them. */
  async waitUntil<T>(select: (events: E[]) => T, ok: (picked: T) => boolean, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const picked = select(this.events);
      if (ok(picked)) return picked;
      if (Date.now() > end) throw new Error(`condition not reached; events: ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  clear(): void {
    this.events.length = 0;
    this.attempts.clear();
    this.refuseNext = 0;
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private receive(event: E, res: ServerResponse): void {
    const key = this.keyOf(event);
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    if (this.refuseNext > 0) {
      this.refuseNext--;
      res.writeHead(503).end();
      return;
    }
    this.events.push(event);
    res.writeHead(204).end();
  }
}
