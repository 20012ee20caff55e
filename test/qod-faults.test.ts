import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulatedNetwork } from '../simulators/index.ts';
import { freePort, startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import type { BootstrapDocument } from '../src/tenancy/bootstrap.ts';
import type { QodBootstrap } from '../src/capabilities/qod/index.ts';
import type { QosProfileConfig } from '../src/capabilities/qod/profiles.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';
import { TestSink, type ReceivedEvent } from './support/sink.ts';
import { TcpLink } from './support/link.ts';
import { QOD, createBody, phone, qodBootstrap, startQod, stopQod, ueIp, until, type QodFixture } from './support/qod.ts';

/**
 * Quality on Demand when things go wrong: the radio network refuses or takes flows away, the PCF,
 * a sink, a worker, Redis or the whole gateway goes away. Real Redis, BullMQ, simulators and sockets.
 *
 * Cells (UE i is in `cell-${i % 20}`) admit GBR flows while Σ GBR ≤ 0.9 × capacity, uplink (20 Mbit/s,
 * so 18) and downlink (50, so 45) apart. Two QOS_M flows (8 Mbit/s each way) fill 16 of the 18 uplink
 * Mbit/s, so a third does not fit. Each test keeps to its own UEs and cells.
 */

/** Pre-empts lower-priority flows and cannot be pre-empted (TS 23.501 §5.7.2.2 ARP). */
const PRIORITY: QosProfileConfig = {
  name: 'QOS_PRIORITY',
  description: 'Emergency video: guaranteed 10 Mbps up, 20 Mbps down; pre-empts other flows',
  status: 'ACTIVE',
  minDuration: { value: 1, unit: 'Seconds' },
  maxDuration: { value: 1, unit: 'Hours' },
  network: {
    qosReference: 'QOS_M',
    fiveQi: 2,
    gbrUl: '10 Mbps',
    gbrDl: '20 Mbps',
    mbrUl: '10 Mbps',
    mbrDl: '20 Mbps',
    arp: { priorityLevel: 1, preemptCap: 'MAY_PREEMPT', preemptVuln: 'NOT_PREEMPTABLE' },
  },
};

/** The QoD test bootstrap plus QOS_PRIORITY and quick activation retries (4 tries, 250 ms back-off). */
function faultBootstrap(settings: QodBootstrap = {}, extra: Partial<BootstrapDocument> = {}): BootstrapDocument {
  const base = (qodBootstrap() as { qualityOnDemand: QodBootstrap }).qualityOnDemand;
  return qodBootstrap({
    qualityOnDemand: { ...base, qosProfiles: [...(base.qosProfiles ?? []), PRIORITY], activationAttempts: 4, activationBackoffMs: 250, ...settings },
    ...extra,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The session API of one gateway as one application. */
function client(gw: TestGateway, token: string) {
  const auth = `Bearer ${token}`;
  return {
    create: (body: object) => gw.http.post(`${QOD}/sessions`).set('Authorization', auth).send(body),
    get: (id: string) => gw.http.get(`${QOD}/sessions/${id}`).set('Authorization', auth),
    remove: (id: string) => gw.http.delete(`${QOD}/sessions/${id}`).set('Authorization', auth),
  };
}
type Client = ReturnType<typeof client>;

const dataOf = (events: ReceivedEvent[]) => events.map((e) => e.body.data);
const terminated = (sessionId: string) => ({ sessionId, qosStatus: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
const availableEvent = (sessionId: string) => ({ sessionId, qosStatus: 'AVAILABLE' });

describe('Quality on Demand under faults', function () {
  this.timeout(60_000);
  let f: QodFixture;
  let api: Client;
  before(async () => {
    f = await startQod({ bootstrap: faultBootstrap() });
    api = client(f.gw, f.token);
  });
  after(() => stopQod(f));

  const contextsOf = (i: number) => f.net.pcf.appSessions().filter((s) => s.ueIpv4 === ueIp(i));
  const noContextLeft = (i: number) => until(async () => contextsOf(i).length, (n) => n === 0);

  /** Creates a session for UE i and waits for its AVAILABLE event; returns its id. */
  async function startAvailable(i: number, qosProfile: string, sink = f.sink, on: Client = api, extra: object = {}): Promise<string> {
    const res = await on.create(createBody(i, sink, { qosProfile, ...extra }));
    assert.equal(res.status, 201, res.text);
    const [event] = await sink.waitFor(res.body.sessionId, 1);
    assert.deepEqual(event.body.data, availableEvent(res.body.sessionId));
    return res.body.sessionId;
  }

  /** Waits for the session's second event and checks the session reads NETWORK_TERMINATED. */
  async function expectTerminatedAfterAvailable(id: string): Promise<void> {
    assert.deepEqual(dataOf(await f.sink.waitFor(id, 2)), [availableEvent(id), terminated(id)]);
    const ended = await api.get(id);
    assert.equal(ended.status, 200);
    await expectContract(ended);
    assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
    assert.equal(ended.body.statusInfo, 'NETWORK_TERMINATED');
  }

  describe('the radio network takes flows away', () => {
    it('ARP pre-emption: a MAY_PREEMPT session is admitted in a full cell and ends the newest lower-priority one', async () => {
      const kept = await startAvailable(103, 'QOS_M');
      const victim = await startAvailable(123, 'QOS_M');
      // 16 + 10 Mbit/s up does not fit in 18: one 8 Mbit/s flow must go, the newest of equal priority.
      const priority = await startAvailable(143, 'QOS_PRIORITY');
      await expectTerminatedAfterAvailable(victim);
      await noContextLeft(123);
      const alive = await api.get(kept);
      assert.equal(alive.body.qosStatus, 'AVAILABLE', 'only as many flows are pre-empted as needed');
      assert.equal((await api.get(priority)).body.qosStatus, 'AVAILABLE');
      assert.equal(f.sink.forSession(kept).length, 1);
      assert.equal(contextsOf(143).length, 1);
    });

    it('admission control refuses a flow a full cell cannot carry (no pre-emption): NETWORK_TERMINATED', async () => {
      await startAvailable(104, 'QOS_M');
      await startAvailable(124, 'QOS_M');
      const res = await api.create(createBody(144, f.sink, { qosProfile: 'QOS_M' }));
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(dataOf(await f.sink.waitFor(res.body.sessionId, 1)), [terminated(res.body.sessionId)]);
      const ended = await api.get(res.body.sessionId);
      assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
      assert.equal(ended.body.statusInfo, 'NETWORK_TERMINATED');
      await noContextLeft(144);
    });

    it('a handover the target cell rejects ends the session: NETWORK_TERMINATED', async () => {
      await startAvailable(106, 'QOS_M');
      await startAvailable(126, 'QOS_M');
      const moving = await startAvailable(105, 'QOS_M');
      await f.net.control(`ues/${encodeURIComponent(phone(105))}/handover`, { targetCellId: 'cell-6' });
      await expectTerminatedAfterAvailable(moving);
      await noContextLeft(105);
    });

    it('cell congestion sheds the flow: NETWORK_TERMINATED', async () => {
      const id = await startAvailable(107, 'QOS_M');
      try {
        await f.net.control('cells/cell-7/congest', { factor: 0.1 });
        await expectTerminatedAfterAvailable(id);
        await noContextLeft(107);
      } finally {
        await f.net.control('cells/cell-7/congest', { factor: 1 });
      }
    });
  });

  describe('the PCF is down', () => {
    const failedTries = (id: string, gw = f.gw) => gw.logs.lines.filter((l) => l.msg === 'job failed' && l.jobId === `act-${id}`).length;

    it('the activation is retried with back-off; after the last try the session ends NETWORK_TERMINATED', async () => {
      await f.net.pcf.stop();
      try {
        const res = await api.create(createBody(108, f.sink));
        assert.equal(res.status, 201, res.text);
        assert.equal(res.body.qosStatus, 'REQUESTED');
        assert.deepEqual(dataOf(await f.sink.waitFor(res.body.sessionId, 1)), [terminated(res.body.sessionId)]);
        // Four tries in all: three failed and were retried, the last one settled the session.
        assert.equal(failedTries(res.body.sessionId), 3);
        assert.equal((await api.get(res.body.sessionId)).body.statusInfo, 'NETWORK_TERMINATED');
      } finally {
        await f.net.pcf.start();
      }
      assert.equal(contextsOf(108).length, 0);
    });

    it('a PCF that comes back during the retries: the session becomes AVAILABLE', async () => {
      await f.net.pcf.stop();
      let id = '';
      try {
        const res = await api.create(createBody(109, f.sink));
        assert.equal(res.status, 201, res.text);
        id = res.body.sessionId;
        await until(async () => failedTries(id), (n) => n >= 1);
      } finally {
        await f.net.pcf.start();
      }
      assert.deepEqual(dataOf(await f.sink.waitFor(id, 1)), [availableEvent(id)]);
      assert.ok(failedTries(id) < 4);
      assert.equal((await api.get(id)).body.qosStatus, 'AVAILABLE');
      assert.equal(contextsOf(109).length, 1);
    });
  });

  describe('the network never confirms', () => {
    it('a session the network never confirms ends NETWORK_TERMINATED after requestedTimeoutSeconds, leaving no context or bearer', async () => {
      // Every delay ×30: the PCF asks for the bearer after 0.3 s, and its set-up takes 3 s or more.
      const net = await startSimulatedNetwork({ timeScale: 30, seed: 7 });
      const gw = await startTestGateway({ network: net, bootstrap: faultBootstrap({ requestedTimeoutSeconds: 1 }) });
      const sink = await new TestSink().start();
      try {
        const slow = client(gw, await gw.token());
        const bearersOfUe = async () => {
          const state = (await (await fetch(`${net.bearerController.url}/control/state`)).json()) as { cells: Array<{ bearers: Array<{ msisdn: string; state: string }> }> };
          return state.cells.flatMap((c) => c.bearers).filter((b) => b.msisdn === phone(1));
        };
        const res = await slow.create(createBody(1, sink));
        assert.equal(res.status, 201, res.text);
        const id = res.body.sessionId;
        await until(bearersOfUe, (b) => b.some((x) => x.state === 'PENDING'), 5000);
        assert.deepEqual(dataOf(await sink.waitFor(id, 1)), [terminated(id)]);
        const ended = await slow.get(id);
        assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
        assert.equal(ended.body.statusInfo, 'NETWORK_TERMINATED');
        await until(async () => net.pcf.appSessions().length, (n) => n === 0);
        await until(bearersOfUe, (b) => b.length === 0);
        assert.equal(sink.forSession(id).length, 1);
      } finally {
        await gw.close();
        await sink.close();
        await net.close();
      }
    });
  });

  describe('sinks that fail', () => {
    it('a sink answering 500 three times, then 204, gets every event once and in order', async () => {
      const sink = await new TestSink().start();
      const attempts: string[] = [];
      sink.respond = (e) => (attempts.push(e.body.id), attempts.length <= 3 ? 500 : 204);
      try {
        const res = await api.create(createBody(110, sink, { qosProfile: 'QOS_SHORT', duration: 1 }));
        const id = res.body.sessionId;
        const events = await sink.waitFor(id, 2, 20_000);
        assert.deepEqual(dataOf(events), [availableEvent(id), { sessionId: id, qosStatus: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' }]);
        // The first event was retried under the same CloudEvents id; the second waited behind it.
        assert.deepEqual(attempts, [events[0].body.id, events[0].body.id, events[0].body.id, events[0].body.id, events[1].body.id]);
        await sleep(300);
        assert.equal(sink.events.length, 2);
      } finally {
        await sink.close();
      }
    });

    it('a sink answering 410 Gone gets nothing more for that session or any other of the application', async () => {
      const sink = await new TestSink().start();
      const attempts: ReceivedEvent[] = [];
      sink.respond = (e) => (attempts.push(e), 410);
      try {
        // Both sessions name the sink before it says 410; each later has an UNAVAILABLE event for it.
        const a = (await api.create(createBody(111, sink, { qosProfile: 'QOS_SHORT', duration: 2 }))).body.sessionId;
        const b = (await api.create(createBody(112, sink, { qosProfile: 'QOS_SHORT', duration: 2 }))).body.sessionId;
        await until(() => api.get(b), (r) => r.body.statusInfo === 'DURATION_EXPIRED');
        await until(() => api.get(a), (r) => r.body.statusInfo === 'DURATION_EXPIRED');
        await sleep(500);
        assert.ok(attempts.length >= 1, 'the sink was tried');
        assert.ok(attempts.every((e) => e.body.data.qosStatus === 'AVAILABLE'), `nothing after 410: ${JSON.stringify(attempts.map((e) => e.body.data))}`);
        for (const id of [a, b]) assert.ok(attempts.filter((e) => e.body.data.sessionId === id).length <= 1, 'a 410 is never retried');
        // A client that names the sink again for a new session says it is back (notify.validateSink).
        sink.respond = () => 204;
        await startAvailable(113, 'QOS_SHORT', sink, api, { duration: 5 });
      } finally {
        await sink.close();
      }
    });
  });

  describe('a worker that dies mid-activation', () => {
    /**
     * A gateway process and a worker process on one Redis prefix, the worker reaching the PCF over a
     * link that holds the create it sends, so the request is still in the network when it dies.
     * The notification URI must outlive a worker (a fixed N5_CALLBACK_PORT or N5_CALLBACK_URL): by
     * it the PCF recognises a repeated create (303), and it notifies the next worker of the flow.
     */
    async function splitWithHeldActivation(i: number, settings: QodBootstrap = {}, firstLockMs = 1000) {
      const link = await new TcpLink({ host: '127.0.0.1', port: f.net.pcf.port }).start();
      const network = { pcfApiRoot: link.url, subscriberApiUrl: f.net.subscriberApiUrl, n5CallbackPort: await freePort() };
      const bootstrap = faultBootstrap(settings);
      const gateway = await startTestGateway({ roles: ['gateway'], bootstrap, config: { network } });
      const worker = (workerLockMs: number) =>
        startTestGateway({ roles: ['worker'], prefix: gateway.config.redisPrefix, bootstrap, config: { network, workerLockMs, shutdownTimeoutMs: 2000 } });
      const workers: TestGateway[] = [await worker(firstLockMs)];
      const split = client(gateway, await gateway.token());
      const activation = (id: string) => gateway.system.services.queues.queue('quality-on-demand').getJobState(`act-${id}`);
      let most = 0;
      const sampler = setInterval(() => (most = Math.max(most, contextsOf(i).length)), 5);
      link.hold();
      const res = await split.create(createBody(i, f.sink));
      assert.equal(res.status, 201, res.text);
      const id: string = res.body.sessionId;
      await until(async () => link.heldBytes, (n) => n > 0);
      await sleep(200);
      assert.equal(await activation(id), 'active');
      return {
        id,
        split,
        link,
        activation,
        mostContexts: () => most,
        networkRef: async () => JSON.parse((await gateway.system.services.redis.get(gateway.system.services.key('qod', 's', id)))!).networkRef,
        /** The worker dies: its bounded shutdown gives up on the hung activation, which keeps its (expiring) lock. */
        async crash() {
          link.cut();
          await workers.shift()!.close();
          assert.equal(await activation(id), 'active', 'the activation was interrupted, not finished');
          assert.equal(contextsOf(i).length, 0);
        },
        async startWorker() {
          workers.push(await worker(1000));
        },
        async close() {
          clearInterval(sampler);
          for (const w of workers) await w.close();
          await gateway.close();
          await link.close();
        },
      };
    }

    it('a new worker finishes the session with exactly one PCF context, never two', async () => {
      const t = await splitWithHeldActivation(118);
      try {
        await t.crash();
        await t.startWorker();
        t.link.release();
        assert.deepEqual(dataOf(await f.sink.waitFor(t.id, 1)), [availableEvent(t.id)]);
        // A finished activation is removed at once (its job was seen active above).
        await until(() => t.activation(t.id), (s) => s === 'unknown');
        await sleep(300);
        const contexts = contextsOf(118);
        assert.equal(contexts.length, 1);
        assert.equal(await t.networkRef(), contexts[0].uri, 'the session holds the one context');
        assert.equal((await t.split.get(t.id)).body.qosStatus, 'AVAILABLE');
        assert.equal(t.mostContexts(), 1, 'never two contexts for the session');
        // Its Location names the PCF itself, not the link the worker reaches it by: still released.
        assert.equal((await t.split.remove(t.id)).status, 204);
        await noContextLeft(118);
      } finally {
        await t.close();
      }
    });

    it('a session that timed out meanwhile: the flow its lost request created later is released', async () => {
      // The dead worker's lock outlasts the time-out, so the new worker ends the session before it
      // takes the activation back (which then finds nothing to do).
      const t = await splitWithHeldActivation(138, { requestedTimeoutSeconds: 1 }, 4000);
      try {
        await t.crash();
        await t.startWorker();
        assert.deepEqual(dataOf(await f.sink.waitFor(t.id, 1)), [terminated(t.id)]);
        assert.equal(await t.networkRef(), undefined, 'ended before any flow was known');
        // Only now does the dead worker's request reach the PCF: a context no session wants.
        t.link.release();
        await until(async () => t.mostContexts(), (n) => n === 1);
        await noContextLeft(138);
        await until(() => t.activation(t.id), (state) => state === 'unknown');
        assert.equal(contextsOf(138).length, 0);
        assert.equal((await t.split.get(t.id)).body.statusInfo, 'NETWORK_TERMINATED');
        assert.equal(f.sink.forSession(t.id).length, 1);
      } finally {
        await t.close();
      }
    });
  });

  describe('Redis and the gateway restart', () => {
    it('Redis restarted from its append-only file: every accepted session reaches its final state, expiry on time', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eg-qod-aof-'));
      let redis: RedisServer = await startRedisServer({ dir, appendOnly: true });
      const gw = await startTestGateway({ redisUrl: redis.url, network: f.net, bootstrap: faultBootstrap({ activationAttempts: 10, activationBackoffMs: 200 }) });
      const sink = await new TestSink().start();
      const arrivals = new Map<string, number>();
      sink.respond = (e) => (arrivals.set(e.body.id, Date.now()), 204);
      try {
        const own = client(gw, await gw.token());
        const short = await startAvailable(119, 'QOS_SHORT', sink, own, { duration: 5 });
        const expiresAt = Date.parse((await own.get(short)).body.expiresAt);
        // The second stays REQUESTED: its activation retries while the PCF is down.
        await f.net.pcf.stop();
        let requested = '';
        try {
          const res = await own.create(createBody(139, sink));
          assert.equal(res.status, 201, res.text);
          requested = res.body.sessionId;
          const port = redis.port;
          await redis.stop();
          await expectError(await own.get(short), 503, 'UNAVAILABLE');
          redis = await startRedisServer({ dir, port, appendOnly: true });
          await until(() => gw.http.get('/readyz'), (r) => r.status === 200);
          assert.ok(Date.now() < expiresAt - 1000, 'Redis is back before the short session ends');
          assert.equal((await own.get(requested)).body.qosStatus, 'REQUESTED');
        } finally {
          await f.net.pcf.start();
        }
        const events = await sink.waitFor(short, 2);
        assert.deepEqual(dataOf(events), [availableEvent(short), { sessionId: short, qosStatus: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' }]);
        const late = arrivals.get(events[1].body.id)! - expiresAt;
        assert.ok(late >= 0 && late <= 2000, `the expiry event came ${late} ms after expiresAt`);
        const ended = await own.get(short);
        assert.equal(ended.body.statusInfo, 'DURATION_EXPIRED');
        assert.equal(Date.parse(ended.body.expiresAt), expiresAt);
        assert.deepEqual(dataOf(await sink.waitFor(requested, 1)), [availableEvent(requested)]);
        assert.equal((await own.get(requested)).body.qosStatus, 'AVAILABLE');
        await noContextLeft(119);
        assert.equal(contextsOf(139).length, 1);
      } finally {
        await gw.close();
        await sink.close();
        await redis.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('expiry across a gateway restart: the session reads DURATION_EXPIRED at its scheduled end and the event is sent', async () => {
      const bootstrap = faultBootstrap();
      let gw: TestGateway | undefined = await startTestGateway({ network: f.net, bootstrap });
      const prefix = gw.config.redisPrefix;
      let id = '';
      let scheduledEnd = '';
      try {
        id = await startAvailable(100, 'QOS_SHORT', f.sink, client(gw, await gw.token()), { duration: 2 });
        scheduledEnd = (await client(gw, await gw.token()).get(id)).body.expiresAt;
      } finally {
        await gw.close();
      }
      await until(async () => Date.now(), (now) => now > Date.parse(scheduledEnd) + 500, 5000);
      gw = await startTestGateway({ network: f.net, bootstrap, prefix });
      try {
        const again = client(gw, await gw.token());
        const read = await again.get(id);
        assert.equal(read.status, 200);
        await expectContract(read);
        assert.equal(read.body.qosStatus, 'UNAVAILABLE');
        assert.equal(read.body.statusInfo, 'DURATION_EXPIRED');
        assert.equal(read.body.expiresAt, scheduledEnd);
        assert.equal(read.body.duration, 2);
        assert.deepEqual(dataOf(await f.sink.waitFor(id, 2)), [availableEvent(id), { sessionId: id, qosStatus: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' }]);
        assert.equal((await again.get(id)).body.expiresAt, scheduledEnd, 'the stored end is the scheduled one, not the restart');
        await noContextLeft(100);
      } finally {
        await gw.close();
      }
    });
  });

  describe('plans and retention', () => {
    it('plan limits: a profile outside the plan is 422; beyond maxConcurrentResources 429, until a session ends', async () => {
      const plan = { rateLimit: { requests: 1000, windowSeconds: 1 }, maxConcurrentResources: 2, limits: { allowedQosProfiles: ['QOS_E', 'QOS_SHORT'] } };
      const gw = await startTestGateway({ network: f.net, bootstrap: faultBootstrap({}, { plans: { test: plan } }) });
      try {
        const limited = client(gw, await gw.token());
        await expectError(await limited.create(createBody(115, f.sink, { qosProfile: 'QOS_M' })), 422, 'QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE');
        const ending = await limited.create(createBody(115, f.sink, { qosProfile: 'QOS_SHORT', duration: 1 }));
        assert.equal(ending.status, 201, ending.text);
        const lasting = await limited.create(createBody(116, f.sink, { qosProfile: 'QOS_E' }));
        assert.equal(lasting.status, 201, lasting.text);
        await expectError(await limited.create(createBody(117, f.sink, { qosProfile: 'QOS_E' })), 429, 'QUOTA_EXCEEDED');
        await f.sink.waitFor(ending.body.sessionId, 2);
        const third = await limited.create(createBody(117, f.sink, { qosProfile: 'QOS_E' }));
        assert.equal(third.status, 201, 'the expired session gave its slot back');
        await expectError(await limited.create(createBody(135, f.sink, { qosProfile: 'QOS_E' })), 429, 'QUOTA_EXCEEDED');
        assert.equal((await limited.remove(lasting.body.sessionId)).status, 204);
        assert.equal((await limited.create(createBody(135, f.sink, { qosProfile: 'QOS_E' }))).status, 201, 'so did the deleted one');
      } finally {
        await gw.close();
      }
    });

    it('concurrent creates never take more sessions than the plan allows', async () => {
      const plan = { rateLimit: { requests: 1000, windowSeconds: 1 }, maxConcurrentResources: 3 };
      const gw = await startTestGateway({ network: f.net, bootstrap: faultBootstrap({}, { plans: { test: plan } }) });
      try {
        const limited = client(gw, await gw.token());
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => limited.create(createBody(140 + i, f.sink, { qosProfile: 'QOS_E' }))));
        const statuses = answers.map((r) => r.status).sort();
        assert.deepEqual(statuses, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
        for (const r of answers.filter((a) => a.status === 429)) assert.equal(r.body.code, 'QUOTA_EXCEEDED');
      } finally {
        await gw.close();
      }
    });

    it('an ended session stays readable, and Redis keeps it at least 360 s', async () => {
      const res = await api.create(createBody(114, f.sink, { qosProfile: 'QOS_SHORT', duration: 1 }));
      const id = res.body.sessionId;
      await f.sink.waitFor(id, 2);
      const ended = await api.get(id);
      assert.equal(ended.status, 200);
      await expectContract(ended);
      assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
      const { redis, key } = f.gw.system.services;
      const ttl = await redis.ttl(key('qod', 's', id));
      assert.ok(ttl >= 360, `TTL ${ttl} s`);
    });
  });
});
