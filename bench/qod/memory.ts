import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/infra/config.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { createSystem, type System } from '../../src/system.ts';
import { qualityOnDemand } from '../../src/capabilities/qod/index.ts';
import type { CapabilityRuntime, OperationHandler, RequestContext } from '../../src/capabilities/types.ts';
import type { Cleanup } from '../support/cleanup.ts';
import { progress } from '../support/load.ts';
import { startBenchRedis } from '../support/redis.ts';
import { BENCH_CLIENT, BENCH_PROFILE, benchBootstrap } from './bootstrap.ts';
import { BulkActivator, checkAlike, silentRuntime } from './memory-bulk.ts';
import { breakdown, usedMemory, type MemoryCategory } from './redis-memory.ts';
import { TimingSink } from './sink.ts';
import { stubPhone, stubSouthbound } from './stub-network.ts';

export interface MemorySettings {
  sessions: number;
  /** How many of them take the whole way (handler, BullMQ workers, notification to the sink). */
  fullPath: number;
  /** Creates in flight at once. */
  concurrency: number;
  /** Seconds a session may stay REQUESTED: the run waits until the last of those deadlines has passed. */
  requestedTimeoutSeconds: number;
}

export interface MemoryResult {
  settings: MemorySettings;
  /** `used_memory` (INFO memory) before the first session and once all are AVAILABLE and settled. */
  before: number;
  after: number;
  perSession: number;
  /** Seconds the sessions took to create and activate. */
  createSeconds: number;
  categories: MemoryCategory[];
  /** Mean length of a session's JSON record, bytes. */
  sessionJsonBytes: number;
}

/** Quality on Demand on the stub network, keeping its runtime (for createSession) at hand. */
function stubbedCapability() {
  const southbound = stubSouthbound();
  let runtime: CapabilityRuntime | undefined;
  const capability = {
    ...qualityOnDemand,
    create: (services: Parameters<typeof qualityOnDemand.create>[0]) => (runtime = qualityOnDemand.create({ ...services, southbound })),
  };
  return { capability, runtime: () => runtime! };
}

/** The request context createSession gets behind the HTTP layer: the bootstrap application and its plan. */
async function benchContext(system: System): Promise<Omit<RequestContext, 'correlator'>> {
  const { app, subscription, generation } = await system.services.store.accessState(BENCH_CLIENT.clientId, 'bench', qualityOnDemand.id);
  if (!app || !subscription) throw new Error('the bench application has no subscription to quality-on-demand');
  return {
    operationId: 'createSession',
    log: system.services.logger,
    principal: { clientId: BENCH_CLIENT.clientId, tenantId: 'bench', scopes: new Set(), capability: qualityOnDemand.id, plan: subscription.plan, claims: {}, application: app, generation },
  };
}

/** What a client sends: a distinct subscriber per session, a sink like any client's. */
function createBodyOf(i: number, sink: string) {
  return { device: { phoneNumber: stubPhone(i) }, applicationServer: { ipv4Address: '198.51.100.10' }, applicationServerPorts: { ports: [443] }, qosProfile: BENCH_PROFILE, duration: 3600, sink };
}

/** Waits until `done()` holds, printing `status()` every 5 s; throws after `timeoutMs`. */
async function until(what: string, done: () => Promise<boolean> | boolean, status: () => Promise<string> | string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = Date.now();
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${timeoutMs / 1000} s (${await status()})`);
    if (Date.now() - last >= 5000) {
      progress(`  ${what}: ${await status()}`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `work(i)` for i in [from, to) on `lanes` concurrent lanes; `hold()` true makes a lane wait. */
async function lanes(from: number, to: number, count: number, work: (i: number) => Promise<void>, hold: () => boolean = () => false): Promise<void> {
  let next = from;
  const lane = async () => {
    while (next < to) {
      if (hold()) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await work(next++);
    }
  };
  await Promise.all(Array.from({ length: count }, lane));
}

/** What the memory run works with: a gateway in this process, its Redis, a sink, a probe connection. */
interface Rig {
  system: System;
  prefix: string;
  sink: TimingSink;
  /** A plain connection of our own for INFO, SCAN and MEMORY USAGE. */
  probe: Redis;
  create: OperationHandler;
  context: Omit<RequestContext, 'correlator'>;
  stop(): Promise<void>;
}

async function startRig(cleanup: Cleanup, settings: MemorySettings): Promise<Rig> {
  const redis = await startBenchRedis(cleanup, 'memory');
  const stops: Array<() => Promise<void>> = [() => redis.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const sink = await new TimingSink().start();
    stops.push(cleanup.add('memory sink', () => sink.close()));
    const { capability, runtime } = stubbedCapability();
    const config = loadConfig(
      { NODE_ENV: 'benchmark', ADMIN_TOKEN: 'bench-admin-token-0123456789' },
      { redisUrl: redis.server.url, publicUrl: 'http://127.0.0.1', bootstrap: benchBootstrap({ requestedTimeoutSeconds: settings.requestedTimeoutSeconds }) },
    );
    const system = await createSystem(config, { roles: ['gateway', 'worker'], capabilities: [capability], logger: createLogger('warn', {}, process.stderr), metrics: createMetrics({ defaultMetrics: false }) });
    stops.push(cleanup.add('memory gateway', () => system.close()));
    const probe = new Redis(redis.server.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => {}); // a failed command fails the run; the event itself says nothing more
    stops.push(cleanup.add('memory probe connection', () => probe.quit()));
    const create = runtime().apis[0].handlers.createSession as OperationHandler;
    return { system, prefix: config.redisPrefix, sink, probe, create, context: await benchContext(system), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sessions 0..fullPath-1 the whole way; resolves once all are AVAILABLE, with the time of the last create. */
async function fullPath(rig: Rig, settings: MemorySettings): Promise<number> {
  progress(`memory: ${settings.fullPath} sessions the whole way (handler, workers, activation, event to the sink)`);
  const { sink } = rig;
  const heard = () => sink.heard;
  let failed = 0;
  let issued = 0;
  const createOne = async (i: number) => {
    issued++;
    const reply = await rig.create({ params: {}, query: {}, headers: {}, body: createBodyOf(i, sink.url), peer: {} }, { ...rig.context, correlator: randomUUID() });
    if (reply.status !== 201) failed++;
  };
  // Creates wait while the activation backlog is long, so none nears its REQUESTED time-out.
  await lanes(0, settings.fullPath, settings.concurrency, createOne, () => issued - heard() > 2000);
  const lastCreate = Date.now();
  await until('memory: activation', () => heard() >= settings.fullPath, () => `${sink.available.size} of ${settings.fullPath} AVAILABLE`, 120_000);
  if (failed || sink.available.size !== settings.fullPath) {
    throw new Error(`memory: ${failed} creates failed; sink: ${sink.available.size} AVAILABLE, others ${JSON.stringify(Object.fromEntries(sink.others))}`);
  }
  return lastCreate;
}

/** Sessions fullPath..sessions-1 through the same writes and processors, without HTTP, workers or notifications. */
async function fastPath(rig: Rig, settings: MemorySettings): Promise<BulkActivator> {
  progress(`memory: ${settings.sessions - settings.fullPath} more through the same writes and the real activation processors, notifications not sent`);
  const bulk = new BulkActivator(rig.system, silentRuntime(rig.system), rig.context.principal!.plan);
  const ticker = setInterval(() => progress(`  memory: ${bulk.done} more AVAILABLE`), 5000);
  try {
    await lanes(settings.fullPath, settings.sessions, settings.concurrency, (i) => bulk.activate(i, createBodyOf(i, rig.sink.url)));
  } finally {
    clearInterval(ticker);
  }
  return bulk;
}

/** Waits until every REQUESTED deadline of the full-path sessions has passed and no job waits. */
async function settle(rig: Rig, settings: MemorySettings, lastFullCreate: number): Promise<void> {
  const queue = rig.system.services.queues.queue(qualityOnDemand.id);
  await new Promise((r) => setTimeout(r, Math.max(0, lastFullCreate + settings.requestedTimeoutSeconds * 1000 + 2000 - Date.now())));
  await until(
    'memory: settling',
    async () => {
      const c = await queue.getJobCounts('waiting', 'active', 'prioritized');
      return c.waiting + c.active + c.prioritized === 0;
    },
    async () => JSON.stringify(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
    60_000,
  );
}

/**
 * Creates `sessions` AVAILABLE sessions on a private AOF Redis and measures what Redis holds for
 * them. The first `fullPath` take the whole way (createSession's handler minus HTTP, the BullMQ
 * workers, activation over the stub network, the AVAILABLE event delivered to a sink), which fills
 * the bounded structures (finished jobs, event streams) as a running gateway has them. The rest go
 * through the same writes faster (see memory-bulk.ts); they are checked to be alike.
 */
export async function measureMemory(cleanup: Cleanup, settings: MemorySettings): Promise<MemoryResult> {
  progress(`memory: starting a private redis-server and a gateway in this process on a stub network (${settings.sessions} distinct subscribers)`);
  const rig = await startRig(cleanup, settings);
  try {
    const before = await usedMemory(rig.probe);
    const started = Date.now();
    const lastFullCreate = await fullPath(rig, settings);
    const bulk = await fastPath(rig, settings);
    const createSeconds = (Date.now() - started) / 1000;
    await settle(rig, settings, lastFullCreate);
    const after = await usedMemory(rig.probe);
    progress('memory: checking the fast sessions against the full-path ones, then measuring each kind of key (SCAN + MEMORY USAGE)');
    await checkAlike(rig.probe, rig.prefix, [...rig.sink.available.keys()].filter((_, i) => i % 50 === 0), bulk.sample);
    const { categories, sessionJsonBytes } = await breakdown(rig.probe, rig.prefix, settings.sessions);
    return { settings, before, after, perSession: (after - before) / settings.sessions, createSeconds, categories, sessionJsonBytes };
  } finally {
    await rig.stop();
  }
}
