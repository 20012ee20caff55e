import { performance } from 'node:perf_hooks';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { startChild, type Child, type GcCount } from '../support/children.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { alternate, progress, runLoad, type LoadResult, type Measured, type Side } from '../support/load.ts';
import { runWithBodies } from '../support/paced.ts';
import { startBenchRedis, type BenchRedis } from '../support/redis.ts';
import { medianBy, percentile } from '../support/stats.ts';
import { forkMeter, stealMeter, usageMeter, type Usage } from '../support/usage.ts';
import type { LoadSettings } from './baseline.ts';
import { BENCH_CLIENT, ELIGIBLE_SUBSCRIBERS, MAX_FLOWS_PER_UE, createBody, phoneOf } from './bootstrap.ts';
import { SINK_PLACEHOLDER, TimingSink, type Arrival, type ProbeResult } from './sink.ts';

const SESSIONS = '/quality-on-demand/v1/sessions';
/** Runs of the activation-latency step; the one with the median p99 is reported, with the others beside it. */
export const ACTIVATION_RUNS = 3;

/** Activation latency: from sending createSession to the AVAILABLE CloudEvent at the sink, ms. */
export interface ActivationResult {
  /** Creates per second offered. */
  rate: number;
  sessions: number;
  /** Each measured session's, ms. */
  latencies: number[];
  p50: number;
  p99: number;
  /** Sessions whose AVAILABLE event never came within the wait. */
  missing: number;
  /** Response times of the creates themselves, ms. */
  createP50: number;
  createP99: number;
  /** From the session's creation to its AVAILABLE transition in Redis (the gateway's own clock), ms. */
  toAvailable: { p50: number; p99: number };
  /** From that transition to the event's arrival at the sink (wall clock, same machine), ms. */
  toSink: { p50: number; p99: number };
  /** Share of the machine's CPU time stolen by the hypervisor while the creates were sent. */
  stolen: number;
  /** Forks of the redis-server (AOF rewrites) from the first create until every event arrived. */
  redisForks: number;
  /** createSession's answers by status, warm-up included (all 201 in a healthy run). */
  statuses: Record<string, number>;
  /** Sessions active when the run began: created by the benchmark, not deleted by it, not ended. */
  activeSessions: number;
  /** Major garbage collections of our processes during the run, by process, with their pauses. */
  majorGcs: Record<string, GcCount>;
}

/** Sessions created under load with every process running, counted once they are AVAILABLE. */
export interface SustainedResult {
  create: LoadResult;
  /** Sessions of the window, all reported AVAILABLE (or ended) at the sink. */
  sessions: number;
  /** From the start of the window until the last of them was reported. */
  seconds: number;
  /** sessions / seconds: creates per second the whole system carries through to AVAILABLE. */
  rate: number;
  usage: Usage;
}

export interface GatewayResults {
  /** The gateway process alone: createSession's own throughput (activation jobs wait in Redis). */
  create: LoadResult;
  usage: Usage;
  /** The baseline, measured in windows alternating with `create`'s. */
  baseline: Measured;
  /** The worker process working off that backlog alone. */
  backlog: { sessions: number; seconds: number; rate: number; usage: Usage };
  /** Everything running at once under the same closed-loop load. */
  sustained: SustainedResult;
  /**
   * At half the sustained rate, arriving evenly (the target's measurement): the run with the median
   * p99 of {@link ACTIVATION_RUNS}, so that one hiccup of the machine does not decide the figure.
   */
  activation: ActivationResult;
  /** Every run, in order. */
  activationRuns: ActivationResult[];
  /** The sessions of all runs together. */
  activationPooled: { sessions: number; p99: number };
  /** The same rate from autocannon `overallRate` over the same connections: bursts at each second. */
  burst: ActivationResult;
  /** Events other than AVAILABLE the sink received (a healthy run has none). */
  otherEvents: Record<string, number>;
  /** Sessions the benchmark deleted between steps to reuse their (device, port) pairs. */
  deleted: number;
}

/**
 * Hands out (subscriber, port) pairs so that no two sessions of the run overlap (409) and no UE
 * holds more flows than the simulated network admits: subscriber n mod 9000, port 1024 + n div 9000.
 */
class SessionSpread {
  private n = 0;
  readonly capacity = ELIGIBLE_SUBSCRIBERS * MAX_FLOWS_PER_UE;
  constructor(private readonly sink: string) {}
  /** The next createSession body, its events going to `sink` (by default the deployment's). */
  next(sink = this.sink): string {
    const n = this.n++ % this.capacity;
    return JSON.stringify(createBody(n % ELIGIBLE_SUBSCRIBERS, 1024 + Math.floor(n / ELIGIBLE_SUBSCRIBERS), sink));
  }
  get used(): number {
    return this.n;
  }
  /** The (phone number, port) pairs of the next `count` bodies, as `phone|port`. */
  upcoming(count: number): Set<string> {
    const pairs = new Set<string>();
    for (let k = 0; k < count; k++) {
      const n = (this.n + k) % this.capacity;
      pairs.add(`${phoneOf(n % ELIGIBLE_SUBSCRIBERS)}|${1024 + Math.floor(n / ELIGIBLE_SUBSCRIBERS)}`);
    }
    return pairs;
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

/**
 * A deployment under test, as it runs in production: the simulated network in its own process, a
 * gateway process (gateway role), a worker process (worker role, started when asked), one AOF
 * redis-server, a sink, and a client token.
 */
interface Running {
  redis: BenchRedis;
  network: Child;
  gateway: Child;
  worker?: Child;
  sink: TimingSink;
  url: string;
  headers: Record<string, string>;
  spread: SessionSpread;
  /** Sessions answered 201 so far. */
  created: number;
  /** Sessions answered 201 to the activation probes (their events go to the probes' sinks). */
  probed: number;
  /** Sessions the benchmark deleted to reuse their (device, port) pairs ({@link makeRoom}). */
  deleted: number;
  /** Starts the worker process (once). */
  startWorker(): Promise<Child>;
  /** The processes running now, by name, for CPU readings. */
  pids(): Record<string, number>;
  /** The child processes running now, by name. */
  children(): Record<string, Child>;
  stop(): Promise<void>;
}

async function startDeployment(cleanup: Cleanup): Promise<Running> {
  const redis = await startBenchRedis(cleanup, 'gateway');
  const stops: Array<() => Promise<void>> = [() => redis.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const network = await startChild('simulated network', 'bench/network-process.ts', {});
    stops.push(cleanup.add('simulated network', () => network.stop()));
    const env = { REDIS_URL: redis.server.url, PCF_URL: network.ready.info!.pcfApiRoot, SUBSCRIBER_API_URL: network.ready.info!.subscriberApiUrl };
    const gateway = await startChild('gateway process', 'bench/gateway-process.ts', { ...env, BENCH_ROLES: 'gateway' });
    stops.push(cleanup.add('gateway process', () => gateway.stop()));
    const sink = await new TimingSink().start();
    stops.push(cleanup.add('sink', () => sink.close()));
    const base = `http://127.0.0.1:${gateway.ready.port}`;
    const headers = { authorization: `Bearer ${await clientToken(base)}`, 'content-type': 'application/json' };
    const running: Running = {
      redis,
      network,
      gateway,
      sink,
      url: `${base}${SESSIONS}`,
      headers,
      spread: new SessionSpread(sink.url),
      created: 0,
      probed: 0,
      deleted: 0,
      async startWorker() {
        if (running.worker) return running.worker;
        const worker = await startChild('worker process', 'bench/gateway-process.ts', { ...env, BENCH_ROLES: 'worker' });
        stops.push(cleanup.add('worker process', () => worker.stop()));
        return (running.worker = worker);
      },
      children() {
        return { network, gateway, ...(running.worker ? { worker: running.worker } : {}) };
      },
      pids() {
        const pids: Record<string, number> = { gateway: gateway.process.pid!, network: network.process.pid! };
        if (running.worker) pids.worker = running.worker.process.pid!;
        return pids;
      },
      stop,
    };
    return running;
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
  let last = Date.now();
  while (g.sink.heard < g.created) {
    if (Date.now() > end) throw new Error(`the gateway did not work off its activation backlog in time: ${g.sink.heard} of ${g.created} sessions reported`);
    if (Date.now() - last > 5000) {
      progress(`  waiting for the activation backlog: ${g.sink.heard} of ${g.created} sessions reported`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Frees the (device, port) pairs the next `count` creates will use: the simulated network has 99,000
 * (9,000 subscribers, 11 flows each), and a fast machine creates more than that in a run. Deletes
 * the active sessions holding them (the oldest ones) through the API, between measured steps, and
 * waits until the network has released their flows; the number of active sessions stays near the
 * network's capacity.
 */
async function makeRoom(g: Running, count: number): Promise<void> {
  if (g.spread.used + count <= g.spread.capacity) return;
  const wanted = g.spread.upcoming(count);
  const redis = new Redis(g.redis.server.url);
  try {
    const holders: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'eg:qod:s:*', 'COUNT', 2000);
      cursor = next;
      if (!keys.length) continue;
      for (const text of await redis.mget(...keys)) {
        const s = text ? (JSON.parse(text) as { id: string; status: string; device?: { phoneNumber?: string }; applicationServerPorts?: { ports?: number[] } }) : undefined;
        if (!s || (s.status !== 'AVAILABLE' && s.status !== 'REQUESTED')) continue;
        if (wanted.has(`${s.device?.phoneNumber}|${s.applicationServerPorts?.ports?.[0]}`)) holders.push(s.id);
      }
    } while (cursor !== '0');
    if (!holders.length) return;
    progress(`gateway: deleting the ${holders.length} oldest sessions, whose (device, port) pairs the next ${count} creates reuse`);
    let next = 0;
    const lane = async () => {
      while (next < holders.length) {
        const id = holders[next++];
        const res = await fetch(`${g.url}/${id}`, { method: 'DELETE', headers: { authorization: g.headers.authorization } });
        if (res.status !== 204 && res.status !== 404) throw new Error(`deleteSession ${id} answered ${res.status}: ${await res.text()}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    g.deleted += holders.length;
    // A deleted session's record goes once the network has released its flow; its event goes to the sink.
    const end = Date.now() + 60_000;
    for (;;) {
      let left = 0;
      for (let i = 0; i < holders.length; i += 1000) left += await redis.exists(...holders.slice(i, i + 1000));
      if (left === 0 && g.sink.deleted >= g.deleted) break;
      if (Date.now() > end) throw new Error(`after 60 s, ${left} of ${holders.length} deleted sessions still hold their flows; the sink heard ${g.sink.deleted} of ${g.deleted} deletions`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.disconnect();
  }
}

/** Counts the major garbage collections of every child process from now until the returned function is called. */
async function gcMeter(g: Running): Promise<() => Promise<Record<string, GcCount>>> {
  const read = async () => Object.fromEntries(await Promise.all(Object.entries(g.children()).map(async ([name, c]) => [name, await c.majorGcs()] as const)));
  const start = await read();
  return async () => {
    const end = await read();
    return Object.fromEntries(Object.entries(end).map(([name, e]) => [name, { pausesMs: e.pausesMs.slice(start[name]?.pausesMs.length ?? 0) }]));
  };
}

/** Sessions active now: created, neither deleted by the benchmark nor ended by the network. */
function activeNow(g: Running): number {
  let ended = 0;
  for (const n of g.sink.others.values()) ended += n;
  return g.created + g.probed - g.deleted - ended;
}

/** Percentiles of measured sessions' send → AVAILABLE times, split where the session records say it became AVAILABLE. */
async function summarise(
  g: Running,
  arrivals: Arrival[],
  o: { rate: number; missing: number; create: { p50: number; p99: number; statuses: Record<string, number> }; stolen: number; redisForks: number; activeSessions: number; majorGcs: Record<string, GcCount> },
): Promise<ActivationResult> {
  const latencies = arrivals.map((a) => a.ms);
  const arrivedAt = new Map(arrivals.map((a) => [a.id, a.at]));
  const redis = new Redis(g.redis.server.url);
  try {
    const records = arrivals.length
      ? (await redis.mget(...arrivals.map((a) => `eg:qod:s:${a.id}`)))
          .filter((r): r is string => !!r)
          .map((r) => JSON.parse(r) as { id: string; createdAt: number; startedAt?: number })
          .filter((r) => r.startedAt !== undefined)
      : [];
    const toAvailable = records.map((r) => r.startedAt! - r.createdAt);
    const toSink = records.map((r) => arrivedAt.get(r.id)! - r.startedAt!);
    const split = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
    return {
      rate: o.rate,
      sessions: latencies.length,
      latencies,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      missing: o.missing,
      createP50: o.create.p50,
      createP99: o.create.p99,
      toAvailable: split(toAvailable),
      toSink: split(toSink),
      stolen: o.stolen,
      redisForks: o.redisForks,
      statuses: o.create.statuses,
      activeSessions: o.activeSessions,
      majorGcs: o.majorGcs,
    };
  } finally {
    redis.disconnect();
  }
}

/**
 * Creates at `rate` per second, evenly spaced, timing each session from send to AVAILABLE: after
 * a second's worth of warm-up at a rate rising to the full one, `count` measured sessions. The
 * client and the sink run in a probe process of their own.
 */
async function pacedActivation(g: Running, rate: number, count: number): Promise<{ result: ActivationResult; others: Record<string, number> }> {
  const warmupCount = Math.max(50, Math.round(rate));
  await makeRoom(g, warmupCount + count);
  const activeSessions = activeNow(g);
  const gcs = await gcMeter(g);
  const bodies = Array.from({ length: warmupCount + count }, () => g.spread.next(SINK_PLACEHOLDER));
  const stolen = stealMeter();
  const forks = await forkMeter(g.redis.server.url);
  const env = { URL: g.url, RATE: String(rate), HEADERS: JSON.stringify(g.headers), WARMUP: String(warmupCount) };
  const probe = await runWithBodies<ProbeResult>(new URL('./probe-process.ts', import.meta.url), bodies, env, 'the activation probe');
  g.probed += probe.create.statuses['201'] ?? 0;
  const result = await summarise(g, probe.arrivals, { rate, missing: probe.missing, create: probe.create, stolen: stolen(), redisForks: await forks(), activeSessions, majorGcs: await gcs() });
  return { result, others: probe.others };
}

/**
 * The same with autocannon `overallRate`: the send time of a session is taken when its 201 arrives
 * (now minus autocannon's response time; autocannon emits 'response' right after `onResponse`).
 */
async function burstActivation(g: Running, rate: number, connections: number, durationSeconds: number): Promise<ActivationResult> {
  const sentAt = new Map<string, number>();
  const activeSessions = activeNow(g);
  const gcs = await gcMeter(g);
  const forks = await forkMeter(g.redis.server.url);
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
  const missing = await g.sink.waitFor(sentAt.keys(), 30_000);
  return summarise(g, g.sink.arrivalsOf(sentAt), { rate, missing, create: r, stolen: r.stolen, redisForks: await forks(), activeSessions, majorGcs: await gcs() });
}

/**
 * The deployment in four steps: createSession at full load on the gateway process alone (its jobs
 * wait in Redis), in windows alternating with the baseline's, which is stopped after; the worker process starts and works the backlog off; the same load with every
 * process running, counted until each session is AVAILABLE (the sustained rate); activation
 * latency at half that rate. Stops it all before returning (on failure, the run's cleanup stops the baseline).
 */
export async function measureGateway(cleanup: Cleanup, settings: LoadSettings, baseline: { side: Side; stop(): Promise<void> }): Promise<GatewayResults> {
  progress('gateway: starting a private redis-server, the simulated network (timeScale 0) and the gateway process (gateway role)');
  const g = await startDeployment(cleanup);
  try {
    progress(`gateway: createSession against the baseline, ${settings.durationSeconds} s each at ${settings.connections} connections in alternating windows (no worker running yet)`);
    const gatewaySide: Side = {
      name: 'createSession',
      load: (label, seconds) => createLoad(g, label, settings.connections, seconds),
      meter: () => usageMeter(g.pids(), g.redis.server.process.pid!, g.redis.server.url),
    };
    const [baselineRun, createRun] = await alternate(baseline.side, gatewaySide, settings);
    await baseline.stop();
    const { load: create, usage } = createRun;
    progress(`gateway: ${create.rps.toFixed(0)} sessions/s, p50 ${create.p50} ms, p99 ${create.p99} ms; statuses ${JSON.stringify(create.statuses)}; baseline ${baselineRun.load.rps.toFixed(0)} req/s`);

    progress(`gateway: starting the worker process; it works off ${g.created} queued activations`);
    await g.startWorker();
    let meter = await usageMeter(g.pids(), g.redis.server.process.pid!, g.redis.server.url);
    const backlogStart = performance.now();
    const backlogSessions = g.created;
    await drain(g);
    const backlogSeconds = (performance.now() - backlogStart) / 1000;
    const backlog = { sessions: backlogSessions, seconds: backlogSeconds, rate: backlogSessions / backlogSeconds, usage: await meter.per(backlogSessions) };
    progress(`gateway: backlog worked off at ${backlog.rate.toFixed(0)} sessions/s`);

    progress(`gateway: everything running, createSession ${settings.durationSeconds} s at ${settings.connections} connections, each session counted once AVAILABLE`);
    // The closed-loop load creates about as many per second as the worker alone worked off.
    await makeRoom(g, Math.ceil(backlog.rate * settings.durationSeconds * 1.5));
    meter = await usageMeter(g.pids(), g.redis.server.process.pid!, g.redis.server.url);
    const before = g.created;
    const sustainedStart = performance.now();
    const sustainedCreate = await createLoad(g, 'sustained', settings.connections, settings.durationSeconds);
    await drain(g);
    const sustainedSeconds = (performance.now() - sustainedStart) / 1000;
    const sustainedSessions = g.created - before;
    const sustained: SustainedResult = {
      create: sustainedCreate,
      sessions: sustainedSessions,
      seconds: sustainedSeconds,
      rate: sustainedSessions / sustainedSeconds,
      usage: await meter.per(sustainedSessions),
    };
    progress(`gateway: sustained ${sustained.rate.toFixed(0)} sessions/s created and AVAILABLE (createSession answered ${sustainedCreate.rps.toFixed(0)}/s)`);

    const rate = Math.max(1, Math.round(sustained.rate / 2));
    const count = Math.min(3000, Math.max(400, rate * 8));
    const activationRuns: ActivationResult[] = [];
    // Events other than AVAILABLE, at the probes' sinks and at the deployment's.
    const otherEvents = new Map<string, number>();
    for (let run = 1; run <= ACTIVATION_RUNS; run++) {
      progress(`gateway: activation latency, run ${run} of ${ACTIVATION_RUNS}: ${count} sessions at ${rate}/s arriving evenly, after a warm-up`);
      const { result, others } = await pacedActivation(g, rate, count);
      for (const [k, n] of Object.entries(others)) otherEvents.set(k, (otherEvents.get(k) ?? 0) + n);
      progress(`gateway: activation p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms over ${result.sessions} sessions (${result.missing} missing)`);
      activationRuns.push(result);
    }
    const activation = medianBy(activationRuns, (r) => r.p99);
    const pooled = activationRuns.flatMap((r) => r.latencies);
    const activationPooled = { sessions: pooled.length, p99: percentile(pooled, 99) };

    const burstSeconds = Math.max(3, Math.ceil(count / rate));
    await makeRoom(g, Math.ceil(rate * burstSeconds * 1.2));
    progress(`gateway: the same rate from autocannon overallRate at ${settings.connections} connections, ${burstSeconds} s`);
    const burst = await burstActivation(g, rate, settings.connections, burstSeconds);
    progress(`gateway: in bursts, activation p50 ${burst.p50.toFixed(1)} ms, p99 ${burst.p99.toFixed(1)} ms`);
    for (const [k, n] of g.sink.others) otherEvents.set(k, (otherEvents.get(k) ?? 0) + n);
    return { create, usage, baseline: baselineRun, backlog, sustained, activation, activationRuns, activationPooled, burst, otherEvents: Object.fromEntries(otherEvents), deleted: g.deleted };
  } finally {
    await g.stop();
  }
}
