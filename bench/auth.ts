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
import { progress, runLoad, type LoadResult } from './support/load.ts';
import { pacedPostInChild, type PacedResult } from './support/paced.ts';
import { startBenchRedis } from './support/redis.ts';
import { fmt } from './support/stats.ts';
import { machineFacts, table, writeSection } from './support/report.ts';
import { usageMeter, type Usage } from './support/usage.ts';
import { AUTH_CLIENT, DEVICES, ueAddress } from './auth/bootstrap.ts';

const LOAD = { connections: 32, durationSeconds: 10, warmupSeconds: 3 };
const TARGETS = { exchangeRatio: 0.4, exchangeP99Ms: 20 };
/** Seconds of paced load at half the maximum rate. */
const PACED_SECONDS = 5;
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const OCL = '/one-click-login/v1';

interface Measured {
  load: LoadResult;
  usage: Usage;
}

interface Results {
  baseline: Measured & { paced: PacedResult & { rate: number } };
  issue: Measured;
  exchange: Measured & { paced: PacedResult & { rate: number } };
  pool: { issued: number; spent: number };
}

const phoneOf = (i: number) => `+86139000${String(i % DEVICES).padStart(5, '0')}`;

/** autocannon at the benchmark's settings: a warm-up that is not counted, then the measured window. */
async function measure(label: string, options: Parameters<typeof runLoad>[1], meter: () => Promise<{ per(n: number): Promise<Usage> }>): Promise<Measured> {
  progress(`${label}: warm-up ${LOAD.warmupSeconds} s`);
  await runLoad(`${label} warm-up`, { ...options, duration: LOAD.warmupSeconds });
  progress(`${label}: measuring ${LOAD.durationSeconds} s at ${LOAD.connections} connections`);
  const m = await meter();
  const load = await runLoad(label, { ...options, duration: LOAD.durationSeconds });
  const usage = await m.per(load.ok);
  progress(`${label}: ${fmt(load.rps)} req/s, p50 ${load.p50} ms, p99 ${load.p99} ms; ${JSON.stringify(load.statuses)}`);
  return { load, usage };
}

async function measureBaseline(cleanup: Cleanup): Promise<Results['baseline']> {
  progress('baseline: a private redis-server (appendonly, everysec) and the express 5 + ioredis GETDEL server');
  const redis = await startBenchRedis(cleanup, 'auth-baseline');
  const child = await startChild('baseline server', 'bench/auth/baseline-server.ts', { REDIS_URL: redis.server.url });
  const stopChild = cleanup.add('baseline server', () => child.stop());
  try {
    // Enough single-use tokens for every request of the run, each holding a phone number.
    const fill = new Redis(redis.server.url);
    const TOKENS = 400_000;
    for (let from = 0; from < TOKENS; from += 10_000) {
      const p = fill.pipeline();
      for (let i = from; i < from + 10_000; i++) p.set(`tok:${i}`, phoneOf(i));
      await p.exec();
    }
    fill.disconnect();
    let next = 0;
    const url = `http://127.0.0.1:${child.ready.port}/exchange`;
    const options = {
      url,
      connections: LOAD.connections,
      requests: [{ method: 'POST' as const, path: '/exchange', headers: { 'content-type': 'application/json' }, setupRequest: (req: any) => ({ ...req, body: JSON.stringify({ token: String(next++) }) }) }],
    };
    const measured = await measure('baseline', options, () => usageMeter(child.process.pid!, redis.server.process.pid!, redis.server.url));
    const rate = Math.max(1, Math.floor(measured.load.rps / 2));
    progress(`baseline: ${PACED_SECONDS} s at ${rate}/s, evenly`);
    const bodies = Array.from({ length: rate * PACED_SECONDS }, () => JSON.stringify({ token: String(next++) }));
    const paced = await pacedPostInChild({ url, rate, headers: { 'content-type': 'application/json' }, bodies });
    if (next > TOKENS) throw new Error(`the baseline ran out of tokens (${next} of ${TOKENS})`);
    return { ...measured, paced: { ...paced, rate } };
  } finally {
    await stopChild();
    await redis.stop();
  }
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

async function measureGateway(cleanup: Cleanup): Promise<Omit<Results, 'baseline'>> {
  progress('gateway: a private redis-server, the simulated network and a gateway process (gateway role)');
  const redis = await startBenchRedis(cleanup, 'auth-gateway');
  const network = await startChild('simulated network', 'bench/network-process.ts', {});
  const stopNetwork = cleanup.add('simulated network', () => network.stop());
  const env = { REDIS_URL: redis.server.url, PCF_URL: network.ready.info!.pcfApiRoot, SUBSCRIBER_API_URL: network.ready.info!.subscriberApiUrl };
  const gateway = await startChild('gateway process', 'bench/gateway-process.ts', { ...env, BENCH_ROLES: 'gateway', BENCH_BOOTSTRAP: 'auth' });
  const stopGateway = cleanup.add('gateway process', () => gateway.stop());
  try {
    const base = `http://127.0.0.1:${gateway.ready.port}`;
    const meter = () => usageMeter({ gateway: gateway.process.pid!, network: network.process.pid! } as never, redis.server.process.pid!, redis.server.url);
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
    const issue = await measure('issuance', issueOptions, meter);
    // The exchange spends one token per request: issue enough first (not measured).
    // An exchange costs about what an issuance does; twice the issuance rate over the steps leaves a margin.
    const needed = Math.ceil(issue.load.rps * 2 * (LOAD.warmupSeconds + LOAD.durationSeconds + PACED_SECONDS));
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
    const exchange = await measure('exchange', exchangeOptions, meter);
    const rate = Math.max(1, Math.floor(exchange.load.rps / 2));
    progress(`exchange: ${PACED_SECONDS} s at ${rate}/s (half its maximum), evenly`);
    const paced = await pacedPostInChild({ url: `${base}${OCL}/login`, rate, headers, bodies: Array.from({ length: rate * PACED_SECONDS }, nextToken) });
    progress(`exchange at ${rate}/s: p50 ${fmt(paced.p50, 1)} ms, p99 ${fmt(paced.p99, 1)} ms; ${JSON.stringify(paced.statuses)}`);
    return { issue, exchange: { ...exchange, paced: { ...paced, rate } }, pool: { issued, spent } };
  } finally {
    await stopGateway();
    await stopNetwork();
    await redis.stop();
  }
}

const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const pct = (x: number) => `${fmt(x * 100, 1)}%`;

function report(r: Results, seconds: number): string {
  const b = r.baseline;
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
        [`one-click token issuance, req/s (${LOAD.connections} connections, ${LOAD.durationSeconds} s)`, fmt(r.issue.load.rps), fmt(b.load.rps), pct(r.issue.load.rps / b.load.rps), '', ''],
        ['issuance latency p50 / p99, ms', `${fmt(r.issue.load.p50)} / ${fmt(r.issue.load.p99)}`, `${fmt(b.load.p50)} / ${fmt(b.load.p99)}`, '', '', ''],
        [`token exchange (login), req/s (${LOAD.connections} connections, ${LOAD.durationSeconds} s)`, fmt(r.exchange.load.rps), fmt(b.load.rps), pct(ratio), `≥ ${TARGETS.exchangeRatio * 100}% of baseline`, yes(ratio >= TARGETS.exchangeRatio)],
        ['exchange latency p50 / p99 at full load, ms', `${fmt(r.exchange.load.p50)} / ${fmt(r.exchange.load.p99)}`, `${fmt(b.load.p50)} / ${fmt(b.load.p99)}`, '', '', ''],
        [`exchange latency p50, ms, at half the maximum rate (gateway ${p.rate}/s, baseline ${b.paced.rate}/s, evenly)`, fmt(p.p50, 1), fmt(b.paced.p50, 1), '', '', ''],
        [`exchange latency p99, ms, at half the maximum rate`, fmt(p.p99, 1), fmt(b.paced.p99, 1), '', `< ${TARGETS.exchangeP99Ms} ms`, yes(p.p99 < TARGETS.exchangeP99Ms && okPaced(p))],
      ],
    ),
    '',
    'How each number was measured:',
    '',
    `- **Baseline**: \`bench/auth/baseline-server.ts\`, express 5 + ioredis in its own Node process: \`POST /exchange\` with \`{"token": "<n>"}\`, one \`GETDEL tok:<n>\` (each request a different pre-stored token holding a phone number), 200 with the number; on its own redis-server (appendonly yes, appendfsync everysec). autocannon ${LOAD.connections} connections, ${LOAD.warmupSeconds} s warm-up, then ${LOAD.durationSeconds} s measured; throughput = 2xx responses / duration. Then ${PACED_SECONDS} s at half that rate, sent evenly by an open-loop client in a process of its own (\`bench/support/paced-process.ts\`), so that the benchmark process's pauses are not counted as latency.`,
    `- **Deployment**: the simulated network in its own process (\`bench/network-process.ts\`: its subscriber API is the UE table that identifies devices by address), a gateway process (\`bench/gateway-process.ts\`, role gateway, bootstrap \`bench/auth/bootstrap.ts\`: one application on a plan that never limits; per-address and per-number limits far above the run), one AOF redis-server, LOG_LEVEL=warn.`,
    `- **Issuance**: \`POST ${OCL}/tokens\` as the phones' SDK sends it, each request from another of ${DEVICES} UEs (its data-path address in X-Forwarded-For from loopback, the trusted proxy in this deployment); the gateway resolves the address to the subscriber, applies the limits, stores the token (hashed, the number sealed) and answers 201. Only 201s count.`,
    `- **Exchange**: \`POST ${OCL}/login\` as the app's server sends it (client-credentials bearer token), each request a different token issued before the step (${r.pool.issued} issued, ${r.pool.spent} spent); the gateway checks the token, the scope and the plan, consumes the token atomically and answers the phone number. Only 200s count. Then ${PACED_SECONDS} s at half the measured rate, evenly; the target is its p99.`,
    '',
    '### Where the time goes',
    '',
    table(
      ['measure (per request)', 'gateway', 'baseline'],
      [
        ['issuance: CPU of our processes, ms', cpu(r.issue.usage), fmt(b.usage.serverCpuMs, 2)],
        ['issuance: redis-server CPU, ms / Redis commands (scripts)', `${fmt(r.issue.usage.redisCpuMs, 2)} / ${fmt(r.issue.usage.redisCommands)} (${fmt(r.issue.usage.redisScripts)})`, `${fmt(b.usage.redisCpuMs, 2)} / ${fmt(b.usage.redisCommands)} (${fmt(b.usage.redisScripts)})`],
        ['exchange: CPU of our processes, ms', cpu(r.exchange.usage), fmt(b.usage.serverCpuMs, 2)],
        ['exchange: redis-server CPU, ms / Redis commands (scripts)', `${fmt(r.exchange.usage.redisCpuMs, 2)} / ${fmt(r.exchange.usage.redisCommands)} (${fmt(r.exchange.usage.redisScripts)})`, `${fmt(b.usage.redisCpuMs, 2)} / ${fmt(b.usage.redisCommands)} (${fmt(b.usage.redisScripts)})`],
      ],
    ),
    '',
    `Answers: issuance ${JSON.stringify(r.issue.load.statuses)}, exchange ${JSON.stringify(r.exchange.load.statuses)}, paced exchange ${JSON.stringify(p.statuses)} (${p.errors} without an answer).`,
  ].join('\n');
}

export async function run(cleanup: Cleanup): Promise<void> {
  const started = Date.now();
  const baseline = await measureBaseline(cleanup);
  const gateway = await measureGateway(cleanup);
  const text = report({ baseline, ...gateway }, (Date.now() - started) / 1000);
  writeSection(DOC, 'Benchmarks', 'auth', text);
  progress('done; written to docs/benchmarks.md');
  process.stdout.write(`\n${text}\n`);
}

