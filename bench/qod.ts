/**
 * `npm run bench -- qod`: Quality on Demand against a baseline measured in the same run.
 *
 * 1. baseline: express 5 + ioredis answering a small JSON POST with one SET, its own process and
 *    its own AOF redis-server; autocannon at 32 connections for 10 s.
 * 2. gateway: deployed as in production, in processes of their own: the simulated network
 *    (timeScale 0), a gateway process, a worker process, one AOF redis-server. createSession with
 *    the same autocannon settings on the gateway process; the worker then works the backlog off;
 *    the same load with everything running gives the sustained rate (sessions created and
 *    AVAILABLE per second); activation latency at half that rate.
 * 3. memory: 100,000 AVAILABLE sessions on a fresh AOF redis-server, used_memory before and after.
 *
 * Prints a markdown table on stdout (progress on stderr) and records it in docs/benchmarks.md.
 */
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './support/cleanup.ts';
import { progress, WARM_UP_RESPONSES, type Measured } from './support/load.ts';
import { machineFacts, table, writeSection } from './support/report.ts';
import { fmt } from './support/stats.ts';
import type { Usage } from './support/usage.ts';
import { EXPIRY_JOB_HORIZON_MS } from '../src/capabilities/qod/lifecycle.ts';
import { BASELINE_BODY, startBaseline, type LoadSettings } from './qod/baseline.ts';
import { ACTIVATION_RUNS, measureGateway, type ActivationResult } from './qod/gateway.ts';
import { measureMemory, type MemoryResult, type MemorySettings } from './qod/memory.ts';

const LOAD: LoadSettings = { connections: 32, durationSeconds: 10, warmupSeconds: 3 };
const MEMORY: MemorySettings = { sessions: 100_000, fullPath: 5_000, concurrency: 64, requestedTimeoutSeconds: 10 };
const TARGETS = { throughputRatio: 0.35, activationP99Ms: 50, bytesPerSession: 2048 };
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

type Results = {
  baseline: Measured;
  gateway: Awaited<ReturnType<typeof measureGateway>>;
  memory: MemoryResult;
};

/** createSession answers other than 201 in an activation run (a healthy run has none). */
const refusedOf = (x: ActivationResult) => Object.entries(x.statuses).reduce((n, [code, c]) => (code === '201' ? n : n + c), 0);
/** `network 1 (72 ms), worker 0` style: the processes with major collections in a run, and their pauses. */
const majorGcText = (x: ActivationResult) =>
  Object.entries(x.majorGcs)
    .filter(([, c]) => c.pausesMs.length > 0)
    .map(([name, c]) => `${name} ${c.pausesMs.length} (${c.pausesMs.map((ms) => `${fmt(ms)} ms`).join(', ')})`)
    .join(', ') || 'none';
const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const pct = (x: number) => `${fmt(x * 100, 1)}%`;
const times = (x: number) => `${fmt(x, 1)}×`;

function mainTable(r: Results): string {
  const { baseline, gateway, memory } = r;
  const ratio = gateway.create.rps / baseline.load.rps;
  const a = gateway.activation;
  const runs = gateway.activationRuns;
  const missing = runs.reduce((n, x) => n + x.missing, 0);
  const refused = runs.reduce((n, x) => n + refusedOf(x), 0);
  return table(
    ['metric', 'gateway', 'baseline', 'ratio', 'target', 'ok'],
    [
      [`createSession throughput, req/s (gateway process; ${LOAD.connections} connections, ${LOAD.durationSeconds} s)`, fmt(gateway.create.rps), fmt(baseline.load.rps), pct(ratio), `≥ ${TARGETS.throughputRatio * 100}% of baseline`, yes(ratio >= TARGETS.throughputRatio)],
      ['createSession latency p50, ms', fmt(gateway.create.p50), fmt(baseline.load.p50), times(gateway.create.p50 / baseline.load.p50), '', ''],
      ['createSession latency p99, ms', fmt(gateway.create.p99), fmt(baseline.load.p99), times(gateway.create.p99 / baseline.load.p99), '', ''],
      ['sustained: sessions created and AVAILABLE per second, every process running', fmt(gateway.sustained.rate), fmt(baseline.load.rps), pct(gateway.sustained.rate / baseline.load.rps), '', ''],
      [`activation latency p50, ms (${a.rate}/s = half the sustained rate; the run with the median p99 of ${runs.length}, ${a.sessions} sessions)`, fmt(a.p50, 1), '', '', '', ''],
      [`activation latency p99, ms (${a.rate}/s; the median of ${runs.length} runs)`, fmt(a.p99, 1), '', '', `< ${TARGETS.activationP99Ms} ms`, yes(a.p99 < TARGETS.activationP99Ms && missing === 0 && refused === 0)],
      [`activation latency p99 of each run, in order / of their ${gateway.activationPooled.sessions} sessions together, ms`, `${runs.map((x) => fmt(x.p99, 1)).join(', ')} / ${fmt(gateway.activationPooled.p99, 1)}`, '', '', '', ''],
      [`Redis memory per active session, bytes (${memory.settings.sessions.toLocaleString('en')} sessions)`, fmt(memory.perSession), '', '', `< ${TARGETS.bytesPerSession} B`, yes(memory.perSession < TARGETS.bytesPerSession)],
    ],
  );
}

const perProcess = (u: Usage) =>
  Object.entries(u.byProcess)
    .filter(([, ms]) => ms >= 0.005)
    .map(([name, ms]) => `${name} ${fmt(ms, 2)}`)
    .join(', ');

function usageRows(label: string, g: Usage, b?: Usage): string[][] {
  const cell = (u: Usage | undefined, pick: (u: Usage) => number, d: number) => (u ? fmt(pick(u), d) : '');
  return [
    [`${label}: CPU of our processes, ms (${perProcess(g)})`, cell(g, (u) => u.serverCpuMs, 2), cell(b, (u) => u.serverCpuMs, 2)],
    [`${label}: redis-server CPU, ms`, cell(g, (u) => u.redisCpuMs, 2), cell(b, (u) => u.redisCpuMs, 2)],
    [`${label}: Redis commands (Lua scripts among them)`, `${cell(g, (u) => u.redisCommands, 0)} (${cell(g, (u) => u.redisScripts, 0)})`, b ? `${cell(b, (u) => u.redisCommands, 0)} (${cell(b, (u) => u.redisScripts, 0)})` : ''],
  ];
}

function diagnosticsTable(r: Results): string {
  const burst: ActivationResult = r.gateway.burst;
  const { backlog, sustained } = r.gateway;
  return table(
    ['measure (per session)', 'gateway', 'baseline'],
    [
      ...usageRows('createSession on the gateway process', r.gateway.usage, r.baseline.usage),
      [`worker process alone working off the backlog of ${backlog.sessions} activations, sessions/s`, fmt(backlog.rate), ''],
      ...usageRows('activation and notification (backlog)', backlog.usage),
      [`sustained run: createSession answered, req/s (p50 / p99 ms)`, `${fmt(sustained.create.rps)} (${fmt(sustained.create.p50)} / ${fmt(sustained.create.p99)})`, ''],
      [`sustained run: ${sustained.sessions} sessions AVAILABLE after, s`, fmt(sustained.seconds, 1), ''],
      ...usageRows('sustained run, everything included', sustained.usage),
      [`activation at ${r.gateway.activation.rate}/s, evenly: createSession answered, p50 / p99 ms`, `${fmt(r.gateway.activation.createP50, 1)} / ${fmt(r.gateway.activation.createP99, 1)}`, ''],
      [`activation at ${r.gateway.activation.rate}/s, evenly: created → AVAILABLE in Redis, p50 / p99 ms`, `${fmt(r.gateway.activation.toAvailable.p50)} / ${fmt(r.gateway.activation.toAvailable.p99)}`, ''],
      [`activation at ${r.gateway.activation.rate}/s, evenly: AVAILABLE → event at the sink, p50 / p99 ms`, `${fmt(r.gateway.activation.toSink.p50)} / ${fmt(r.gateway.activation.toSink.p99)}`, ''],
      [`activation latency p50 / p99 at ${burst.rate}/s in autocannon overallRate bursts (${LOAD.connections} connections), ms`, `${fmt(burst.p50, 1)} / ${fmt(burst.p99, 1)}`, ''],
    ],
  );
}

function memoryTable(m: MemoryResult): string {
  const rows = m.categories.map((c) => [c.name, String(c.keys), fmt(c.bytes / m.settings.sessions), c.perSession ? 'yes' : 'no (bounded)']);
  const sum = m.categories.reduce((s, c) => s + c.bytes, 0);
  rows.push(['sum of MEMORY USAGE', '', fmt(sum / m.settings.sessions), '']);
  rows.push(['change in used_memory (the metric)', '', fmt(m.perSession), '']);
  return table(['what', 'keys', 'bytes per session', 'grows with sessions'], rows);
}

function method(r: Results): string[] {
  const m = r.memory;
  return [
    `- **Baseline**: \`bench/baseline-server.ts\`, express 5 + ioredis in its own Node process, \`POST /items\` with a JSON body of ${BASELINE_BODY.length} bytes doing one \`SET item:<uuid>\`, on its own redis-server (appendonly yes, appendfsync everysec, noeviction). autocannon ${LOAD.connections} connections, a warm-up of ${LOAD.warmupSeconds} s or more, until ${WARM_UP_RESPONSES} answers, then ${LOAD.durationSeconds} s measured in windows of ${LOAD.durationSeconds / 2} s alternating with the gateway's (baseline, gateway, gateway, baseline), both running throughout, so that both see the same machine: on a shared virtual machine the CPU left to us drifts within minutes. Throughput = 2xx responses / measured time; latency percentiles over every response.`,
    `- **Deployment**: as in production, each part in its own Node process: the simulated network (\`bench/network-process.ts\`: PCF over h2c and bearer controller with its subscriber API, timeScale 0; the gateway keeps the API's answers while its change feed is open), a gateway process (\`bench/gateway-process.ts\`, role gateway) and a worker process (the same, role worker), one AOF redis-server, LOG_LEVEL=warn. Every request a distinct (phone number, application server port), QoS profile QOS_BENCH (non-GBR, so the simulated cells admit every flow), a sink on loopback in the benchmark process.`,
    `- **createSession throughput**: the gateway process answering createSession with the baseline's autocannon settings while no worker runs yet, so the figure is the API's own (the baseline's endpoint has no work behind it either); every session is written with its activation job, which waits in Redis. Only 201s count. The worker process then starts and works that backlog off (every session reported AVAILABLE at the sink).`,
    `- **Sustained rate**: the same load for ${LOAD.durationSeconds} s with every process running; the sessions answered 201 in that window divided by the time from its start until the sink had the AVAILABLE event of the last of them. This is the highest create rate the system carries through to AVAILABLE on this machine; the two cores are shared by the load generator, the three processes and Redis.`,
    `- **Activation latency**: creates at half the sustained rate (${r.gateway.activation.rate}/s), sent at even intervals by an open-loop client (\`bench/support/paced.ts\`) in a probe process of its own (\`bench/qod/probe-process.ts\`) with the sink the sessions name, so that the benchmark process's pauses are not counted; per session, from the moment its request was written to the arrival of its AVAILABLE CloudEvent at that sink (both \`performance.now()\` of the probe). Each run first sends a second's worth of creates at a rate rising from a fifth of the full one to all of it, not measured, then ${r.gateway.activation.sessions} measured ones, from the first that leaves on time. Sessions active in the network when each run began (those of the earlier steps, all of an hour): ${r.gateway.activationRuns.map((x) => x.activeSessions.toLocaleString('en')).join(', ')}; the simulated network holds 99,000 distinct (device, port) flows, so before a step that would reuse a pair the benchmark deletes the oldest sessions holding them and waits until the network has released their flows (${r.gateway.deleted.toLocaleString('en')} in this run). createSession answers in the runs, warm-ups included: ${r.gateway.activationRuns.map((x) => JSON.stringify(x.statuses)).join(', ')}. ${ACTIVATION_RUNS} runs, one after the other; the target is read on the run with the median p99, so that a single hiccup of the shared machine (every process stalled at once for tens of milliseconds) does not decide it alone; every run's p99 and the p99 of all their sessions together are given beside it. ${r.gateway.activationRuns.reduce((n, x) => n + x.missing, 0)} missing. The bursts row sends the same rate with autocannon \`overallRate\`, which gives each connection its share of a second at the start of that second.`,
    `- **Redis memory**: a fresh AOF redis-server and a gateway in the benchmark process on a stub network (\`bench/qod/stub-network.ts\`: ${m.settings.sessions.toLocaleString('en')} distinct QoS subscribers, every flow ALLOCATED at once; the simulated network has 9,000 and admits 11 flows each). \`used_memory\` (INFO memory) before the first session (${fmt(m.before / 2 ** 20, 1)} MiB) and after all ${m.settings.sessions.toLocaleString('en')} are AVAILABLE and settled, every REQUESTED deadline passed and no job waiting (${fmt(m.after / 2 ** 20, 1)} MiB). The first ${m.settings.fullPath.toLocaleString('en')} go the whole way: createSession's handler minus HTTP, BullMQ workers, activation, AVAILABLE event delivered to a sink, so finished jobs and event streams stand at their caps. The rest get createSession's write and the real activate and network-event processors called directly, without notifications (a delivered notification leaves nothing in Redis); \`checkAlike\` fails the run unless they match the full-path ones. Sessions of 3600 s, mean record ${fmt(m.sessionJsonBytes)} bytes of JSON; created in ${fmt(m.createSeconds)} s. A session within ${EXPIRY_JOB_HORIZON_MS / 1000} s of its end also holds its BullMQ expiry job (a job hash and its delayed-set entry, about 1.1 KB); no measured session is that close to its end, and with sessions of an hour 1 in ${3600 / (EXPIRY_JOB_HORIZON_MS / 1000)} is. The breakdown sums MEMORY USAGE (SAMPLES 0) by kind of key; used_memory also counts Redis's own tables.`,
    `- **CPU stolen** by the hypervisor (the \`steal\` share of /proc/stat, over both cores): ${pct(r.gateway.create.stolen)} during createSession's windows and ${pct(r.baseline.load.stolen)} during the baseline's; ${pct(r.gateway.sustained.create.stolen)} during the sustained run and ${r.gateway.activationRuns.map((x) => pct(x.stolen)).join(', ')} while each run's activation-latency creates were sent. Time stolen from a process is time it cannot answer in, so these bound how far the figures say anything about the code. The redis-server forked (an AOF rewrite, whose child copies the data set at niceness 19 in the SCHED_IDLE class, in the CPU time the other processes leave idle) ${r.gateway.activationRuns.map((x) => x.redisForks).join(', ')} time(s) during the activation-latency runs (counting a rewrite still running when a run began). Major garbage collections (mark-compact, whose marking also takes CPU from the other processes) of our processes during each run, with their pauses: ${r.gateway.activationRuns.map((x, i) => `run ${i + 1}: ${majorGcText(x)}`).join('; ')}.`,
    '- **Diagnostics**: CPU from /proc of each of our processes (or the baseline server) and of the redis-server, Redis commands from INFO commandstats, over each step; divided by its sessions (2xx for the baseline).',
  ];
}

function report(r: Results, seconds: number): string {
  return [
    '## Quality on Demand (`npm run bench -- qod`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(seconds)} s. ${machineFacts().join('; ')}. Everything on 127.0.0.1.`,
    '',
    mainTable(r),
    '',
    'How each number was measured:',
    '',
    ...method(r),
    '',
    '### Where the time goes',
    '',
    diagnosticsTable(r),
    '',
    '### What an active session holds in Redis',
    '',
    memoryTable(r.memory),
    '',
    `createSession answers in the measured run: ${JSON.stringify(r.gateway.create.statuses)}, ${r.gateway.create.errors} without an answer. ` +
      (Object.keys(r.gateway.otherEvents).length ? `Events other than AVAILABLE at the sink: ${JSON.stringify(r.gateway.otherEvents)}.` : 'Every session of the load runs became AVAILABLE.'),
  ].join('\n');
}

export async function run(cleanup: Cleanup): Promise<void> {
  const started = Date.now();
  const baseline = await startBaseline(cleanup, LOAD);
  const gateway = await measureGateway(cleanup, LOAD, baseline);
  const memory = await measureMemory(cleanup, MEMORY);
  const text = report({ baseline: gateway.baseline, gateway, memory }, (Date.now() - started) / 1000);
  writeSection(DOC, 'Benchmarks', 'qod', text);
  progress(`done; written to docs/benchmarks.md`);
  process.stdout.write(`\n${text}\n`);
}
