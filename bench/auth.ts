/**
 * `npm run bench -- auth`: one-click login's token issuance (the phone's SDK, identified by its
 * data-path address) and exchange (the app's server: token → phone number), as throughput and
 * latency, next to a bare express + ioredis endpoint doing one GETDEL in the same run.
 * Target: exchange ≥ 40% of the baseline, p99 < 20 ms at half of its maximum rate.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startChild } from './support/children.ts';
import type { Cleanup } from './support/cleanup.ts';
import { alternate, progress, runLoad, WARM_UP_RESPONSES, type Measured, type Side } from './support/load.ts';
import { pacedPostInChild, type PacedResult } from './support/paced.ts';
import { startBenchRedis } from './support/redis.ts';
import { fmt, medianBy } from './support/stats.ts';
import { machineFacts, table, writeSection } from './support/report.ts';
import { forkMeter, stealMeter, usageMeter, type Usage } from './support/usage.ts';
import { AUTH_CLIENT, DEVICES, ueAddress } from './auth/bootstrap.ts';

const LOAD = { connections: 32, durationSeconds: 10, warmupSeconds: 3 };
const TARGETS = { exchangeRatio: 0.4, exchangeP99Ms: 20 };
/** Seconds of paced load at half the maximum rate, after a second at that rate that is not measured. */
const PACED_SECONDS = 5;
const PACED_WARMUP_SECONDS = 1;
/** Paced steps of each side, alternating; the target is read on the gateway's median p99. */
const PACED_RUNS = 3;
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const OCL = '/one-click-login/v1';

interface Results {
  /** The baseline, measured in windows alternating with issuance's, then with exchange's. */
  baseline: { issue: Measured; exchange: Measured; paced: PacedRuns };
  issue: Measured;
  exchange: Measured & { paced: PacedRuns };
  pool: { issued: number; spent: number };
}

const phoneOf = (i: number) => `+86139000${String(i % DEVICES).padStart(5, '0')}`;

/** A paced step's result, with the CPU stolen and the redis-server's forks (AOF rewrites) meanwhile. */
type Paced = PacedResult & { stolen: number; redisForks: number };

/** A side's paced steps: the one with the median p99, its rate, and every run in order. */
type PacedRuns = Paced & { rate: number; runs: Paced[] };

/** The baseline server, running until stopped, as one side of the alternating measurements. */
interface Baseline {
  side: Side;
  /** Half its measured rate for `seconds`, evenly, from a paced client of its own. */
  paced(rate: number, seconds: number): Promise<Paced>;
  stop(): Promise<void>;
}

/**
 * `seconds` of bodies from `next` at `rate`, evenly, after a warm-up of a second's worth that is
 * not measured (`pacedPostInChild`), with the CPU stolen and the redis-server's forks meanwhile.
 */
async function pacedWithSteal(o: { url: string; redisUrl: string; rate: number; seconds: number; headers: Record<string, string>; next: () => string }): Promise<Paced> {
  const bodies = Array.from({ length: o.rate * (PACED_WARMUP_SECONDS + o.seconds) }, o.next);
  const stolen = stealMeter();
  const forks = await forkMeter(o.redisUrl);
  const result = await pacedPostInChild({ url: o.url, rate: o.rate, headers: o.headers, bodies, warmupCount: o.rate * PACED_WARMUP_SECONDS });
  return { ...result, stolen: stolen(), redisForks: await forks() };
}

async function startBaseline(cleanup: Cleanup): Promise<Baseline> {
  progress('baseline: a private redis-server (appendonly, everysec) and the express 5 + ioredis GETDEL server');
  const redis = await startBenchRedis(cleanup, 'auth-baseline');
  const child = await startChild('baseline server', 'bench/auth/baseline-server.ts', { REDIS_URL: redis.server.url });
  const stopChild = cleanup.add('baseline server', () => child.stop());
  // Enough single-use tokens for every request of the run, each holding a phone number.
  const fill = new Redis(redis.server.url);
  const TOKENS = 600_000;
  for (let from = 0; from < TOKENS; from += 10_000) {
    const p = fill.pipeline();
    for (let i = from; i < from + 10_000; i++) p.set(`tok:${i}`, phoneOf(i));
    await p.exec();
  }
  fill.disconnect();
  let next = 0;
  const nextToken = () => {
    if (next >= TOKENS) throw new Error(`the baseline ran out of tokens (${TOKENS})`);
    return JSON.stringify({ token: String(next++) });
  };
  const url = `http://127.0.0.1:${child.ready.port}/exchange`;
  const options = {
    url,
    connections: LOAD.connections,
    requests: [{ method: 'POST' as const, path: '/exchange', headers: { 'content-type': 'application/json' }, setupRequest: (req: any) => ({ ...req, body: nextToken() }) }],
  };
  return {
    side: {
      name: 'baseline',
      load: (label, seconds) => runLoad(label, { ...options, duration: seconds }),
      meter: () => usageMeter(child.process.pid!, redis.server.process.pid!, redis.server.url),
    },
    paced: (rate, seconds) => pacedWithSteal({ url, redisUrl: redis.server.url, rate, seconds, headers: { 'content-type': 'application/json' }, next: nextToken }),
    async stop() {
      await stopChild();
      await redis.stop();
    },
  };
}

async function clientToken(base: string): Promise<string> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${AUTH_CLIENT.clientId}:${AUTH_CLIENT.secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function measure(cleanup: Cleanup, baseline: Baseline): Promise<Results> {
  progress('gateway: a private redis-server, the simulated network and a gateway process (gateway role)');
  const redis = await startBenchRedis(cleanup, 'auth-gateway');
  const network = await startChild('simulated network', 'bench/network-process.ts', {});
  const stopNetwork = cleanup.add('simulated network', () => network.stop());
  const env = { REDIS_URL: redis.server.url, PCF_URL: network.ready.info!.pcfApiRoot, SUBSCRIBER_API_URL: network.ready.info!.subscriberApiUrl };
  const gateway = await startChild('gateway process', 'bench/gateway-process.ts', { ...env, BENCH_ROLES: 'gateway', BENCH_BOOTSTRAP: 'auth' });
  const stopGateway = cleanup.add('gateway process', () => gateway.stop());
  try {
    const base = `http://127.0.0.1:${gateway.ready.port}`;
    const side = (name: string, options: Parameters<typeof runLoad>[1]): Side => ({
      name,
      load: (label, seconds) => runLoad(label, { ...options, duration: seconds }),
      meter: () => usageMeter({ gateway: gateway.process.pid!, network: network.process.pid! }, redis.server.process.pid!, redis.server.url),
    });
    // Issuance: every request from another phone (its UE address, as the data-path proxy forwards it).
    const pool: string[] = [];
    let device = 0;
    const issueOptions = {
      url: base,
      connections: LOAD.connections,
      requests: [
        {
          method: 'POST' as const,
          path: `${OCL}/tokens`,
          body: JSON.stringify({ clientId: AUTH_CLIENT.clientId }),
          setupRequest: (req: any) => ({ ...req, headers: { 'content-type': 'application/json', 'x-forwarded-for': ueAddress(device++ % DEVICES) } }),
          onResponse: (status: number, body: string) => {
            if (status === 201) pool.push((JSON.parse(body) as { token: string }).token);
          },
        },
      ],
    };
    const [baselineIssue, issue] = await alternate(baseline.side, side('issuance', issueOptions), LOAD);
    progress(`issuance: ${fmt(issue.load.rps)} req/s against the baseline's ${fmt(baselineIssue.load.rps)}`);
    // The exchange spends one token per request: issue enough first (not measured).
    // An exchange costs about what an issuance does; twice the issuance rate over the steps leaves a margin.
    const needed = Math.ceil(issue.load.rps * 2 * (LOAD.warmupSeconds + LOAD.durationSeconds + PACED_RUNS * (PACED_WARMUP_SECONDS + PACED_SECONDS))) + WARM_UP_RESPONSES;
    while (pool.length < needed) {
      progress(`  issuing tokens for the exchange: ${pool.length} of ${needed}`);
      await runLoad('top-up', { ...issueOptions, duration: Math.min(20, Math.ceil((needed - pool.length) / Math.max(1, issue.load.rps)) + 1) });
    }
    const issued = pool.length;
    let spent = 0;
    const nextToken = () => {
      if (spent >= pool.length) throw new Error('the token pool ran dry');
      return JSON.stringify({ token: pool[spent++] });
    };
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${await clientToken(base)}` };
    const exchangeOptions = {
      url: base,
      connections: LOAD.connections,
      requests: [{ method: 'POST' as const, path: `${OCL}/login`, headers, setupRequest: (req: any) => ({ ...req, body: nextToken() }) }],
    };
    const [baselineExchange, exchange] = await alternate(baseline.side, side('exchange', exchangeOptions), LOAD);
    progress(`exchange: ${fmt(exchange.load.rps)} req/s against the baseline's ${fmt(baselineExchange.load.rps)}`);

    // Each at half its own maximum, one right after the other.
    const baselineRate = Math.max(1, Math.floor(baselineExchange.load.rps / 2));
    const rate = Math.max(1, Math.floor(exchange.load.rps / 2));
    const baselineRuns: Paced[] = [];
    const runs: Paced[] = [];
    for (let run = 1; run <= PACED_RUNS; run++) {
      progress(`paced run ${run} of ${PACED_RUNS}: baseline ${PACED_SECONDS} s at ${baselineRate}/s, then exchange ${PACED_SECONDS} s at ${rate}/s (each half its maximum), evenly`);
      baselineRuns.push(await baseline.paced(baselineRate, PACED_SECONDS));
      runs.push(await pacedWithSteal({ url: `${base}${OCL}/login`, redisUrl: redis.server.url, rate, seconds: PACED_SECONDS, headers, next: nextToken }));
      progress(`exchange at ${rate}/s: p50 ${fmt(runs.at(-1)!.p50, 1)} ms, p99 ${fmt(runs.at(-1)!.p99, 1)} ms; ${JSON.stringify(runs.at(-1)!.statuses)}; baseline at ${baselineRate}/s: p99 ${fmt(baselineRuns.at(-1)!.p99, 1)} ms`);
    }
    return {
      baseline: { issue: baselineIssue, exchange: baselineExchange, paced: { ...medianBy(baselineRuns, (x) => x.p99), rate: baselineRate, runs: baselineRuns } },
      issue,
      exchange: { ...exchange, paced: { ...medianBy(runs, (x) => x.p99), rate, runs } },
      pool: { issued, spent },
    };
  } finally {
    await stopGateway();
    await stopNetwork();
    await redis.stop();
  }
}

const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const pct = (x: number) => `${fmt(x * 100, 1)}%`;
const pctSteal = (x: number) => `${fmt(x * 100, 0)}%`;

function sumStatuses(runs: PacedResult[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const x of runs) for (const [code, n] of Object.entries(x.statuses)) sum[code] = (sum[code] ?? 0) + n;
  return sum;
}

function report(r: Results, seconds: number): string {
  const bi = r.baseline.issue;
  const b = r.baseline.exchange;
  const ratio = r.exchange.load.rps / b.load.rps;
  const p = r.exchange.paced;
  const okPaced = (x: PacedResult) => Object.entries(x.statuses).every(([code]) => code.startsWith('2')) && x.errors === 0;
  const cpu = (u: Usage) => `${fmt(u.serverCpuMs, 2)} (${Object.entries(u.byProcess).filter(([, ms]) => ms >= 0.005).map(([n, ms]) => `${n} ${fmt(ms, 2)}`).join(', ')})`;
  return [
    '## Number authentication (`npm run bench -- auth`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(seconds)} s. ${machineFacts().join('; ')}. Everything on 127.0.0.1.`,
    '',
    table(
      ['metric', 'gateway', 'baseline', 'ratio', 'target', 'ok'],
      [
        [`one-click token issuance, req/s (${LOAD.connections} connections, ${LOAD.durationSeconds} s)`, fmt(r.issue.load.rps), fmt(bi.load.rps), pct(r.issue.load.rps / bi.load.rps), '', ''],
        ['issuance latency p50 / p99, ms', `${fmt(r.issue.load.p50)} / ${fmt(r.issue.load.p99)}`, `${fmt(bi.load.p50)} / ${fmt(bi.load.p99)}`, '', '', ''],
        [`token exchange (login), req/s (${LOAD.connections} connections, ${LOAD.durationSeconds} s)`, fmt(r.exchange.load.rps), fmt(b.load.rps), pct(ratio), `≥ ${TARGETS.exchangeRatio * 100}% of baseline`, yes(ratio >= TARGETS.exchangeRatio)],
        ['exchange latency p50 / p99 at full load, ms', `${fmt(r.exchange.load.p50)} / ${fmt(r.exchange.load.p99)}`, `${fmt(b.load.p50)} / ${fmt(b.load.p99)}`, '', '', ''],
        [`exchange latency p50, ms, at half the maximum rate (gateway ${p.rate}/s, baseline ${r.baseline.paced.rate}/s, evenly; the run with the median p99 of ${PACED_RUNS})`, fmt(p.p50, 1), fmt(r.baseline.paced.p50, 1), '', '', ''],
        [`exchange latency p99, ms, at half the maximum rate (the median of ${PACED_RUNS} runs)`, fmt(p.p99, 1), fmt(r.baseline.paced.p99, 1), '', `< ${TARGETS.exchangeP99Ms} ms`, yes(p.p99 < TARGETS.exchangeP99Ms && p.runs.every(okPaced))],
        [`exchange latency p99 of each run, in order, ms`, p.runs.map((x) => fmt(x.p99, 1)).join(', '), r.baseline.paced.runs.map((x) => fmt(x.p99, 1)).join(', '), '', '', ''],
      ],
    ),
    '',
    'How each number was measured:',
    '',
    `- **Baseline**: \`bench/auth/baseline-server.ts\`, express 5 + ioredis in its own Node process: \`POST /exchange\` with \`{"token": "<n>"}\`, one \`GETDEL tok:<n>\` (each request a different pre-stored token holding a phone number), 200 with the number; on its own redis-server (appendonly yes, appendfsync everysec). autocannon ${LOAD.connections} connections, a warm-up of ${LOAD.warmupSeconds} s or more, until ${WARM_UP_RESPONSES} answers, then ${LOAD.durationSeconds} s measured in windows of ${LOAD.durationSeconds / 2} s alternating with the gateway's (baseline, gateway, gateway, baseline), once against issuance and once against exchange, the baseline and the gateway running throughout, so that both see the same machine: on a shared virtual machine the CPU left to us drifts within minutes. Throughput = 2xx responses / measured time; latency percentiles over every response. Then ${PACED_SECONDS} s at half the baseline's rate, right before each of the gateway's paced steps (${PACED_RUNS} of each, alternating), sent evenly by an open-loop client in a process of its own (\`bench/support/paced-process.ts\`), so that the benchmark process's pauses are not counted as latency; first the client sends ${PACED_WARMUP_SECONDS} s worth of requests at a rate rising from a fifth of the step's to all of it, not measured, while it opens its connections and its own code is compiled, and measures from the first request after those that leaves on time (the same for both sides); it writes prebuilt HTTP/1.1 requests on kept-alive sockets, one at a time each, and times each from the moment it goes out, a wait for a free connection included.`,
    `- **Deployment**: the simulated network in its own process (\`bench/network-process.ts\`: its subscriber API is the UE table that identifies devices by address; the gateway keeps its answers while the API's change feed is open, so the issuance's lookup and the exchange's re-check of the same address ask the network once), a gateway process (\`bench/gateway-process.ts\`, role gateway, bootstrap \`bench/auth/bootstrap.ts\`: one application on a plan that never limits; per-address and per-number limits far above the run), one AOF redis-server, LOG_LEVEL=warn.`,
    `- **Issuance**: \`POST ${OCL}/tokens\` as the phones' SDK sends it, each request from another of ${DEVICES} UEs (its data-path address in X-Forwarded-For from loopback, the trusted proxy in this deployment); the gateway resolves the address to the subscriber, applies the limits, stores the token (hashed, the number sealed) and answers 201. Only 201s count.`,
    `- **Exchange**: \`POST ${OCL}/login\` as the app's server sends it (client-credentials bearer token), each request a different token issued before the step (${r.pool.issued} issued, ${r.pool.spent} spent); the gateway checks the token, the scope and the plan (the token's record is read in the same Redis round trip as the rate-limit check), checks that the address still belongs to the subscriber, consumes the token atomically and answers the phone number. Only 200s count. Then ${PACED_SECONDS} s at half the measured rate, evenly, after the warm-up described for the baseline, which is not measured, ${PACED_RUNS} times, each right after one of the baseline's; the target is read on the run with the median p99, so that a single hiccup of the shared machine (every process stalled at once for tens of milliseconds) does not decide it alone, and every run's p99 is given beside it, the baseline's too.`,
    `- **CPU stolen** by the hypervisor (the \`steal\` share of /proc/stat, over both cores): issuance ${pctSteal(r.issue.load.stolen)} (baseline's windows ${pctSteal(bi.load.stolen)}), exchange ${pctSteal(r.exchange.load.stolen)} (baseline's windows ${pctSteal(b.load.stolen)}), paced exchange ${p.runs.map((x) => pctSteal(x.stolen)).join(', ')} (baseline's ${r.baseline.paced.runs.map((x) => pctSteal(x.stolen)).join(', ')}). Time stolen from a process is time it cannot answer in, so these bound how far the figures say anything about the code. Forks of each side's redis-server (an AOF rewrite, whose child copies the data set at niceness 19 in the SCHED_IDLE class, in the CPU time the other processes leave idle) during its paced steps: gateway ${p.runs.map((x) => x.redisForks).join(', ')}, baseline ${r.baseline.paced.runs.map((x) => x.redisForks).join(', ')}.`,
    '',
    '### Where the time goes',
    '',
    table(
      ['measure (per request)', 'gateway', 'baseline'],
      [
        ['issuance: CPU of our processes, ms', cpu(r.issue.usage), fmt(bi.usage.serverCpuMs, 2)],
        ['issuance: redis-server CPU, ms / Redis commands (scripts)', `${fmt(r.issue.usage.redisCpuMs, 2)} / ${fmt(r.issue.usage.redisCommands)} (${fmt(r.issue.usage.redisScripts)})`, `${fmt(bi.usage.redisCpuMs, 2)} / ${fmt(bi.usage.redisCommands)} (${fmt(bi.usage.redisScripts)})`],
        ['exchange: CPU of our processes, ms', cpu(r.exchange.usage), fmt(b.usage.serverCpuMs, 2)],
        ['exchange: redis-server CPU, ms / Redis commands (scripts)', `${fmt(r.exchange.usage.redisCpuMs, 2)} / ${fmt(r.exchange.usage.redisCommands)} (${fmt(r.exchange.usage.redisScripts)})`, `${fmt(b.usage.redisCpuMs, 2)} / ${fmt(b.usage.redisCommands)} (${fmt(b.usage.redisScripts)})`],
      ],
    ),
    '',
    `Answers: issuance ${JSON.stringify(r.issue.load.statuses)}, exchange ${JSON.stringify(r.exchange.load.statuses)}, paced exchange ${JSON.stringify(sumStatuses(p.runs))} (${p.runs.reduce((n, x) => n + x.errors, 0)} without an answer).`,
  ].join('\n');
}

export async function run(cleanup: Cleanup): Promise<void> {
  const started = Date.now();
  const baseline = await startBaseline(cleanup);
  let results: Results;
  try {
    results = await measure(cleanup, baseline);
  } finally {
    await baseline.stop();
  }
  const text = report(results, (Date.now() - started) / 1000);
  writeSection(DOC, 'Benchmarks', 'auth', text);
  progress('done; written to docs/benchmarks.md');
  process.stdout.write(`\n${text}\n`);
}

