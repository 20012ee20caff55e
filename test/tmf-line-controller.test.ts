import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TmfLineController } from '../adapters/tmf/tmf-line-controller.ts';
import { DependencyUnavailableError, LineOrderFailedError, type LineEvent } from '../adapters/ports.ts';
import { startLineController, type LineControllerHandle, type ServiceOrder } from '../simulators/line-controller/index.ts';
import { until } from './support/wait.ts';
import { freePort } from '../src/infra/redis-server.ts';

const ORDERING = '/tmf-api/serviceOrdering/v4';

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function ordersWithKey(sim: LineControllerHandle, key: string): Promise<ServiceOrder[]> {
  return (await fetch(`${sim.url}${ORDERING}/serviceOrder?externalId=${encodeURIComponent(key)}`)).json() as Promise<ServiceOrder[]>;
}

/** Asserts `promise` rejects with a LineOrderFailedError in `state` whose message matches `message`. */
async function rejectsWithOrderFailure(promise: Promise<unknown>, state: string, message: RegExp): Promise<LineOrderFailedError> {
  let caught: unknown;
  await promise.catch((err: unknown) => (caught = err));
  assert.ok(caught instanceof LineOrderFailedError, `expected LineOrderFailedError, got ${String(caught)}`);
  assert.equal(caught.state, state);
  assert.match(caught.message, message);
  return caught;
}

describe('TMF line controller adapter', function () {
  this.timeout(30_000);
  let sim: LineControllerHandle;
  let lines: TmfLineController;
  const events: LineEvent[] = [];
  let failHandler = 0;
  let handlerCalls = 0;
  let key = 0;
  const orderKey = () => `order-${process.pid}-${++key}`;
  const control = (path: string, body?: unknown) => post(`${sim.url}/control/${path}`, body ?? {});

  before(async () => {
    sim = await startLineController({ seed: 3, timeScale: 0.01, notifyRetryDelayMs: 20, log: () => {} });
    lines = new TmfLineController({ baseUrl: sim.url, pollIntervalMs: 20 });
    lines.onEvent(async (event) => {
      handlerCalls++;
      if (failHandler > 0) {
        failHandler--;
        throw new Error('the store is down');
      }
      events.push(event);
    });
    assert.ok((await lines.listen()) > 0);
  });
  beforeEach(async () => {
    await control('reset');
    events.length = 0;
    failHandler = 0;
    handlerCalls = 0;
  });
  after(async () => {
    await lines?.close();
    await sim?.close();
  });

  it('registers an inventory hub and an ordering hub at listen', () => {
    const hubs = sim.model.hubs.list();
    assert.deepEqual(hubs.map((h) => h.api).sort(), ['serviceInventory', 'serviceOrdering']);
    assert.ok(hubs.every((h) => /^http:\/\/127\.0\.0\.1:\d+\/tmf-events$/.test(h.callback)));
    assert.match(hubs.find((h) => h.api === 'serviceInventory')!.query!, /ServiceStateChangeEvent/);
  });

  it('reads a line from the inventory, and undefined for an unknown service', async () => {
    assert.deepEqual(await lines.line('LINE-INV-02'), {
      serviceId: 'LINE-INV-02',
      name: 'Invoice cloud DC ↔ Tax hub North',
      state: 'active',
      aEnd: { site: 'Invoice cloud data centre (Shanghai Lingang)', address: 'Building 3, 200 Data Park Avenue, Lingang New Area, Shanghai' },
      zEnd: { site: 'Tax device hub North (Beijing Shunyi)', address: 'Hall B, 66 Airport Industrial Zone Road, Shunyi District, Beijing' },
      committedMbps: 50,
      portCapacityMbps: 500,
      bandwidthMbps: 50,
    });
    assert.equal(await lines.line('LINE-NOPE'), undefined);
    await control('lines/LINE-INV-02/cut');
    assert.equal((await lines.line('LINE-INV-02'))?.state, 'inactive');
  });

  it('sets the bandwidth with a service order and resolves once it completed', async () => {
    const { orderId } = await lines.setBandwidth('LINE-INV-01', 300, orderKey());
    assert.match(orderId, /^so-\d+$/);
    assert.equal((await lines.line('LINE-INV-01'))?.bandwidthMbps, 300);
    assert.equal(sim.model.order(orderId).state, 'completed');
    await until(async () => events, (e) => e.some((x) => x.kind === 'BANDWIDTH_CHANGED'));
    const changed = events.find((e) => e.kind === 'BANDWIDTH_CHANGED')!;
    assert.deepEqual([changed.serviceId, changed.bandwidthMbps], ['LINE-INV-01', 300]);
    assert.ok(!Number.isNaN(Date.parse(changed.at)));
  });

  it('places one order per orderKey: asking again follows the order already placed', async () => {
    const k = orderKey();
    const first = await lines.setBandwidth('LINE-INV-01', 200, k);
    const again = await lines.setBandwidth('LINE-INV-01', 200, k);
    assert.equal(again.orderId, first.orderId);
    const [both1, both2] = await Promise.all([lines.setBandwidth('LINE-INV-02', 80, `${k}-b`), lines.setBandwidth('LINE-INV-02', 80, `${k}-c`)]);
    assert.notEqual(both1.orderId, both2.orderId, 'different keys are different orders');
    assert.equal((await ordersWithKey(sim, k)).length, 1);

    // A worker that crashed after POSTing: the order exists under the key, the caller never saw its id.
    const crashed = orderKey();
    const placed = await post(`${sim.url}${ORDERING}/serviceOrder`, {
      externalId: crashed,
      serviceOrderItem: [{ action: 'modify', service: { id: 'LINE-INV-01', serviceCharacteristic: [{ name: 'bandwidth', value: 250 }] } }],
    });
    const followed = await lines.setBandwidth('LINE-INV-01', 250, crashed);
    assert.equal(followed.orderId, (placed.body as ServiceOrder).id);
    assert.equal((await ordersWithKey(sim, crashed)).length, 1);
  });

  it('rejects with LineOrderFailedError when the order is rejected or fails', async () => {
    const tooMuch = await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-01', 5000, orderKey()), 'rejected', /port capacity/);
    assert.match(tooMuch.orderId ?? '', /^so-\d+$/);
    await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-01', 10, orderKey()), 'rejected', /committed/);
    await rejectsWithOrderFailure(lines.setBandwidth('LINE-NOPE', 200, orderKey()), 'rejected', /no service/);

    await control('lines/LINE-INV-02/fail-orders', { count: 1 });
    const failed = await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-02', 100, orderKey()), 'failed', /refused the new bandwidth/);
    assert.equal(sim.model.order(failed.orderId!).state, 'failed');
    await control('lines/LINE-INV-02/cut');
    await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-02', 100, orderKey()), 'failed', /out of service/);

    // The OSS refuses the request itself (400): no order exists.
    const invalid = await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-01', 150.5, orderKey()), 'rejected', /positive integer/);
    assert.equal(invalid.orderId, undefined);

    // The same key for another change is the caller's mistake.
    const k = orderKey();
    await lines.setBandwidth('LINE-INV-01', 200, k);
    await rejectsWithOrderFailure(lines.setBandwidth('LINE-INV-01', 300, k), 'rejected', /already names order/);
    assert.equal((await ordersWithKey(sim, k)).length, 1);
  });

  it('reports a cut as DOWN and a restore as UP', async () => {
    await control('lines/LINE-INV-01/cut');
    await control('lines/LINE-INV-01/restore');
    await until(async () => events.length, (n) => n >= 2);
    assert.deepEqual(events.map((e) => [e.serviceId, e.kind]), [['LINE-INV-01', 'DOWN'], ['LINE-INV-01', 'UP']]);
  });

  it('answers 503 while the handler fails, so the OSS delivers the event again', async () => {
    failHandler = 2;
    await control('lines/LINE-INV-02/cut');
    await until(async () => events.length, (n) => n >= 1);
    assert.deepEqual(events.map((e) => e.kind), ['DOWN']);
    assert.equal(handlerCalls, 3);

    const callback = sim.model.hubs.list()[0].callback;
    assert.equal((await post(callback, '{"eventType":')).status, 400);
    assert.equal((await post(callback, [1])).status, 400);
    assert.equal((await fetch(callback)).status, 405);
    assert.equal((await post(callback, { eventType: 'ServiceCreateEvent', event: {} })).status, 204, 'events it has no use for are accepted');
  });

  it('reads telemetry: the newest samples, after since, at most limit', async () => {
    const five = await lines.telemetry('LINE-INV-01', { limit: 5 });
    assert.equal(five.length, 5);
    assert.ok(five.every((s) => s.bandwidthMbps === 100 && s.throughputMbps > 0 && typeof s.latencyMs === 'number'));
    const since = new Date(five[1].at);
    const after = await lines.telemetry('LINE-INV-01', { since });
    assert.ok(after.length >= 3 && after.every((s) => Date.parse(s.at) > since.getTime()));
    assert.equal((await lines.telemetry('LINE-INV-01', { limit: 10_000 })).length <= 500, true);
    assert.deepEqual(await lines.telemetry('LINE-NOPE'), []);
  });

  it('stops following an order when the signal fires', async () => {
    const ac = new AbortController();
    const k = orderKey();
    const following = lines.setBandwidth('LINE-INV-01', 400, k, ac.signal);
    ac.abort();
    await assert.rejects(following, { name: 'AbortError' });
    await assert.rejects(lines.setBandwidth('LINE-INV-01', 400, orderKey(), AbortSignal.abort()), { name: 'AbortError' });
  });

  describe('when the OSS is slow or unreachable', () => {
    it('gives up following after orderTimeoutMs, and a retry with the same key finds the order', async () => {
      const slow = await startLineController({ timeScale: 1, log: () => {} });
      const impatient = new TmfLineController({ baseUrl: slow.url, pollIntervalMs: 20, orderTimeoutMs: 100 });
      const patient = new TmfLineController({ baseUrl: slow.url, pollIntervalMs: 50 });
      try {
        const k = orderKey();
        await assert.rejects(impatient.setBandwidth('LINE-INV-01', 300, k), (err: Error) => err instanceof DependencyUnavailableError && /did not end/.test(err.message));
        const { orderId } = await patient.setBandwidth('LINE-INV-01', 300, k);
        assert.equal((await ordersWithKey(slow, k)).map((o) => o.id).join(), orderId);
        assert.equal(slow.model.view('LINE-INV-01').bandwidthMbps, 300);

        // close() stops a follower under way.
        const outcome = patient.setBandwidth('LINE-INV-02', 100, orderKey()).then(
          () => 'completed',
          (err: unknown) => err,
        );
        await until(async () => slow.model.view('LINE-INV-02').orders.current, (id) => id !== undefined);
        await patient.close();
        const err = await outcome;
        assert.ok(err instanceof DependencyUnavailableError && /closing/.test(err.message), String(err));
      } finally {
        await impatient.close();
        await patient.close();
        await slow.close();
      }
    });

    it('rejects with DependencyUnavailableError when nothing answers', async () => {
      const nowhere = new TmfLineController({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs: 1000 });
      try {
        await assert.rejects(nowhere.line('LINE-INV-01'), DependencyUnavailableError);
        await assert.rejects(nowhere.setBandwidth('LINE-INV-01', 200, orderKey()), DependencyUnavailableError);
        await assert.rejects(nowhere.telemetry('LINE-INV-01'), DependencyUnavailableError);
      } finally {
        await nowhere.close();
      }
    });

    it('keeps listening while the OSS is away and registers its hubs once it is back', async () => {
      const port = await freePort();
      const early = new TmfLineController({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 500 });
      let late: Awaited<ReturnType<typeof startLineController>> | undefined;
      try {
        assert.ok((await early.listen()) > 0, 'the listener starts without the OSS');
        assert.equal(early.hubsRegistered, false);
        late = await startLineController({ port, timeScale: 0.01 });
        const seen: LineEvent[] = [];
        early.onEvent(async (e) => void seen.push(e));
        await until(async () => early.hubsRegistered, (ok) => ok, 10_000);
        assert.equal(late.model.hubs.list().length, 2);
        await fetch(`${late.url}/control/lines/LINE-INV-01/cut`, { method: 'POST' });
        await until(async () => seen.length, (n) => n > 0);
        assert.equal(seen[0].kind, 'DOWN');
      } finally {
        await early.close();
        await late?.close();
      }
    });

    it('rejects with DependencyUnavailableError on server errors and timeouts', async () => {
      let mode: 'error' | 'hang' = 'error';
      const oss = createServer((req, res) => {
        req.resume();
        if (mode === 'error') res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"BUSY"}');
        // 'hang': never answers.
      });
      await new Promise<void>((r) => oss.listen(0, '127.0.0.1', r));
      const flaky = new TmfLineController({ baseUrl: `http://127.0.0.1:${(oss.address() as AddressInfo).port}`, requestTimeoutMs: 200 });
      try {
        await assert.rejects(flaky.line('LINE-INV-01'), (err: Error) => err instanceof DependencyUnavailableError && /503/.test(err.message));
        await assert.rejects(flaky.setBandwidth('LINE-INV-01', 200, orderKey()), DependencyUnavailableError);
        mode = 'hang';
        await assert.rejects(flaky.line('LINE-INV-01'), (err: Error) => err instanceof DependencyUnavailableError && /timed out/.test(err.message));
      } finally {
        await flaky.close();
        oss.closeAllConnections();
        await new Promise((r) => oss.close(r));
      }
    });
  });

  it('unregisters its hubs on close, and closes twice without harm', async () => {
    const second = new TmfLineController({ baseUrl: sim.url });
    await second.listen();
    assert.equal(sim.model.hubs.list().length, 4);
    await second.close();
    await second.close();
    assert.equal(sim.model.hubs.list().length, 2);
    await assert.rejects(second.setBandwidth('LINE-INV-01', 200, orderKey()), DependencyUnavailableError);
  });
});
