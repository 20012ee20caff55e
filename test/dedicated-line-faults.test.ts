import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulatedNetwork, type SimulatedNetwork } from '../simulators/index.ts';
import { startLineController } from '../simulators/line-controller/index.ts';
import { startRedisServer, type RedisServer } from '../src/infra/redis-server.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { TestSink, type ReceivedEvent } from './support/sink.ts';
import { DL, inventory, lineBootstrap, newLine, ordersOf, until } from './support/line.ts';

/**
 * A booked boost must start and end on time whatever restarts between the booking and its start:
 * the gateway's processes, or Redis from its append-only file. Real Redis, BullMQ, simulator, sockets.
 */
describe('dedicated line: restarts between booking and start', function () {
  this.timeout(150_000);
  let net: SimulatedNetwork;
  let sink: TestSink;
  const arrivals = new Map<string, number>();

  before(async () => {
    net = await startSimulatedNetwork({ timeScale: 0.01, seed: 5 });
    sink = await new TestSink().start();
    sink.respond = (e) => (arrivals.set(e.body.id, Date.now()), 204);
  });
  after(async () => {
    await sink?.close();
    await net?.close();
  });

  const dataOf = (events: ReceivedEvent[]) => events.map((e) => e.body.data);
  const control = async (base: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/control/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  /**
   * How far ahead to book so that a restart fits before the start: twice what starting a
   * gateway took on this machine (a loaded CI machine takes seconds), never under `floorMs`.
   */
  async function timedStart(start: () => Promise<TestGateway>): Promise<{ gw: TestGateway; ms: number }> {
    const t = Date.now();
    const gw = await start();
    return { gw, ms: Date.now() - t };
  }
  const leadFor = (startupMs: number, floorMs: number) => Math.max(floorMs, 2 * startupMs);
  /** Long enough for the network to carry the boost out on a slow machine before it ends. */
  const BOOST_SECONDS = 4;

  /** Books a boost that starts `inMs` from now for `seconds`; returns its id and booked window. */
  async function book(gw: TestGateway, lineId: string, inMs: number, seconds: number): Promise<{ id: string; start: number; end: number }> {
    const start = Date.now() + inMs;
    const res = await gw.http
      .post(`${DL}/lines/${lineId}/bandwidth-requests`)
      .set('Authorization', `Bearer ${await gw.token()}`)
      .send({ bandwidthMbps: 200, duration: seconds, startTime: new Date(start).toISOString(), sink: sink.url });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, 'SCHEDULED');
    return { id: res.body.requestId, start, end: start + seconds * 1000 };
  }

  /**
   * The boost started and ended on time: the gateway ordered each change within a second of its
   * booked instant (the order dates the simulated OSS recorded), and told the sink of each, never
   * early; the line is back to committed, with one order up and one down.
   */
  async function startedAndEndedOnTime(b: { id: string; start: number; end: number }, lineId: string, serviceId: string): Promise<void> {
    const events = await sink.waitFor(b.id, 2, 30_000);
    assert.deepEqual(dataOf(events), [
      { requestId: b.id, lineId, status: 'AVAILABLE' },
      { requestId: b.id, lineId, status: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' },
    ]);
    await until(() => inventory(net, serviceId), (i) => i.bandwidth === 100);
    const orders = await ordersOf(net, serviceId);
    assert.deepEqual(orders.map((o) => o.value), [300, 100], 'one order up, one order down: nothing twice');
    const up = Date.parse(orders[0].orderDate) - b.start;
    const down = Date.parse(orders[1].orderDate) - b.end;
    assert.ok(up >= 0 && up < 1000, `the boost was ordered ${up} ms after the booked start`);
    assert.ok(down >= 0 && down < 1000, `the return to committed was ordered ${down} ms after the booked end`);
    assert.ok(arrivals.get(events[0].body.id)! >= b.start, 'AVAILABLE is never told before the start');
    assert.ok(arrivals.get(events[1].body.id)! >= b.end, 'UNAVAILABLE is never told before the end');
  }

  it('the whole gateway (API and workers) restarts between the booking and the start', async () => {
    const bootstrap = lineBootstrap();
    const first = await timedStart(() => startTestGateway({ network: net, bootstrap }));
    let gw: TestGateway | undefined = first.gw;
    const prefix = gw.config.redisPrefix;
    const { lineId, serviceId } = await newLine({ net, gw });
    let booked: { id: string; start: number; end: number };
    try {
      booked = await book(gw, lineId, leadFor(first.ms, 6000), BOOST_SECONDS);
    } finally {
      await gw.close();
    }
    gw = await startTestGateway({ network: net, bootstrap, prefix });
    try {
      assert.ok(Date.now() < booked.start, 'the new gateway is up before the start');
      await startedAndEndedOnTime(booked, lineId, serviceId);
    } finally {
      await gw.close();
    }
  });

  it('the worker alone restarts between the booking and the start, while the API keeps serving', async () => {
    const bootstrap = lineBootstrap();
    const api = await startTestGateway({ network: net, bootstrap, roles: ['gateway'] });
    const prefix = api.config.redisPrefix;
    const first = await timedStart(() => startTestGateway({ network: net, bootstrap, prefix, roles: ['gateway', 'worker'] }));
    let worker = first.gw;
    try {
      const { lineId, serviceId } = await newLine({ net, gw: api });
      const booked = await book(api, lineId, leadFor(first.ms, 3000), BOOST_SECONDS);
      await worker.close();
      worker = await startTestGateway({ network: net, bootstrap, prefix, roles: ['gateway', 'worker'] });
      await startedAndEndedOnTime(booked, lineId, serviceId);
    } finally {
      await worker.close();
      await api.close();
    }
  });

  it('a worker dies while following its order: the next one follows the same order, and places no second', async () => {
    // An OSS of its own whose orders take seconds (ack 0.4 s, execution 3–6 s), so the order is
    // still in progress when the worker dies; its shutdown gives up on the job, whose lock expires.
    const slow = await startLineController({ timeScale: 2, seed: 3 });
    const network = { pcfApiRoot: net.pcfApiRoot, subscriberApiUrl: net.subscriberApiUrl, n5CallbackPort: 0, lineControllerUrl: slow.url, lineEventsPort: 0 };
    const bootstrap = lineBootstrap();
    const api = await startTestGateway({ roles: ['gateway'], bootstrap, config: { network } });
    const worker = () => startTestGateway({ roles: ['worker'], prefix: api.config.redisPrefix, bootstrap, config: { network, workerLockMs: 1000, shutdownTimeoutMs: 2000 } });
    const workers = [await worker()];
    try {
      const oss = { lineControllerUrl: slow.url, lineControl: (path: string, body?: unknown) => control(slow.url, path, body) };
      const { lineId, serviceId } = await newLine({ net: oss, gw: api });
      const res = await api.http
        .post(`${DL}/lines/${lineId}/bandwidth-requests`)
        .set('Authorization', `Bearer ${await api.token()}`)
        .send({ bandwidthMbps: 200, duration: 600, sink: sink.url });
      assert.equal(res.status, 201, res.text);
      const id: string = res.body.requestId;
      await until(() => ordersOf(oss, serviceId), (o) => o.length === 1 && o[0].state !== 'completed');
      await workers.shift()!.close();
      assert.equal((await ordersOf(oss, serviceId))[0].state === 'completed', false, 'the worker died before the order ended');
      workers.push(await worker());
      assert.deepEqual(dataOf(await sink.waitFor(id, 1, 30_000)), [{ requestId: id, lineId, status: 'AVAILABLE' }]);
      const orders = await ordersOf(oss, serviceId);
      assert.deepEqual(orders.map((o) => [o.value, o.state]), [[300, 'completed']], 'one order, followed to its end by the new worker');
      assert.equal((await inventory(oss, serviceId)).bandwidth, 300);
    } finally {
      for (const w of workers) await w.close();
      await api.close();
      await slow.close();
    }
  });

  it('Redis restarts from its append-only file between the booking and the start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eg-dl-aof-'));
    let redis: RedisServer = await startRedisServer({ dir, appendOnly: true });
    const { gw, ms: gatewayStart } = await timedStart(() => startTestGateway({ redisUrl: redis.url, network: net, bootstrap: lineBootstrap() }));
    try {
      const { lineId, serviceId } = await newLine({ net, gw });
      // A Redis restart takes about what a gateway start does.
      const booked = await book(gw, lineId, leadFor(gatewayStart, 3000), BOOST_SECONDS);
      const port = redis.port;
      await redis.stop();
      redis = await startRedisServer({ dir, port, appendOnly: true });
      await until(() => gw.http.get('/readyz'), (r) => r.status === 200);
      assert.ok(Date.now() < booked.start, 'Redis is back before the start');
      await startedAndEndedOnTime(booked, lineId, serviceId);
    } finally {
      await gw.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
