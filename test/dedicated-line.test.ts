import assert from 'node:assert/strict';
import { expectContract, expectError } from './support/contract.ts';
import { ADMIN_TOKEN } from './support/gateway.ts';
import { DL, DL_ADMIN, inventory, newLine, ordersOf, startLines, stopLines, until, type LineFixture } from './support/line.ts';
import { TestSink, type ReceivedEvent } from './support/sink.ts';
import { stableEventId } from '../src/notify/index.ts';

const dataOf = (events: ReceivedEvent[]) => events.map((e) => e.body.data);
const iso = (ms: number) => new Date(ms).toISOString();

describe('dedicated line: bandwidth on demand over TMF641/TMF638', function () {
  this.timeout(60_000);
  let f: LineFixture;

  before(async () => {
    f = await startLines();
  });
  after(async () => {
    await stopLines(f);
  });
  afterEach(function () {
    // A failure caused by the gateway (an order that failed, a sync that gave up) is told in its warnings.
    if (this.currentTest?.state !== 'failed') return;
    for (const l of f.gw.logs.lines.filter((x) => Number(x.level) >= 40).slice(-20)) console.log(`      gateway warned: ${JSON.stringify(l).slice(0, 500)}`);
  });

  const auth = (token = f.token) => ({ Authorization: `Bearer ${token}` });
  const create = (lineId: string, body: Record<string, unknown>, token?: string) => f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth(token)).send(body);
  const get = (lineId: string, id: string, token?: string) => f.gw.http.get(`${DL}/lines/${lineId}/bandwidth-requests/${id}`).set(auth(token));
  const line = (lineId: string, token?: string) => f.gw.http.get(`${DL}/lines/${lineId}`).set(auth(token));
  const withSink = (body: Record<string, unknown>) => ({ sink: f.sink.url, ...body });

  /** Creates a boost and waits until the network carries it. */
  async function available(lineId: string, body: Record<string, unknown>): Promise<string> {
    const res = await create(lineId, withSink(body));
    assert.equal(res.status, 201, res.text);
    const [first] = await f.sink.waitFor(res.body.requestId, 1);
    assert.equal(first.body.data.status, 'AVAILABLE', `the boost did not start: ${JSON.stringify(first.body.data)}`);
    return res.body.requestId;
  }

  describe('lines', () => {
    it('lists and reads the tenant\'s lines with both ends, capacities, status and the bandwidth in force', async () => {
      const { lineId } = await newLine(f, { committedMbps: 200, portCapacityMbps: 2000 });
      const list = await f.gw.http.get(`${DL}/lines`).set(auth());
      await expectContract(list);
      const mine = list.body.find((l: { lineId: string }) => l.lineId === lineId);
      assert.deepEqual(mine, {
        lineId,
        name: mine.name,
        aEnd: { site: 'Cloud DC', address: '1 Data Road' },
        zEnd: { site: 'Tax hub', address: '9 Filing Street' },
        committedBandwidthMbps: 200,
        portCapacityMbps: 2000,
        bandwidthInForceMbps: 200,
        status: 'IN_SERVICE',
      });
      const one = await line(lineId);
      await expectContract(one);
      assert.deepEqual(one.body, mine);
    });

    it('never shows a line to another tenant', async () => {
      const { lineId } = await newLine(f);
      const other = await f.gw.token('globex-app');
      const list = await f.gw.http.get(`${DL}/lines`).set(auth(other));
      assert.equal(list.status, 200);
      assert.ok(!list.body.some((l: { lineId: string }) => l.lineId === lineId));
      await expectError(await line(lineId, other), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.get(`${DL}/lines/${lineId}/telemetry`).set(auth(other)), 404, 'NOT_FOUND');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60 }, other), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth(other)).send({ bandwidthMbps: 10, duration: 60 }), 404, 'NOT_FOUND');
    });

    it('telemetry shows utilisation and latency falling once a boost is in force', async () => {
      const { lineId, serviceId } = await newLine(f, { committedMbps: 100, portCapacityMbps: 1000 });
      await f.net.lineControl(`lines/${serviceId}/demand`, { mbps: 150 });
      const demandSet = iso(Date.now());
      const before = await until(
        () => f.gw.http.get(`${DL}/lines/${lineId}/telemetry`).query({ since: demandSet, limit: 3 }).set(auth()),
        (r) => r.status === 200 && r.body.samples.length === 3,
      );
      assert.ok(before.body.samples.every((s: { bandwidthMbps: number }) => s.bandwidthMbps === 100));
      await expectContract(before);
      const last = before.body.samples.at(-1);
      assert.equal(last.utilisationPercent, 100, 'demand above the bandwidth saturates the line');
      assert.ok(last.lossPercent > 0);
      await available(lineId, { bandwidthMbps: 400, duration: 60 });
      const after = await until(
        () => f.gw.http.get(`${DL}/lines/${lineId}/telemetry?limit=1`).set(auth()),
        (r) => r.status === 200 && r.body.samples[0]?.bandwidthMbps === 500,
      );
      const s = after.body.samples[0];
      assert.ok(s.utilisationPercent < 50, `utilisation ${s.utilisationPercent}`);
      assert.ok(s.latencyMs < last.latencyMs, `latency ${s.latencyMs} vs ${last.latencyMs}`);
      assert.equal(s.lossPercent, 0);
      const since = await f.gw.http.get(`${DL}/lines/${lineId}/telemetry`).query({ since: before.body.samples[0].at, limit: 2 }).set(auth());
      assert.equal(since.status, 200);
      assert.ok(since.body.samples.length <= 2 && since.body.samples.every((x: { at: string }) => x.at > before.body.samples[0].at));
    });
  });

  describe('immediate boosts', () => {
    it('REQUESTED → AVAILABLE through a TMF641 modify order, then DURATION_EXPIRED and back to committed', async () => {
      const { lineId, serviceId } = await newLine(f);
      const res = await create(lineId, withSink({ bandwidthMbps: 300, duration: 2 }));
      await expectContract(res);
      assert.equal(res.status, 201);
      assert.equal(res.body.status, 'REQUESTED');
      assert.equal(res.body.bandwidthMbps, 300);
      const id = res.body.requestId;
      const [first] = await f.sink.waitFor(id, 1);
      assert.equal(first.body.type, 'org.exposure-gateway.dedicated-line.v1.bandwidth-status-changed');
      assert.equal(first.headers['content-type'], 'application/cloudevents+json');
      assert.deepEqual(first.body.data, { requestId: id, lineId, status: 'AVAILABLE' });
      const got = await get(lineId, id);
      await expectContract(got);
      assert.equal(got.body.status, 'AVAILABLE');
      assert.equal(Date.parse(got.body.expiresAt), Date.parse(res.body.startTime) + 2000);
      assert.equal((await line(lineId)).body.bandwidthInForceMbps, 400);
      assert.deepEqual(await inventory(f.net, serviceId), { state: 'active', bandwidth: 400 });
      const events = await f.sink.waitFor(id, 2);
      assert.deepEqual(dataOf(events)[1], { requestId: id, lineId, status: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' });
      const ended = await get(lineId, id);
      assert.equal(ended.body.status, 'UNAVAILABLE');
      assert.equal(ended.body.statusInfo, 'DURATION_EXPIRED');
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 100);
      assert.deepEqual((await ordersOf(f.net, serviceId)).map((o) => [o.value, o.state]), [[400, 'completed'], [100, 'completed']]);
    });

    it('two boosts at once add up on the line, and one ending leaves the other in force', async () => {
      const { lineId, serviceId } = await newLine(f);
      const a = await available(lineId, { bandwidthMbps: 100, duration: 2 });
      const b = await available(lineId, { bandwidthMbps: 200, duration: 60 });
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 400);
      await f.sink.waitFor(a, 2);
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 300);
      assert.equal((await get(lineId, b)).body.status, 'AVAILABLE');
    });

    it('a sink that answered 410 Gone is used again once a new request names it', async () => {
      const gone = await new TestSink().start();
      try {
        const { lineId } = await newLine(f);
        let answered = 0;
        gone.respond = () => (answered++, 410);
        assert.equal((await create(lineId, { bandwidthMbps: 10, duration: 60, sink: gone.url })).status, 201);
        const { redis } = f.gw.system.services;
        const goneKey = f.gw.system.services.notifier.goneKey('acme-app');
        await until(() => redis.hget(goneKey, gone.url), (v) => v !== null);
        assert.equal(answered, 1);
        gone.respond = () => 204;
        const again = await create(lineId, { bandwidthMbps: 10, duration: 60, sink: gone.url });
        assert.equal(again.status, 201);
        assert.deepEqual(dataOf(await gone.waitFor(again.body.requestId, 1)), [{ requestId: again.body.requestId, lineId, status: 'AVAILABLE' }]);
      } finally {
        await gone.close();
      }
    });

    it('a failed order ends the request NETWORK_TERMINATED and leaves the line as it was', async () => {
      const { lineId, serviceId } = await newLine(f);
      await f.net.lineControl(`lines/${serviceId}/fail-orders`, { count: 1 });
      const res = await create(lineId, withSink({ bandwidthMbps: 300, duration: 60 }));
      assert.equal(res.status, 201);
      const events = await f.sink.waitFor(res.body.requestId, 1);
      assert.deepEqual(events[0].body.data, { requestId: res.body.requestId, lineId, status: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
      assert.equal((await inventory(f.net, serviceId)).bandwidth, 100);
      // The booking is freed: the full port is available again.
      const again = await create(lineId, { bandwidthMbps: 900, duration: 60 });
      assert.equal(again.status, 201, again.text);
    });

    it('a line cut ends the boosts in force NETWORK_TERMINATED; an immediate request on the cut line is 422', async () => {
      const { lineId, serviceId } = await newLine(f);
      const id = await available(lineId, { bandwidthMbps: 300, duration: 60 });
      await f.net.lineControl(`lines/${serviceId}/cut`);
      const events = await f.sink.waitFor(id, 2);
      assert.deepEqual(events[1].body.data, { requestId: id, lineId, status: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
      assert.equal((await line(lineId)).body.status, 'OUT_OF_SERVICE');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60 }), 422, 'DEDICATED_LINE.LINE_NOT_IN_SERVICE');
      await f.net.lineControl(`lines/${serviceId}/restore`);
      await until(() => line(lineId), (r) => r.body.status === 'IN_SERVICE');
      // Back in service, the line returns to its committed bandwidth: nothing is in force any more.
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 100);
    });
  });

  describe('scheduled boosts and admission over time', () => {
    it('SCHEDULED → AVAILABLE at its start and UNAVAILABLE at its end, each within a second', async () => {
      const { lineId, serviceId } = await newLine(f);
      const start = Date.now() + 2500;
      const arrivals: number[] = [];
      const respond = f.sink.respond;
      f.sink.respond = (e) => (arrivals.push(Date.now()), respond(e));
      try {
        const res = await create(lineId, withSink({ bandwidthMbps: 250, duration: 2, startTime: iso(start) }));
        await expectContract(res);
        assert.equal(res.body.status, 'SCHEDULED');
        assert.equal(res.body.startTime, iso(start));
        assert.equal((await inventory(f.net, serviceId)).bandwidth, 100, 'nothing changes before the start');
        const id = res.body.requestId;
        const events = await f.sink.waitFor(id, 2, 20_000);
        assert.deepEqual(dataOf(events), [
          { requestId: id, lineId, status: 'AVAILABLE' },
          { requestId: id, lineId, status: 'UNAVAILABLE', statusInfo: 'DURATION_EXPIRED' },
        ]);
        // On time means the gateway ordered each change within a second of its instant (the
        // network then takes its own time to carry it out), and told the sink, never early.
        await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 100);
        const orders = await ordersOf(f.net, serviceId);
        assert.deepEqual(orders.map((o) => o.value), [350, 100]);
        const up = Date.parse(orders[0].orderDate) - start;
        const down = Date.parse(orders[1].orderDate) - (start + 2000);
        assert.ok(up >= 0 && up < 1000, `the boost was ordered ${up} ms after the start`);
        assert.ok(down >= 0 && down < 1000, `the return to committed was ordered ${down} ms after the end`);
        const late = arrivals.slice(-2);
        assert.ok(late[0] >= start, 'AVAILABLE is never told before the start');
        assert.ok(late[1] >= start + 2000, 'UNAVAILABLE is never told before the end');
        const ended = await get(lineId, id);
        assert.equal(Date.parse(ended.body.expiresAt), start + 2000);
      } finally {
        f.sink.respond = respond;
      }
    });

    it('admits back-to-back bookings at the edge of a window and refuses an overlap of one millisecond, naming it', async () => {
      const { lineId } = await newLine(f, { committedMbps: 100, portCapacityMbps: 1000 });
      const t = Date.now() + 1_200_000;
      assert.equal((await create(lineId, { bandwidthMbps: 900, duration: 600, startTime: iso(t) })).status, 201);
      assert.equal((await create(lineId, { bandwidthMbps: 900, duration: 600, startTime: iso(t + 600_000) })).status, 201, 'starts exactly where the first ends');
      assert.equal((await create(lineId, { bandwidthMbps: 900, duration: 600, startTime: iso(t - 600_000) })).status, 201, 'ends exactly where the first starts');
      const overlap = await create(lineId, { bandwidthMbps: 1, duration: 1, startTime: iso(t + 599_999) });
      await expectError(overlap, 409, 'CONFLICT');
      assert.match(overlap.body.message, new RegExp(`from ${iso(t + 599_999)} to ${iso(t + 600_000)} the line would carry 1001 Mbps.*port capacity of 1000 Mbps`));
      const assess = await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth()).send({ bandwidthMbps: 1, duration: 1, startTime: iso(t + 599_999) });
      await expectContract(assess);
      assert.equal(assess.body.fits, false);
      assert.deepEqual(assess.body.conflict, { from: iso(t + 599_999), to: iso(t + 600_000), limit: 'PORT_CAPACITY', limitMbps: 1000, requiredMbps: 1001 });
      assert.equal(assess.body.earliestStartTime, iso(t + 1_200_000), 'after the last of the three back-to-back bookings');
    });

    it('the plan ceiling on a line\'s bandwidth is a limit like the port capacity', async () => {
      await f.gw.http
        .put('/admin/v1/tenants/globex/applications/globex-app/subscriptions/dedicated-line')
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ plan: { rateLimit: { requests: 100, windowSeconds: 1 }, maxConcurrentResources: 10, limits: { minRequestDurationSeconds: 1, maxLineBandwidthMbps: 300 } } });
      const other = await f.gw.token('globex-app');
      const { lineId } = await newLine(f, { tenant: 'globex', committedMbps: 100, portCapacityMbps: 1000 });
      const fits = await create(lineId, { bandwidthMbps: 200, duration: 60, startTime: iso(Date.now() + 60_000) }, other);
      assert.equal(fits.status, 201, '100 + 200 = 300 fits');
      const over = await create(lineId, { bandwidthMbps: 1, duration: 60, startTime: iso(Date.now() + 90_000) }, other);
      await expectError(over, 409, 'CONFLICT');
      assert.match(over.body.message, /would carry 301 Mbps.*plan's maximum line bandwidth of 300 Mbps/);
      const assess = await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth(other)).send({ bandwidthMbps: 250, duration: 60 });
      assert.equal(assess.body.fits, false);
      assert.equal(assess.body.conflict.limit, 'PLAN_LIMIT');
      assert.equal(assess.body.conflict.limitMbps, 300);
      assert.equal(assess.body.earliestStartTime, undefined, '100 + 250 is above the ceiling at any time');
      // Leaves globex's plan slots as it found them.
      assert.equal((await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${fits.body.requestId}`).set(auth(other))).status, 204);
    });

    it('the assessment books nothing and finds the earliest start', async () => {
      const { lineId } = await newLine(f, { committedMbps: 100, portCapacityMbps: 1000 });
      const now = Date.now();
      const busy = await create(lineId, { bandwidthMbps: 500, duration: 300 });
      assert.equal(busy.status, 201);
      const end = Date.parse(busy.body.startTime) + 300_000;
      const fits = await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth()).send({ bandwidthMbps: 400, duration: 60 });
      assert.equal(fits.status, 200);
      assert.equal(fits.body.fits, true);
      const wait = await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth()).send({ bandwidthMbps: 600, duration: 60 });
      assert.equal(wait.body.fits, false);
      assert.equal(wait.body.earliestStartTime, iso(end));
      assert.ok(Date.parse(wait.body.startTime) >= now);
      assert.equal((await create(lineId, { bandwidthMbps: 400, duration: 60 })).status, 201, 'assessing booked nothing');
      const never = await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth()).send({ bandwidthMbps: 901, duration: 60 });
      assert.equal(never.body.fits, false);
      assert.equal(never.body.earliestStartTime, undefined, 'more than the port can ever carry');
    });
  });

  describe('extension and deletion', () => {
    it('extends only while AVAILABLE, capped at the plan maximum, and never into a booking that does not fit', async () => {
      const { lineId } = await newLine(f);
      const id = await available(lineId, { bandwidthMbps: 600, duration: 60 });
      const startTime = Date.parse((await get(lineId, id)).body.startTime);
      const ext = await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests/${id}/extend`).set(auth()).send({ requestedAdditionalDuration: 30 });
      await expectContract(ext);
      assert.equal(ext.status, 200);
      assert.equal(ext.body.duration, 90);
      assert.equal(Date.parse(ext.body.expiresAt), startTime + 90_000);
      // A booking right after the new end: a further extension would overlap it.
      assert.equal((await create(lineId, { bandwidthMbps: 600, duration: 60, startTime: iso(startTime + 90_000) })).status, 201);
      const clash = await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests/${id}/extend`).set(auth()).send({ requestedAdditionalDuration: 10 });
      await expectError(clash, 409, 'CONFLICT');
      const scheduled = await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 3_600_000) });
      await expectError(
        await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests/${scheduled.body.requestId}/extend`).set(auth()).send({ requestedAdditionalDuration: 10 }),
        409,
        'DEDICATED_LINE.EXTENSION_NOT_ALLOWED',
      );
    });

    it('an ended request cannot be extended either', async () => {
      const { lineId } = await newLine(f);
      const id = await available(lineId, { bandwidthMbps: 10, duration: 1 });
      await f.sink.waitFor(id, 2);
      await expectError(
        await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests/${id}/extend`).set(auth()).send({ requestedAdditionalDuration: 10 }),
        409,
        'DEDICATED_LINE.EXTENSION_NOT_ALLOWED',
      );
    });

    it('caps the total duration at the plan maximum without error', async () => {
      const { lineId } = await newLine(f);
      const id = await available(lineId, { bandwidthMbps: 10, duration: 3590 });
      const ext = await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests/${id}/extend`).set(auth()).send({ requestedAdditionalDuration: 600 });
      assert.equal(ext.status, 200);
      assert.equal(ext.body.duration, 3600);
    });

    it('deletes in each state: SCHEDULED and AVAILABLE tell the sink DELETE_REQUESTED, an ended one is removed quietly', async () => {
      const { lineId, serviceId } = await newLine(f);
      const later = Date.now() + 600_000;
      const scheduled = await create(lineId, withSink({ bandwidthMbps: 900, duration: 60, startTime: iso(later) }));
      const del1 = await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${scheduled.body.requestId}`).set(auth());
      assert.equal(del1.status, 204);
      assert.deepEqual(dataOf(await f.sink.waitFor(scheduled.body.requestId, 1)), [{ requestId: scheduled.body.requestId, lineId, status: 'UNAVAILABLE', statusInfo: 'DELETE_REQUESTED' }]);
      await expectError(await get(lineId, scheduled.body.requestId), 404, 'NOT_FOUND');
      assert.equal((await create(lineId, { bandwidthMbps: 900, duration: 60, startTime: iso(later) })).status, 201, 'its window is free again');

      const inForce = await available(lineId, { bandwidthMbps: 300, duration: 60 });
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 400);
      assert.equal((await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${inForce}`).set(auth())).status, 204);
      assert.deepEqual(dataOf(await f.sink.waitFor(inForce, 2))[1], { requestId: inForce, lineId, status: 'UNAVAILABLE', statusInfo: 'DELETE_REQUESTED' });
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 100);

      const short = await available(lineId, { bandwidthMbps: 10, duration: 1 });
      await f.sink.waitFor(short, 2);
      assert.equal((await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${short}`).set(auth())).status, 204);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(f.sink.forSession(short).length, 2, 'nothing more for a request that had already ended');

      const requested = await create(lineId, withSink({ bandwidthMbps: 20, duration: 60 }));
      assert.equal((await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${requested.body.requestId}`).set(auth())).status, 204);
      const last = dataOf(await until(() => Promise.resolve(f.sink.forSession(requested.body.requestId)), (e) => e.some((x) => x.body.data.status === 'UNAVAILABLE'))).at(-1);
      assert.deepEqual(last, { requestId: requested.body.requestId, lineId, status: 'UNAVAILABLE', statusInfo: 'DELETE_REQUESTED' });
      await until(() => inventory(f.net, serviceId), (i) => i.bandwidth === 100);
    });

    it('lists a client\'s own requests on a line; another client of the same tenant sees none of them', async () => {
      const { lineId } = await newLine(f);
      const res = await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 60_000) });
      const list = await f.gw.http.get(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth());
      await expectContract(list);
      assert.deepEqual(list.body.map((r: { requestId: string }) => r.requestId), [res.body.requestId]);
      const app = await f.gw.http
        .post('/admin/v1/tenants/acme/applications')
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ clientId: `acme-ops-${Date.now()}`, name: 'Acme ops', clientSecret: true });
      assert.equal(app.status, 201, app.text);
      await f.gw.http.put(`/admin/v1/tenants/acme/applications/${app.body.clientId}/subscriptions/dedicated-line`).set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ plan: { rateLimit: { requests: 100, windowSeconds: 1 } } });
      const other = await f.gw.token(app.body.clientId, app.body.clientSecret);
      assert.equal((await line(lineId, other)).status, 200, 'the line is the tenant\'s');
      assert.deepEqual((await f.gw.http.get(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth(other))).body, []);
      await expectError(await get(lineId, res.body.requestId, other), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${res.body.requestId}`).set(auth(other)), 404, 'NOT_FOUND');
    });
  });

  describe('a transition whose process stopped before its follow-up work', () => {
    it('is finished by the recovery: the event comes, with an id derived from the request and version', async () => {
      const { lineId } = await newLine(f, { committedMbps: 100, portCapacityMbps: 1000 });
      const id = await available(lineId, { bandwidthMbps: 300, duration: 60 });
      const redis = f.gw.system.services.redis;
      const record = f.gw.system.services.key('dl', 'r', id);
      const effects = f.gw.system.services.key('dl', 'effects');
      // A normal transition leaves nothing owed behind it.
      await until(() => redis.zrange(effects, '0', '-1'), (owed) => !owed.some((e) => e.startsWith(`${id}:`)));
      // What a process that ended the request stores in one step, and then died: the record and its entry, nothing else.
      const r = JSON.parse((await redis.get(record))!);
      const ended = { ...r, v: r.v + 1, status: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED', endedAt: Date.now() };
      await redis.multi().set(record, JSON.stringify(ended)).zadd(effects, Date.now() - 60_000, `${id}:${ended.v}`).exec();
      const events = await f.sink.waitFor(id, 2, 20_000);
      assert.deepEqual(events[1].body.data, { requestId: id, lineId, status: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
      assert.equal(events[1].body.id, stableEventId(`dl/${id}/${ended.v}`));
      await until(() => redis.zrange(effects, '0', '-1'), (owed) => !owed.some((e) => e.startsWith(`${id}:`)));
    });
  });

  describe('bad input', () => {
    it('answers every broken request with the right 4xx and code', async () => {
      const { lineId } = await newLine(f);
      const url = `${DL}/lines/${lineId}/bandwidth-requests`;
      await expectError(await f.gw.http.post(url).send({ bandwidthMbps: 10, duration: 60 }), 401, 'UNAUTHENTICATED');
      const readOnly = await f.gw.token('acme-app', 'acme-secret', 'dedicated-line:lines:read');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60 }, readOnly), 403, 'PERMISSION_DENIED');
      await expectError(await create(lineId, { duration: 60 }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(lineId, { bandwidthMbps: 0, duration: 60 }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, colour: 'blue' }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: 'tomorrow' }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() - 60_000) }), 400, 'OUT_OF_RANGE');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 31 * 86_400_000) }), 400, 'OUT_OF_RANGE');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 3601 }), 400, 'OUT_OF_RANGE');
      await expectError(await create(lineId, { bandwidthMbps: 901, duration: 60 }), 409, 'CONFLICT');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, sink: 'http://evil.example.com/hook' }), 400, 'INVALID_SINK');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, sinkCredential: { credentialType: 'ACCESSTOKEN', accessToken: 'x', accessTokenExpiresUtc: iso(Date.now() + 3_600_000), accessTokenType: 'bearer' } }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(lineId, { bandwidthMbps: 10, duration: 60, sink: f.sink.url, sinkCredential: { credentialType: 'PRIVATE_KEY_JWT' } }), 422, 'PRIVATE_KEY_JWT_NOT_CONFIGURED');
      await expectError(await create('no-such-line', { bandwidthMbps: 10, duration: 60 }), 404, 'NOT_FOUND');
      await expectError(await get(lineId, '00000000-0000-4000-8000-000000000000'), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.get(`${DL}/lines/${lineId}/telemetry?limit=0`).set(auth()), 400, 'INVALID_ARGUMENT');
      await expectError(await f.gw.http.get(`${DL}/lines/${lineId}/telemetry?since=yesterday`).set(auth()), 400, 'INVALID_ARGUMENT');
      await expectError(await f.gw.http.post(`${DL}/lines/${lineId}/assess`).set(auth()).send({ bandwidthMbps: 10 }), 400, 'INVALID_ARGUMENT');
      const bad = await f.gw.http.post(url).set(auth()).set('content-type', 'application/json').send('{"bandwidthMbps": 10,');
      await expectError(bad, 400, 'INVALID_ARGUMENT');
    });

    it('the plan\'s concurrent requests: 429 QUOTA_EXCEEDED, and the slot comes back when one ends', async () => {
      await f.gw.http
        .put('/admin/v1/tenants/globex/applications/globex-app/subscriptions/dedicated-line')
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ plan: { rateLimit: { requests: 100, windowSeconds: 1 }, maxConcurrentResources: 1, limits: { minRequestDurationSeconds: 1 } } });
      const other = await f.gw.token('globex-app');
      const globexLine = await newLine(f, { tenant: 'globex' });
      const first = await create(globexLine.lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 60_000) }, other);
      assert.equal(first.status, 201, first.text);
      await expectError(await create(globexLine.lineId, { bandwidthMbps: 10, duration: 60 }, other), 429, 'QUOTA_EXCEEDED');
      await f.gw.http.delete(`${DL}/lines/${globexLine.lineId}/bandwidth-requests/${first.body.requestId}`).set(auth(other));
      assert.equal((await create(globexLine.lineId, { bandwidthMbps: 10, duration: 60 }, other)).status, 201);
    });

    it('Idempotency-Key: the same key and body replay the first answer; another body is 422', async () => {
      const { lineId } = await newLine(f);
      const body = { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 60_000) };
      const a = await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth()).set('Idempotency-Key', 'k-1').send(body);
      const b = await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth()).set('Idempotency-Key', 'k-1').send(body);
      assert.equal(a.status, 201);
      assert.deepEqual(b.body, a.body);
      const list = await f.gw.http.get(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth());
      assert.equal(list.body.length, 1);
      await expectError(await f.gw.http.post(`${DL}/lines/${lineId}/bandwidth-requests`).set(auth()).set('Idempotency-Key', 'k-1').send({ ...body, bandwidthMbps: 11 }), 422, 'IDEMPOTENCY_KEY_REUSED');
    });
  });

  describe('operator API', () => {
    it('registers a line of the inventory to a tenant, refuses unknown or taken services, and unregisters only an idle line', async () => {
      const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      const { lineId, serviceId } = await newLine(f);
      const list = await f.gw.http.get(`${DL_ADMIN}/tenants/acme/lines`).set(admin);
      await expectContract(list);
      assert.ok(list.body.some((l: { lineId: string; serviceId: string }) => l.lineId === lineId && l.serviceId === serviceId));
      await expectError(await f.gw.http.post(`${DL_ADMIN}/tenants/acme/lines`).set(admin).send({ serviceId: 'NO-SUCH-SERVICE' }), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.post(`${DL_ADMIN}/tenants/globex/lines`).set(admin).send({ serviceId }), 409, 'ALREADY_EXISTS');
      await expectError(await f.gw.http.post(`${DL_ADMIN}/tenants/nobody/lines`).set(admin).send({ serviceId }), 404, 'NOT_FOUND');
      const res = await create(lineId, { bandwidthMbps: 10, duration: 60, startTime: iso(Date.now() + 60_000) });
      await expectError(await f.gw.http.delete(`${DL_ADMIN}/tenants/acme/lines/${lineId}`).set(admin), 409, 'CONFLICT');
      await f.gw.http.delete(`${DL}/lines/${lineId}/bandwidth-requests/${res.body.requestId}`).set(auth());
      assert.equal((await f.gw.http.delete(`${DL_ADMIN}/tenants/acme/lines/${lineId}`).set(admin)).status, 204);
      await expectError(await line(lineId), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.post(`${DL_ADMIN}/tenants/acme/lines`).set({}).send({ serviceId }), 401, 'UNAUTHENTICATED');
    });
  });
});
