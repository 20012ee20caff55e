import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { System } from '../../src/system.ts';
import { qualityOnDemand } from '../../src/capabilities/qod/index.ts';
import { ueKeyOf, type Device } from '../../src/capabilities/qod/device.ts';
import { SessionStore, type SessionRecord } from '../../src/capabilities/qod/sessions.ts';
import type { ApplicationServer, PortsSpec } from '../../src/capabilities/qod/flows.ts';
import type { CapabilityRuntime } from '../../src/capabilities/types.ts';
import type { ProcessorContext, ProcessorMap } from '../../src/jobs/registry.ts';
import type { Notifier } from '../../src/notify/index.ts';
import type { Plan } from '../../src/tenancy/types.ts';
import { BENCH_CLIENT } from './bootstrap.ts';
import { stubSouthbound } from './stub-network.ts';

interface Body {
  device: Device;
  applicationServer: ApplicationServer;
  applicationServerPorts?: PortsSpec;
  qosProfile: string;
  duration: number;
  sink: string;
}

/**
 * Quality on Demand once more over the same Redis, queues and keys, but with a notifier that sends
 * nothing and a network whose events go nowhere: its processors are called directly, never by a
 * worker. A delivered notification leaves nothing in Redis (the full-path sessions show it), so
 * leaving them out changes what is measured by nothing but the time it takes.
 */
export function silentRuntime(system: System): CapabilityRuntime {
  const silent = { enqueue: async () => randomUUID(), validateSink: async () => {} } as unknown as Notifier;
  return qualityOnDemand.create({ ...system.services, notifier: silent, southbound: stubSouthbound() });
}

/**
 * Takes a session from nothing to AVAILABLE without HTTP or BullMQ: createSession's write (the
 * REQUESTED record with its UE and client-device indexes, the plan slot), then the activation job's
 * processor (the flow requested, its reference stored) and the network-event processor for its
 * ALLOCATED event (AVAILABLE, its expiry scheduled). What createSession does besides (its
 * outbox entry, the activation job, the REQUESTED deadline) is gone from a settled session.
 *
 * The write mirrors handlers.ts createSession and must follow it; {@link checkAlike} compares the
 * result with full-path sessions of the same run and fails the benchmark when they differ.
 */
export class BulkActivator {
  done = 0;
  readonly sample: string[] = [];
  private readonly sessions: SessionStore;
  private readonly processors: ProcessorMap;
  private readonly identity = stubSouthbound().identity;

  constructor(
    private readonly system: System,
    runtime: CapabilityRuntime,
    private readonly plan: Plan,
  ) {
    this.sessions = new SessionStore(system.services.redis, system.services.key);
    this.processors = runtime.processors ?? {};
  }

  private context(jobId: string): ProcessorContext {
    return { jobId, attempt: 1, attemptsAllowed: 1, signal: new AbortController().signal, log: this.system.services.logger };
  }

  async activate(i: number, body: Body): Promise<void> {
    const subscriber = await this.identity.byMsisdn(body.device.phoneNumber!);
    if (!subscriber) throw new Error(`no subscriber ${body.device.phoneNumber}`);
    const ueKey = ueKeyOf(subscriber);
    const id = randomUUID();
    const clientId = BENCH_CLIENT.clientId;
    const record: SessionRecord = {
      id,
      v: 1,
      clientId,
      ueKey,
      ueIpv4: subscriber.ipv4,
      ueIpv6: subscriber.ipv6Prefix,
      device: { phoneNumber: body.device.phoneNumber },
      applicationServer: body.applicationServer,
      devicePorts: undefined,
      applicationServerPorts: body.applicationServerPorts,
      qosProfile: body.qosProfile,
      duration: body.duration,
      status: 'REQUESTED',
      createdAt: Date.now(),
      sink: body.sink,
      sinkCredential: undefined,
      correlator: randomUUID(),
    };
    await this.system.services.limits.acquire(clientId, qualityOnDemand.id, id, this.plan);
    const written = await this.sessions.write(record, -1, [
      ['SADD', this.sessions.ueIndex(ueKey), id],
      ['SADD', this.sessions.clientDeviceIndex(clientId, ueKey), id],
    ]);
    if (!written) throw new Error(`session ${id} exists`);
    const activated = (await this.processors['quality-on-demand.activate']!({ sessionId: id, correlator: record.correlator }, this.context(`act-${id}`))) as { networkRef?: string };
    if (!activated?.networkRef) throw new Error(`activation of ${id} did not store a flow: ${JSON.stringify(activated)}`);
    const event = { flowId: id, kind: 'ALLOCATED', networkRef: activated.networkRef, at: new Date().toISOString(), correlator: `network-${id}` };
    const outcome = (await this.processors['quality-on-demand.network-event']!(event, this.context(`nev-${id}`))) as { available?: boolean };
    if (!outcome?.available) throw new Error(`session ${id} did not become AVAILABLE: ${JSON.stringify(outcome)}`);
    this.done++;
    if (i % 1000 === 0) this.sample.push(id);
  }
}

/**
 * Fails unless the fast sessions look like the full-path ones: the same record fields, the same
 * record size (within 2%), AVAILABLE, and present in every per-session structure the full-path
 * ones are in (UE index, client-device index, plan slot, and the expiry schedule or job).
 */
export async function checkAlike(redis: Redis, prefix: string, full: string[], fast: string[]): Promise<void> {
  const describe = async (id: string) => {
    const raw = await redis.get(`${prefix}:qod:s:${id}`);
    if (!raw) throw new Error(`session ${id} is missing`);
    const r = JSON.parse(raw) as SessionRecord;
    const member = async (key: string) => (await redis.sismember(key, id)) === 1;
    const structures = [
      ['UE index', await member(`${prefix}:qod:ue:${r.ueKey}`)],
      ['client-device index', await member(`${prefix}:qod:cdev:${r.clientId}:${r.ueKey}`)],
      ['plan slot', await member(`${prefix}:slots:${r.clientId}:${qualityOnDemand.id}`)],
      // An expiry: a BullMQ delayed job of its own, or a place in the capability's expiry schedule.
      ['expiry', (await redis.exists(`${prefix}:q:${qualityOnDemand.id}:exp-${r.id}-${r.expiresAt}`)) === 1 || (await redis.zscore(`${prefix}:qod:expiring`, id)) !== null],
    ].filter(([, present]) => present).map(([name]) => name);
    return { fields: Object.keys(r).sort().join(','), bytes: raw.length, status: r.status, v: r.v, structures: structures.join(',') };
  };
  const a = await Promise.all(full.map(describe));
  const b = await Promise.all(fast.map(describe));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const problems: string[] = [];
  for (const [name, pick] of [
    ['record fields', (d: Awaited<ReturnType<typeof describe>>) => d.fields],
    ['status', (d: Awaited<ReturnType<typeof describe>>) => `${d.status} v${d.v}`],
    ['structures', (d: Awaited<ReturnType<typeof describe>>) => d.structures],
  ] as const) {
    const seen = new Set([...a, ...b].map(pick));
    if (seen.size !== 1) problems.push(`${name} differ: ${[...seen].join(' | ')}`);
  }
  const ratio = mean(b.map((d) => d.bytes)) / mean(a.map((d) => d.bytes));
  if (Math.abs(ratio - 1) > 0.02) problems.push(`record sizes differ: fast/full = ${ratio.toFixed(3)}`);
  if (problems.length) throw new Error(`the fast sessions are not like the full-path ones (update bench/qod/memory-bulk.ts to follow createSession):\n  ${problems.join('\n  ')}`);
}
