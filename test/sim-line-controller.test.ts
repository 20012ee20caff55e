import assert from 'node:assert/strict';
import {
  sampleOf,
  startLineController,
  type EventSubscription,
  type LineControllerHandle,
  type LineSample,
  type LineView,
  type Service,
  type ServiceOrder,
  type TmfEvent,
} from '../simulators/line-controller/index.ts';
import { call, EventReceiver, exitCodeOf, startSimulatorProgram, type Answer } from './support/sim-http.ts';
import { until } from './support/wait.ts';

const INVENTORY = '/tmf-api/serviceInventory/v4';
const ORDERING = '/tmf-api/serviceOrdering/v4';

/** A hub listener on loopback that records the events it gets; it can refuse the next few with 503. */
class Listener extends EventReceiver<TmfEvent> {
  static async start(): Promise<Listener> {
    return new Listener(idOf, '/listener').start();
  }

  /** Events about one order or one service, in arrival order. */
  about(resourceId: string, eventType?: string): TmfEvent[] {
    return this.events.filter((e) => idOf(e) === resourceId && (!eventType || e.eventType === eventType));
  }

  async waitFor(resourceId: string, count: number, eventType?: string): Promise<TmfEvent[]> {
    return this.waitUntil(() => this.about(resourceId, eventType), (events) => events.length >= count);
  }
}

function idOf(event: TmfEvent): string {
  return 'serviceOrder' in event.event ? event.event.serviceOrder.id : event.event.service.id;
}

/** TMF630 v4 Error: `{code, reason, message, status, @type}`, status as a string. */
function expectTmfError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.type, 'application/json');
  assert.equal(answer.body.code, code, JSON.stringify(answer.body));
  assert.equal(answer.body.status, String(status));
  assert.equal(answer.body['@type'], 'Error');
  assert.equal(typeof answer.body.reason, 'string');
  assert.equal(typeof answer.body.message, 'string');
}

function expectProblem(answer: Answer, status: number, cause: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.type, 'application/problem+json');
  assert.equal(answer.body.status, status);
  assert.equal(answer.body.cause, cause);
  assert.equal(typeof answer.body.detail, 'string');
}

const characteristic = (service: Service, name: string) => service.serviceCharacteristic.find((c) => c.name === name)?.value;
const order = (serviceId: string, mbps: unknown, extra: Record<string, unknown> = {}) => ({
  ...extra,
  serviceOrderItem: [{ id: '1', action: 'modify', service: { id: serviceId, serviceCharacteristic: [{ name: 'bandwidth', valueType: 'integer', value: mbps }] } }],
});
const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('line controller simulator', function () {
  this.timeout(30_000);
  let ctl: LineControllerHandle;
  let listener: Listener;
  const logs: string[] = [];
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(ctl.url, method, path, body);
  const service = async (id: string) => (await api<Service>('GET', `${INVENTORY}/service/${id}`)).body;

  /** POSTs an order (201 acknowledged) and waits until it ends. */
  async function placeAndWait(body: unknown): Promise<ServiceOrder> {
    const placed = await api<ServiceOrder>('POST', `${ORDERING}/serviceOrder`, body);
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    return finished(placed.body.id);
  }
  const finished = (id: string) =>
    until(
      async () => (await api<ServiceOrder>('GET', `${ORDERING}/serviceOrder/${id}`)).body,
      (o) => ['completed', 'failed', 'rejected'].includes(o.state),
    );
  const samplesSince = async (id: string, since: string, limit = 500) =>
    (await api<{ samples: LineSample[] }>('GET', `/performance/v1/services/${id}/samples?since=${encodeURIComponent(since)}&limit=${limit}`)).body.samples;
  /** Waits for `count` samples taken entirely after now. */
  async function freshSamples(id: string, count: number): Promise<LineSample[]> {
    const since = new Date(Date.now() + 1).toISOString();
    return until(() => samplesSince(id, since), (s) => s.length >= count);
  }

  before(async () => {
    listener = await Listener.start();
    ctl = await startLineController({ port: 0, seed: 1, timeScale: 0.01, notifyRetryDelayMs: 20, log: (msg) => logs.push(msg) });
    for (const base of [INVENTORY, ORDERING]) assert.equal((await api('POST', `${base}/hub`, { callback: listener.url })).status, 201);
  });
  beforeEach(async () => {
    assert.equal((await api('POST', '/control/reset')).status, 200);
    listener.clear();
  });
  after(async () => {
    await ctl?.close();
    await ctl?.close();
    await listener?.close();
    assert.deepEqual(logs.filter((l) => l === 'request failed'), [], 'no request hit a bug');
  });

  describe('TMF638 service inventory', () => {
    it('lists the seeded lines of the demo tenant with their characteristics', async () => {
      const list = await api<Service[]>('GET', `${INVENTORY}/service`);
      assert.equal(list.status, 200);
      assert.equal(list.headers.get('x-total-count'), '2');
      assert.deepEqual(list.body.map((s) => s.id), ['LINE-INV-01', 'LINE-INV-02']);
      const line = list.body[0];
      assert.equal(line.href, `${ctl.url}${INVENTORY}/service/LINE-INV-01`);
      assert.equal(line.name, 'Invoice cloud DC ↔ Tax hub East');
      assert.equal(line.state, 'active');
      assert.equal(line['@type'], 'Service');
      assert.equal(line.serviceType, 'enterpriseDedicatedLine');
      assert.equal(line.serviceSpecification['@referredType'], 'ServiceSpecification');
      assert.deepEqual(line.relatedParty.map((p) => [p.id, p.role]), [['invoice-cloud', 'customer']]);
      assert.equal(characteristic(line, 'bandwidth'), 100);
      assert.equal(characteristic(line, 'committedBandwidth'), 100);
      assert.equal(characteristic(line, 'portCapacity'), 1000);
      for (const end of ['aEnd', 'zEnd']) {
        const site = characteristic(line, end) as { siteName: string; address: string };
        assert.ok(site.siteName && site.address, end);
      }
      const north = await service('LINE-INV-02');
      assert.deepEqual([characteristic(north, 'committedBandwidth'), characteristic(north, 'portCapacity')], [50, 500]);
    });

    it('filters the list by state and name, and selects fields', async () => {
      await api('POST', '/control/lines/LINE-INV-02/cut');
      assert.deepEqual((await api<Service[]>('GET', `${INVENTORY}/service?state=active`)).body.map((s) => s.id), ['LINE-INV-01']);
      assert.deepEqual((await api<Service[]>('GET', `${INVENTORY}/service?state=inactive`)).body.map((s) => s.id), ['LINE-INV-02']);
      const byName = await api<Service[]>('GET', `${INVENTORY}/service?name=${encodeURIComponent('Invoice cloud DC ↔ Tax hub North')}`);
      assert.deepEqual(byName.body.map((s) => s.id), ['LINE-INV-02']);
      const slim = await api<Array<Record<string, unknown>>>('GET', `${INVENTORY}/service?fields=state&limit=1`);
      assert.deepEqual(Object.keys(slim.body[0]).sort(), ['@type', 'href', 'id', 'state']);
      assert.equal(slim.headers.get('x-result-count'), '1');
      expectTmfError(await api('GET', `${INVENTORY}/service?limit=0`), 400, 'INVALID_REQUEST');
    });

    it('answers TMF errors for unknown services, paths and methods', async () => {
      expectTmfError(await api('GET', `${INVENTORY}/service/LINE-NOPE`), 404, 'SERVICE_NOT_FOUND');
      expectTmfError(await api('GET', `${INVENTORY}/resource`), 404, 'NOT_FOUND');
      expectTmfError(await api('DELETE', `${INVENTORY}/service/LINE-INV-01`), 405, 'METHOD_NOT_ALLOWED');
    });
  });

  describe('TMF641 service ordering', () => {
    it('refuses each malformed order with a 400 TMF error, and records none', async () => {
      const item = (patch: Record<string, unknown>) => ({ serviceOrderItem: [{ ...order('LINE-INV-01', 200).serviceOrderItem[0], ...patch }] });
      const withBandwidth = (characteristics: unknown[]) => item({ service: { id: 'LINE-INV-01', serviceCharacteristic: characteristics } });
      const cases: Array<[string, unknown, string]> = [
        ['not JSON', '{"serviceOrderItem": [', 'INVALID_JSON'],
        ['not an object', [1, 2], 'INVALID_REQUEST'],
        ['no serviceOrderItem', { externalId: 'x' }, 'INVALID_REQUEST'],
        ['an empty serviceOrderItem', { serviceOrderItem: [] }, 'INVALID_REQUEST'],
        ['two items', { serviceOrderItem: [...order('LINE-INV-01', 200).serviceOrderItem, ...order('LINE-INV-02', 100).serviceOrderItem] }, 'INVALID_REQUEST'],
        ['action add', item({ action: 'add' }), 'UNSUPPORTED_ACTION'],
        ['action delete', item({ action: 'delete' }), 'UNSUPPORTED_ACTION'],
        ['no action', item({ action: undefined }), 'UNSUPPORTED_ACTION'],
        ['no service', item({ service: undefined }), 'INVALID_REQUEST'],
        ['no service id', item({ service: { serviceCharacteristic: [{ name: 'bandwidth', value: 200 }] } }), 'INVALID_REQUEST'],
        ['no characteristic', withBandwidth([]), 'INVALID_REQUEST'],
        ['another characteristic', withBandwidth([{ name: 'portCapacity', value: 2000 }]), 'UNSUPPORTED_CHARACTERISTIC'],
        ['bandwidth and another', withBandwidth([{ name: 'bandwidth', value: 200 }, { name: 'aEnd', value: {} }]), 'UNSUPPORTED_CHARACTERISTIC'],
        ['a fraction', withBandwidth([{ name: 'bandwidth', value: 150.5 }]), 'INVALID_BANDWIDTH'],
        ['zero', withBandwidth([{ name: 'bandwidth', value: 0 }]), 'INVALID_BANDWIDTH'],
        ['a negative value', withBandwidth([{ name: 'bandwidth', value: -100 }]), 'INVALID_BANDWIDTH'],
        ['a string', withBandwidth([{ name: 'bandwidth', value: '200' }]), 'INVALID_BANDWIDTH'],
        ['another valueType', withBandwidth([{ name: 'bandwidth', valueType: 'string', value: 200 }]), 'INVALID_BANDWIDTH'],
        ['a bad requestedStartDate', { ...order('LINE-INV-01', 200), requestedStartDate: 'tomorrow' }, 'INVALID_REQUEST'],
      ];
      for (const [what, body, code] of cases) {
        const answer = await api('POST', `${ORDERING}/serviceOrder`, body);
        assert.equal(answer.body?.code, code, `${what}: ${JSON.stringify(answer.body)}`);
        expectTmfError(answer, 400, code);
      }
      assert.deepEqual((await api('GET', `${ORDERING}/serviceOrder`)).body, []);
    });

    it('acknowledges an order, then runs it inProgress → completed, changing the bandwidth', async () => {
      const placed = await api<ServiceOrder>('POST', `${ORDERING}/serviceOrder`, order('LINE-INV-01', 300, { externalId: 'boost-1', description: 'month-end boost' }));
      assert.equal(placed.status, 201);
      assert.equal(placed.body.state, 'acknowledged');
      assert.equal(placed.body.serviceOrderItem[0].state, 'acknowledged');
      assert.equal(placed.body.externalId, 'boost-1');
      assert.equal(placed.body['@type'], 'ServiceOrder');
      assert.match(placed.headers.get('location') ?? '', new RegExp(`^${ORDERING}/serviceOrder/${placed.body.id}$`));
      assert.equal(placed.body.href, `${ctl.url}${placed.headers.get('location')}`);

      const done = await finished(placed.body.id);
      assert.equal(done.state, 'completed');
      assert.equal(done.serviceOrderItem[0].state, 'completed');
      assert.ok(done.startDate && done.completionDate && done.completionDate >= done.startDate);
      assert.equal(done.errorMessage, undefined);
      assert.equal(characteristic(await service('LINE-INV-01'), 'bandwidth'), 300);

      const states = (await listener.waitFor(placed.body.id, 2)).map((e) => (e.event as { serviceOrder: ServiceOrder }).serviceOrder.state);
      assert.deepEqual(states, ['inProgress', 'completed']);
      const [change] = await listener.waitFor('LINE-INV-01', 1, 'ServiceAttributeValueChangeEvent');
      assert.equal(characteristic((change.event as { service: Service }).service, 'bandwidth'), 300);
      assert.ok(change.eventId && change.eventTime);
    });

    it('rejects orders above the port capacity, below the committed bandwidth, or for an unknown service', async () => {
      const cases: Array<[string, number, string]> = [
        ['LINE-INV-01', 1001, 'BANDWIDTH_ABOVE_PORT_CAPACITY'],
        ['LINE-INV-01', 99, 'BANDWIDTH_BELOW_COMMITTED'],
        ['LINE-NOPE', 200, 'SERVICE_NOT_FOUND'],
      ];
      for (const [serviceId, mbps, code] of cases) {
        const done = await placeAndWait(order(serviceId, mbps));
        assert.equal(done.state, 'rejected', code);
        assert.equal(done.serviceOrderItem[0].state, 'rejected');
        assert.equal(done.errorMessage?.[0].code, code);
        assert.ok(done.errorMessage?.[0].message, 'says why');
        assert.equal(done.startDate, undefined, 'never worked on');
        const events = await listener.waitFor(done.id, 1);
        assert.deepEqual(events.map((e) => (e.event as { serviceOrder: ServiceOrder }).serviceOrder.state), ['rejected']);
      }
      assert.equal(characteristic(await service('LINE-INV-01'), 'bandwidth'), 100);
      assert.equal((await placeAndWait(order('LINE-INV-01', 1000))).state, 'completed', 'the port capacity itself is fine');
    });

    it('fails orders on a cut line, and the ones the Control API sets to fail or be rejected', async () => {
      await api('POST', '/control/lines/LINE-INV-02/cut');
      const onCut = await placeAndWait(order('LINE-INV-02', 100));
      assert.equal(onCut.state, 'failed');
      assert.equal(onCut.errorMessage?.[0].code, 'LINE_OUT_OF_SERVICE');
      assert.equal(characteristic(await service('LINE-INV-02'), 'bandwidth'), 50);
      await api('POST', '/control/lines/LINE-INV-02/restore');

      const set = await api<LineView>('POST', '/control/lines/LINE-INV-02/fail-orders', { count: 1 });
      assert.deepEqual(set.body.injectedFailures, { count: 1, state: 'failed' });
      const injected = await placeAndWait(order('LINE-INV-02', 100));
      assert.equal(injected.state, 'failed');
      assert.equal(injected.errorMessage?.[0].code, 'CONFIGURATION_FAILED');
      assert.equal((await placeAndWait(order('LINE-INV-02', 100))).state, 'completed', 'only the next one');

      await api('POST', '/control/lines/LINE-INV-02/fail-orders', { count: 1, state: 'rejected' });
      const refused = await placeAndWait(order('LINE-INV-02', 200));
      assert.equal(refused.state, 'rejected');
      assert.equal(refused.errorMessage?.[0].code, 'ORDER_REFUSED');
      assert.equal(characteristic(await service('LINE-INV-02'), 'bandwidth'), 100);
      expectProblem(await api('POST', '/control/lines/LINE-INV-02/fail-orders', { count: -1 }), 400, 'INVALID_REQUEST');
      expectProblem(await api('POST', '/control/lines/LINE-INV-02/fail-orders', { count: 1, state: 'held' }), 400, 'INVALID_REQUEST');
    });

    it('fails the order under way when its line is cut', async () => {
      // Real-time delays (1.5–3 s of execution), so the cut lands while the order is inProgress.
      const slow = await startLineController({ timeScale: 1, log: () => {} });
      try {
        const placed = await call<ServiceOrder>(slow.url, 'POST', `${ORDERING}/serviceOrder`, order('LINE-INV-01', 500));
        const get = async () => (await call<ServiceOrder>(slow.url, 'GET', `${ORDERING}/serviceOrder/${placed.body.id}`)).body;
        await until(get, (o) => o.state !== 'acknowledged');
        assert.equal((await get()).state, 'inProgress');
        await call(slow.url, 'POST', '/control/lines/LINE-INV-01/cut');
        const failed = await get();
        assert.equal(failed.state, 'failed');
        assert.equal(failed.errorMessage?.[0].code, 'LINE_OUT_OF_SERVICE');
        assert.equal(slow.model.view('LINE-INV-01').bandwidthMbps, 100);
      } finally {
        await slow.close();
      }
    });

    it('carries out the orders of one line one at a time, in arrival order', async () => {
      const ids: string[] = [];
      for (const mbps of [200, 300, 150]) ids.push((await api<ServiceOrder>('POST', `${ORDERING}/serviceOrder`, order('LINE-INV-01', mbps))).body.id);
      const other = (await api<ServiceOrder>('POST', `${ORDERING}/serviceOrder`, order('LINE-INV-02', 80))).body.id;
      const orders = await Promise.all(ids.map(finished));
      assert.deepEqual(orders.map((o) => o.state), ['completed', 'completed', 'completed']);
      for (let i = 1; i < orders.length; i++) assert.ok(orders[i].startDate! >= orders[i - 1].completionDate!, `order ${i} started after order ${i - 1} ended`);
      assert.equal(characteristic(await service('LINE-INV-01'), 'bandwidth'), 150, 'the last order wins');
      assert.equal((await finished(other)).state, 'completed');
      const changes = await listener.waitFor('LINE-INV-01', 3, 'ServiceAttributeValueChangeEvent');
      assert.deepEqual(changes.map((e) => characteristic((e.event as { service: Service }).service, 'bandwidth')), [200, 300, 150]);
    });

    it('finds orders by externalId and state', async () => {
      const first = await placeAndWait(order('LINE-INV-01', 200, { externalId: 'key-a' }));
      await placeAndWait(order('LINE-INV-01', 999_999, { externalId: 'key-a' }));
      await placeAndWait(order('LINE-INV-02', 60, { externalId: 'key-b' }));
      const byKey = await api<ServiceOrder[]>('GET', `${ORDERING}/serviceOrder?externalId=key-a`);
      assert.equal(byKey.status, 200);
      assert.equal(byKey.headers.get('x-total-count'), '2');
      assert.deepEqual(byKey.body.map((o) => [o.externalId, o.state]), [['key-a', 'completed'], ['key-a', 'rejected']]);
      assert.equal(byKey.body[0].id, first.id);
      assert.deepEqual((await api<ServiceOrder[]>('GET', `${ORDERING}/serviceOrder?externalId=key-a&state=rejected`)).body.length, 1);
      assert.deepEqual((await api<ServiceOrder[]>('GET', `${ORDERING}/serviceOrder?state=completed`)).body.length, 2);
      const onLine = await api<ServiceOrder[]>('GET', `${ORDERING}/serviceOrder?serviceOrderItem.service.id=LINE-INV-02`);
      assert.deepEqual(onLine.body.map((o) => o.externalId), ['key-b']);
      const page = await api<ServiceOrder[]>('GET', `${ORDERING}/serviceOrder?offset=1&limit=1&fields=state`);
      assert.deepEqual([page.headers.get('x-total-count'), page.headers.get('x-result-count'), page.body[0].externalId, page.body[0].state], ['3', '1', undefined, 'rejected']);
      assert.deepEqual((await api('GET', `${ORDERING}/serviceOrder?externalId=key-z`)).body, []);
      expectTmfError(await api('GET', `${ORDERING}/serviceOrder/so-0`), 404, 'ORDER_NOT_FOUND');
    });
  });

  describe('hubs', () => {
    it('registers, shows and removes an event subscription', async () => {
      const other = await Listener.start();
      try {
        const created = await api<EventSubscription>('POST', `${INVENTORY}/hub`, { callback: other.url, query: 'eventType=ServiceStateChangeEvent' });
        assert.equal(created.status, 201);
        assert.deepEqual(created.body, { id: created.body.id, callback: other.url, query: 'eventType=ServiceStateChangeEvent' });
        assert.equal(created.headers.get('location'), `${INVENTORY}/hub/${created.body.id}`);
        assert.deepEqual((await api('GET', `${INVENTORY}/hub/${created.body.id}`)).body, created.body);
        expectTmfError(await api('GET', `${ORDERING}/hub/${created.body.id}`), 404, 'HUB_NOT_FOUND');

        await api('POST', '/control/lines/LINE-INV-01/cut');
        await other.waitFor('LINE-INV-01', 1);
        assert.equal((await api('DELETE', `${INVENTORY}/hub/${created.body.id}`)).status, 204);
        expectTmfError(await api('DELETE', `${INVENTORY}/hub/${created.body.id}`), 404, 'HUB_NOT_FOUND');
        await api('POST', '/control/lines/LINE-INV-01/restore');
        await listener.waitFor('LINE-INV-01', 2);
        assert.equal(other.events.length, 1, 'nothing after the subscription was removed');

        for (const callback of [undefined, 'not a url', 'ftp://127.0.0.1/x', 42]) {
          expectTmfError(await api('POST', `${ORDERING}/hub`, { callback }), 400, 'INVALID_REQUEST');
        }
      } finally {
        await other.close();
      }
    });

    it('reports a cut and a restore as ServiceStateChangeEvent, in order', async () => {
      const cut = await api<LineView>('POST', '/control/lines/LINE-INV-01/cut');
      assert.equal(cut.body.state, 'inactive');
      assert.equal((await service('LINE-INV-01')).state, 'inactive');
      assert.equal((await api<LineView>('POST', '/control/lines/LINE-INV-01/cut')).status, 200, 'cutting twice is harmless');
      await api('POST', '/control/lines/LINE-INV-01/restore');
      const events = await listener.waitFor('LINE-INV-01', 2, 'ServiceStateChangeEvent');
      assert.deepEqual(events.map((e) => (e.event as { service: Service }).service.state), ['inactive', 'active']);
      assert.equal(listener.about('LINE-INV-01').length, 2, 'one event per change');
    });

    it('delivers an event again after the listener answered 503, and drops it after the retries', async () => {
      listener.refuseNext = 2;
      await api('POST', '/control/lines/LINE-INV-02/cut');
      const [event] = await listener.waitFor('LINE-INV-02', 1);
      assert.equal(event.eventType, 'ServiceStateChangeEvent');
      assert.equal(listener.totalAttempts, 3);

      listener.clear();
      listener.refuseNext = 100;
      await api('POST', '/control/lines/LINE-INV-02/restore');
      await until(async () => logs.filter((l) => l === 'event dropped').length, (n) => n >= 1);
      assert.equal(listener.totalAttempts, 4, 'the first attempt and 3 retries');
    });
  });

  describe('performance feed', () => {
    it('computes samples from the demand against the bandwidth: a boost lowers utilisation and latency', async () => {
      assert.equal((await api<LineView>('POST', '/control/lines/LINE-INV-01/demand', { mbps: 95 })).body.demandMbps, 95);
      const before = await freshSamples('LINE-INV-01', 8);
      assert.ok(before.every((s) => s.bandwidthMbps === 100));
      assert.ok(average(before.map((s) => s.utilisationPercent)) > 80, JSON.stringify(before));

      assert.equal((await placeAndWait(order('LINE-INV-01', 400))).state, 'completed');
      const after = await freshSamples('LINE-INV-01', 8);
      assert.ok(after.every((s) => s.bandwidthMbps === 400));
      assert.ok(average(after.map((s) => s.utilisationPercent)) < 30, JSON.stringify(after));
      assert.ok(average(after.map((s) => s.latencyMs)) < average(before.map((s) => s.latencyMs)), 'latency drops with the queue');
      assert.ok(after.every((s) => s.lossPercent === 0));
      assert.ok(Math.abs(average(after.map((s) => s.throughputMbps)) - 95) < 10, 'the same traffic is carried');

      await api('POST', '/control/lines/LINE-INV-01/demand', { mbps: 600 });
      const overloaded = await freshSamples('LINE-INV-01', 5);
      assert.ok(overloaded.every((s) => s.throughputMbps === 400 && s.utilisationPercent === 100));
      assert.ok(average(overloaded.map((s) => s.lossPercent)) > 20, 'what exceeds the bandwidth is lost');
    });

    it('shows a cut line carrying nothing, until it is restored', async () => {
      await api('POST', '/control/lines/LINE-INV-02/cut');
      const cut = await freshSamples('LINE-INV-02', 3);
      assert.ok(cut.every((s) => s.throughputMbps === 0 && s.lossPercent === 100 && s.utilisationPercent === 0), JSON.stringify(cut));
      await api('POST', '/control/lines/LINE-INV-02/restore');
      const restored = await freshSamples('LINE-INV-02', 3);
      assert.ok(restored.every((s) => s.throughputMbps > 0 && s.lossPercent < 100));
    });

    it('answers the newest samples oldest first, bounded by limit, and problems for bad parameters', async () => {
      const answer = await api<{ serviceId: string; samples: LineSample[] }>('GET', '/performance/v1/services/LINE-INV-01/samples');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.serviceId, 'LINE-INV-01');
      assert.equal(answer.body.samples.length, 60, 'a new line has history; 60 by default');
      const five = (await api<{ samples: LineSample[] }>('GET', '/performance/v1/services/LINE-INV-01/samples?limit=5')).body.samples;
      assert.equal(five.length, 5);
      assert.deepEqual([...five].sort((a, b) => a.at.localeCompare(b.at)), five);
      for (const key of ['bandwidthMbps', 'utilisationPercent', 'throughputMbps', 'latencyMs', 'lossPercent'] as const) assert.equal(typeof five[0][key], 'number');
      const since = five[2].at;
      assert.ok((await samplesSince('LINE-INV-01', since)).every((s) => s.at > since));

      for (const query of ['since=yesterday', 'since=', 'limit=0', 'limit=501', 'limit=2.5', 'limit=abc']) {
        expectProblem(await api('GET', `/performance/v1/services/LINE-INV-01/samples?${query}`), 400, 'INVALID_REQUEST');
      }
      expectProblem(await api('GET', '/performance/v1/services/LINE-NOPE/samples'), 404, 'SERVICE_NOT_FOUND');
    });

    it('models latency and loss: a steep queue near 100% and no loss below 90%', () => {
      const line = { state: 'active' as const, bandwidthMbps: 100, demandMbps: 0, baseLatencyMs: 8 };
      const at = (offered: number) => sampleOf(line, offered);
      assert.equal(at(0).latencyMs, 8);
      assert.ok(at(50).latencyMs < at(90).latencyMs && at(90).latencyMs < at(99).latencyMs);
      assert.ok(at(99).latencyMs - at(90).latencyMs > 5 * (at(90).latencyMs - at(50).latencyMs), 'steep near 100%');
      assert.equal(at(89).lossPercent, 0);
      assert.ok(at(95).lossPercent > 0 && at(95).lossPercent < 1);
      assert.ok(Math.abs(at(200).lossPercent - 50) < 1, 'half of twice the bandwidth is lost');
      assert.deepEqual(sampleOf({ ...line, state: 'inactive' }, 50), { bandwidthMbps: 100, utilisationPercent: 0, throughputMbps: 0, latencyMs: 0, lossPercent: 100 });
    });
  });

  describe('Control API', () => {
    const newLine = { id: 'LINE-TEST-9', name: 'Test DC ↔ Test hub', aEnd: { siteName: 'DC', address: '1 Road' }, zEnd: { siteName: 'Hub', address: '2 Road' }, committedMbps: 20, portCapacityMbps: 100 };

    it('creates a line that the inventory, ordering and telemetry know', async () => {
      const created = await api<Service>('POST', '/control/lines', { ...newLine, demandMbps: 18, latencyMs: 3 });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('location'), `${INVENTORY}/service/LINE-TEST-9`);
      assert.equal(characteristic(created.body, 'bandwidth'), 20);
      assert.deepEqual(created.body.relatedParty, []);
      assert.deepEqual((await service('LINE-TEST-9')).id, 'LINE-TEST-9');
      assert.equal((await placeAndWait(order('LINE-TEST-9', 101))).state, 'rejected');
      assert.equal((await placeAndWait(order('LINE-TEST-9', 40))).state, 'completed');
      const view = (await api<LineView>('GET', '/control/lines/LINE-TEST-9')).body;
      assert.deepEqual([view.bandwidthMbps, view.demandMbps, view.latencyMs], [40, 18, 3]);
      const generated = await api<Service>('POST', '/control/lines', { ...newLine, id: undefined });
      assert.match(generated.body.id, /^LINE-\d+$/);

      expectProblem(await api('POST', '/control/lines', newLine), 409, 'LINE_EXISTS');
      for (const bad of [{ ...newLine, id: 'a/b' }, { ...newLine, name: '' }, { ...newLine, portCapacityMbps: 10 }, { ...newLine, committedMbps: 1.5 }, { ...newLine, aEnd: 'DC' }, { ...newLine, demandMbps: -1 }]) {
        expectProblem(await api('POST', '/control/lines', bad), 400, 'INVALID_REQUEST');
      }
      expectProblem(await api('POST', '/control/lines', '{'), 400, 'INVALID_JSON');
      expectProblem(await api('POST', '/control/lines/LINE-NOPE/cut'), 404, 'SERVICE_NOT_FOUND');
      expectProblem(await api('POST', '/control/lines/LINE-INV-01/demand', { mbps: 'lots' }), 400, 'INVALID_REQUEST');
    });

    it('resets to the seeded lines and no orders; order ids keep counting; hubs stay', async () => {
      await api('POST', '/control/lines', newLine);
      const before = await placeAndWait(order('LINE-INV-01', 300));
      await api('POST', '/control/lines/LINE-INV-02/cut');
      const reset = await api<{ lines: LineView[]; orders: { kept: number }; hubs: unknown[] }>('POST', '/control/reset');
      assert.deepEqual(reset.body.lines.map((l) => [l.id, l.state, l.bandwidthMbps]), [['LINE-INV-01', 'active', 100], ['LINE-INV-02', 'active', 50]]);
      assert.equal(reset.body.orders.kept, 0);
      assert.equal(reset.body.hubs.length, 2);
      expectTmfError(await api('GET', `${ORDERING}/serviceOrder/${before.id}`), 404, 'ORDER_NOT_FOUND');
      const next = await placeAndWait(order('LINE-INV-01', 200));
      assert.ok(Number(next.id.slice(3)) > Number(before.id.slice(3)));
    });
  });

  it('runs alone as a program and stops cleanly on SIGTERM', async () => {
    const program = await startSimulatorProgram('line-controller', ['--port', '0', '--seed', '7', '--time-scale', '0']);
    const { url, seed, lines } = program.listening as unknown as { url: string; seed: number; lines: string[] };
    assert.equal(seed, 7);
    assert.deepEqual(lines, ['LINE-INV-01', 'LINE-INV-02']);
    assert.equal((await call<Service>(url, 'GET', `${INVENTORY}/service/LINE-INV-02`)).body.name, 'Invoice cloud DC ↔ Tax hub North');
    assert.equal(await program.stop(), 0);

    assert.equal(await exitCodeOf('line-controller', ['--time-scale', 'x']), 2);
  });
});
