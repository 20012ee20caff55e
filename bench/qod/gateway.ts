import { performance } from 'node:perf_hooks';
import type autocannon from 'autocannon';
import { startChild, type Child } from '../support/children.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { progress, runLoad, type LoadResult } from '../support/load.ts';
import { pacedPost } from '../support/paced.ts';
import { startBenchRedis, type BenchRedis } from '../support/redis.ts';
import { percentile } from '../support/stats.ts';
import { usageMeter, type Usage } from '../support/usage.ts';
import type { LoadSettings } from './baseline.ts';
import { BENCH_CLIENT, ELIGIBLE_SUBSCRIBERS, MAX_FLOWS_PER_UE, createBody } from './bootstrap.ts';
import { TimingSink } from './sink.ts';

const SESSIONS = '/quality-on-demand/v1/sessions';

/** Activation latency: from sending createSession to the AVAILABLE CloudEvent at the sink, ms. */
export interface ActivationResult {
  /** Creates per second offered. */
  rate: number;
  sessions: number;
  p50: number;
  p99: number;
  /** Sessions whose AVAILABLE event never came within the wait. */
  missing: number;
  /** Response times of the creates themselves, ms. */
  createP50: number;
  createP99: number;
}

export interface GatewayResults {
  create: LoadResult;
  usage: Usage;
  /** At half the create rate, arriving evenly (the target's measurement). */
  activation: ActivationResult;
  /** The same rate from autocannon `overallRate` over the same connections: bursts at each second. */
  burst: ActivationResult;
  /** Events other than AVAILABLE the sink received (a healthy run has none). */
  otherEvents: Record<string, number>;
}

/**
 * Hands out (subscriber, port) pairs so that no two sessions of the run overlap (409) and no UE
 * holds more flows than the simulated network admits: subscriber n mod 9000, port 1024 + n div 9000.
 */
class SessionSpread {
  private n = 0;
  readonly capacity = ELIGIBLE_SUBSCRIBERS * MAX_FLOWS_PER_UE;
  constructor(private readonly sink: string) {}
  next(): string {
    const n = this.n++ % this.capacity;
    return JSON.stringify(createBody(n % ELIGIBLE_SUBSCRIBERS, 1024 + Math.floor(n / ELIGIBLE_SUBSCRIBERS), this.sink));
  }
  get used(): number {
    return this.n;
  }
}

async function clientToken(base: string): Promise<string> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${BENCH_CLIENT.clientId}:${BENCH_CLIENT.secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A gateway process under test, its redis-server, a sink and a client token. */
interface Running {
  child: Child;
  redis: BenchRedis;
  sink: TimingSink;
  url: string;
  headers: Record<string, string>;
  spread: SessionSpread;
  /** Sessions answered 201 so far. */
  created: number;
  stop(): Promise<void>;
}

async function startGateway(cleanup: Cleanup, roles: string): Promise<Running> {
  const redis = await startBenchRedis(cleanup, 'gateway');
  const stops: Array<() => Promise<void>> = [() => redis.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const child = await startChild('gateway process', 'bench/gateway-process.ts', { REDIS_URL: redis.server.url, BENCH_ROLES: roles });
    stops.push(cleanup.add('gateway process', () => child.stop()));
    const sink = await new TimingSink().start();
    stops.push(cleanup.add('sink', () => sink.close()));
    const base = `http://127.0.0.1:${child.ready.port}`;
    const headers = { authorization: `Bearer ${await clientToken(base)}`, 'content-type': 'application/json' };
    return { child, redis, sink, url: `${base}${SESSIONS}`, headers, spread: new SessionSpread(sink.url), created: 0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** createSession at full load: every request a fresh (device, port). */
async function createLoad(g: Running, label: string, connections: number, durationSeconds: number): Promise<LoadResult> {
  const result = await runLoad(label, {
    url: g.url,
    connections,
    duration: durationSeconds,
    requests: [{ method: 'POST', path: SESSIONS, headers: g.headers, setupRequest: (req) => ({ ...req, body: g.spread.next() }) }],
  });
  g.created += result.statuses['201'] ?? 0;
  return result;
}

/** Waits until the sink has heard of every session created so far (each AVAILABLE, or ended). */
async function drain(g: Running, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  const heard = () => g.sink.available.size + [...g.sink.others.values()].reduce((a, b) => a + b, 0);
  let last = Date.now();
  while (heard() < g.created) {
    if (Date.now() > end) throw new Error(`the gateway did not work off its activation backlog in time: ${heard()} of ${g.created} sessions reported`);
    if (Date.now() - last > 5000) {
      progress(`  waiting for the activation backlog: ${heard()} of ${g.created} sessions reported`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Latencies from the send times of created sessions to their AVAILABLE events. */
async function activationOf(g: Running, sentAt: Map<string, number>, rate: number, create: { p50: number; p99: number }): Promise<ActivationResult> {
  const missing = await g.sink.waitFor(sentAt.keys(), 30_000);
  const latencies = [...sentAt].filter(([id]) => g.sink.available.has(id)).map(([id, sent]) => g.sink.available.get(id)! - sent);
  return { rate, sessions: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), missing, createP50: create.p50, createP99: create.p99 };
}

/** Creates at `rate` per second, evenly spaced, timing each session from send to AVAILABLE. */
async function pacedActivation(g: Running, rate: number, count: number): Promise<ActivationResult> {
  const sentAt = new Map<string, number>();
  const r = await pacedPost({
    url: g.url,
    rate,
    count,
    headers: g.headers,
    body: () => g.spread.next(),
    onResponse: (status, body, sent) => {
      if (status === 201) sentAt.set((JSON.parse(body) as { sessionId: string }).sessionId, sent);
    },
  });
  g.created += r.statuses['201'] ?? 0;
  return activationOf(g, sentAt, rate, r);
}

/**
 * The same with autocannon `overallRate`: the send time of a session is taken when its 201 arrives
 * (now minus autocannon's response time; autocannon emits 'response' right after `onResponse`).
 */
async function burstActivation(g: Running, rate: number, connections: number, durationSeconds: number): Promise<ActivationResult> {
  const sentAt = new Map<string, number>();
  let created: string | undefined;
  const onInstance = (instance: autocannon.Instance) =>
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (created) sentAt.set(created, performance.now() - responseTime);
      created = undefined;
    });
  const r = await runLoad(
    'bursts',
    {
      url: g.url,
      connections,
      overallRate: rate,
      duration: durationSeconds,
      requests: [
        {
          method: 'POST',
          path: SESSIONS,
          headers: g.headers,
          setupRequest: (req) => ({ ...req, body: g.spread.next() }),
          onResponse: (status, body) => {
            if (status === 201) created = (JSON.parse(body) as { sessionId: string }).sessionId;
          },
        },
      ],
    },
    5,
    onInstance,
  );
  g.created += r.statuses['201'] ?? 0;
  return activationOf(g, sentAt, rate, r);
}

/**
 * The full gateway (gateway + worker roles, simulated network in-process, its own AOF Redis):
 * createSession at full load, then activation latency at half that rate. Stops it all before returning.
 */
export async function measureGateway(cleanup: Cleanup, settings: LoadSettings): Promise<GatewayResults> {
  progress('gateway: starting a private redis-server and the gateway process (gateway + worker roles, simulated network with timeScale 0)');
  const g = await startGateway(cleanup, 'gateway,worker');
  try {
    progress(`gateway: warm-up ${settings.warmupSeconds} s`);
    await createLoad(g, 'gateway warm-up', settings.connections, settings.warmupSeconds);
    await drain(g);

    progress(`gateway: measuring createSession ${settings.durationSeconds} s at ${settings.connections} connections`);
    const meter = await usageMeter(g.child.process.pid!, g.redis.server.process.pid!, g.redis.server.url);
    const before = g.created;
    const create = await createLoad(g, 'createSession', settings.connections, settings.durationSeconds);
    progress(`gateway: ${create.rps.toFixed(0)} sessions/s, p50 ${create.p50} ms, p99 ${create.p99} ms; statuses ${JSON.stringify(create.statuses)}`);
    // What the sessions cost includes their activation and notification, done after the window.
    await drain(g);
    const usage = await meter.per(g.created - before);

    const rate = Math.max(1, Math.round(create.rps / 2));
    const count = Math.min(3000, Math.max(400, rate * 8));
    progress(`gateway: activation latency, ${count} sessions at ${rate}/s arriving evenly`);
    const activation = await pacedActivation(g, rate, count);
    progress(`gateway: activation p50 ${activation.p50.toFixed(1)} ms, p99 ${activation.p99.toFixed(1)} ms over ${activation.sessions} sessions (${activation.missing} missing)`);
    await drain(g);

    const burstSeconds = Math.max(3, Math.ceil(count / rate));
    progress(`gateway: the same rate from autocannon overallRate at ${settings.connections} connections, ${burstSeconds} s`);
    const burst = await burstActivation(g, rate, settings.connections, burstSeconds);
    progress(`gateway: in bursts, activation p50 ${burst.p50.toFixed(1)} ms, p99 ${burst.p99.toFixed(1)} ms`);
    if (g.spread.used > g.spread.capacity) progress(`warning: ${g.spread.used} sessions exceed the ${g.spread.capacity} distinct (device, port) pairs; some overlapped`);
    return { create, usage, activation, burst, otherEvents: Object.fromEntries(g.sink.others) };
  } finally {
    await g.stop();
  }
}

/** The gateway role alone (no workers): what createSession's HTTP path can do by itself. */
export async function measureHttpPath(cleanup: Cleanup, settings: LoadSettings): Promise<{ create: LoadResult; usage: Usage }> {
  progress('http path: the gateway process again, gateway role only (sessions are written and their jobs queued, nothing activates them)');
  const g = await startGateway(cleanup, 'gateway');
  try {
    await createLoad(g, 'http path warm-up', settings.connections, settings.warmupSeconds);
    const meter = await usageMeter(g.child.process.pid!, g.redis.server.process.pid!, g.redis.server.url);
    const create = await createLoad(g, 'createSession (HTTP path)', settings.connections, settings.durationSeconds);
    const usage = await meter.per(create.statuses['201'] ?? 0);
    progress(`http path: ${create.rps.toFixed(0)} sessions/s, p50 ${create.p50} ms, p99 ${create.p99} ms`);
    return { create, usage };
  } finally {
    await g.stop();
  }
}
