import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { testRedisUrl } from './support/hooks.ts';
import { stableEventId } from '../src/notify/index.ts';
import { storeDeviceRef } from '../src/identity/device-ref.ts';
import { randomUUID } from 'node:crypto';
import { ADMIN_TOKEN, startTestGateway } from './support/gateway.ts';
import type { SimulatedNetwork } from '../simulators/index.ts';
import { expectContract, expectError } from './support/contract.ts';
import { QOD, createBody, phone, qodBootstrap, startQod, stopQod, ueIp, until, type QodFixture } from './support/qod.ts';

export { createBody, qodBootstrap, startQod, stopQod, type QodFixture } from './support/qod.ts';

describe('Quality on Demand end to end', function () {
  this.timeout(60_000);
  let f: QodFixture;
  before(async () => {
    f = await startQod();
  });
  after(() => stopQod(f));

  const auth = () => `Bearer ${f.token}`;
  const create = (body: unknown, token = f.token) => f.gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${token}`).send(body as object);
  const get = (id: string, token = f.token) => f.gw.http.get(`${QOD}/sessions/${id}`).set('Authorization', `Bearer ${token}`);
  const waitStatus = (id: string, status: string) => until(() => get(id), (r) => r.body.qosStatus === status);

  it('creates a session: 201 REQUESTED, then AVAILABLE over N5 with an event at the sink', async () => {
    const res = await create(createBody(1, f.sink));
    assert.equal(res.status, 201, res.text);
    await expectContract(res);
    assert.equal(res.body.qosStatus, 'REQUESTED');
    assert.deepEqual(res.body.device, { phoneNumber: phone(1) });
    assert.equal(res.body.startedAt, undefined);
    const [event] = await f.sink.waitFor(res.body.sessionId, 1);
    assert.equal(event.headers['content-type'], 'application/cloudevents+json');
    assert.equal(event.body.type, 'org.camaraproject.quality-on-demand.v1.qos-status-changed');
    assert.equal(event.body.specversion, '1.0');
    assert.deepEqual(event.body.data, { sessionId: res.body.sessionId, qosStatus: 'AVAILABLE' });
    const available = await get(res.body.sessionId);
    assert.equal(available.body.qosStatus, 'AVAILABLE');
    const started = Date.parse(available.body.startedAt);
    assert.equal(Date.parse(available.body.expiresAt) - started, 60_000);
    // The PCF holds exactly one context for it, with the profile's reference and our flow filters.
    const contexts = f.net.pcf.appSessions().filter((s) => s.ueIpv4 === ueIp(1));
    assert.equal(contexts.length, 1);
  });

  it('echoes the one identifier it used, and never reports a mismatch', async () => {
    const res = await create(createBody(2, f.sink, { device: { phoneNumber: phone(2), ipv4Address: { publicAddress: '203.0.113.9', publicPort: 80 } } }));
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.device, { phoneNumber: phone(2) });
    const byIp = await create(createBody(3, f.sink, { device: { ipv4Address: { publicAddress: ueIp(3), privateAddress: ueIp(3) } } }));
    assert.equal(byIp.status, 201, byIp.text);
    assert.deepEqual(byIp.body.device, { ipv4Address: { publicAddress: ueIp(3), privateAddress: ueIp(3) } });
  });

  describe('refusals', () => {
    it('unknown profile 400 INVALID_ARGUMENT; inactive or deprecated 422 QOS_PROFILE_NOT_APPLICABLE', async () => {
      await expectError(await create(createBody(10, f.sink, { qosProfile: 'QOS_NOPE' })), 400, 'INVALID_ARGUMENT');
      await expectError(await create(createBody(10, f.sink, { qosProfile: 'QOS_OFF' })), 422, 'QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE');
      await expectError(await create(createBody(10, f.sink, { qosProfile: 'QOS_LEGACY' })), 422, 'QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE');
    });

    it("a duration outside the profile's bounds: 400", async () => {
      await expectError(await create(createBody(10, f.sink, { qosProfile: 'QOS_SHORT', duration: 11 })), 400, 'QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE');
      await expectError(await create(createBody(10, f.sink, { duration: 0 })), 400, 'INVALID_ARGUMENT');
    });

    it('device rules: missing 422, NAI only 422, unknown 404, IoT plan 422', async () => {
      const { device: _d, ...noDevice } = createBody(10, f.sink);
      await expectError(await create(noDevice), 422, 'MISSING_IDENTIFIER');
      await expectError(await create(createBody(10, f.sink, { device: { networkAccessIdentifier: 'someone@example.com' } })), 422, 'UNSUPPORTED_IDENTIFIER');
      await expectError(await create(createBody(10, f.sink, { device: { phoneNumber: '+8613800000000' } })), 404, 'IDENTIFIER_NOT_FOUND');
      await expectError(await create(createBody(9500, f.sink)), 422, 'SERVICE_NOT_APPLICABLE');
    });

    it('strict bodies: unknown properties, bad phone numbers, bad ports: 400', async () => {
      await expectError(await create({ ...createBody(10, f.sink), colour: 'red' }), 400, 'INVALID_ARGUMENT');
      await expectError(await create(createBody(10, f.sink, { device: { phoneNumber: '8613900000010' } })), 400, 'INVALID_ARGUMENT');
      await expectError(await create(createBody(10, f.sink, { applicationServerPorts: { ports: [70000] } })), 400, 'INVALID_ARGUMENT');
      await expectError(await create(createBody(10, f.sink, { devicePorts: { ranges: [{ from: 9000, to: 8000 }] } })), 400, 'OUT_OF_RANGE');
    });

    it('overlapping flows for the same device: 409 CONFLICT; disjoint flows are fine', async () => {
      const first = await create(createBody(11, f.sink));
      assert.equal(first.status, 201);
      await expectError(await create(createBody(11, f.sink, { applicationServer: { ipv4Address: '198.51.100.0/24' } })), 409, 'CONFLICT');
      await expectError(await create(createBody(11, f.sink, { applicationServerPorts: { ranges: [{ from: 400, to: 500 }] } })), 409, 'CONFLICT');
      assert.equal((await create(createBody(11, f.sink, { applicationServerPorts: { ports: [8443] } }))).status, 201);
      assert.equal((await create(createBody(11, f.sink, { applicationServer: { ipv4Address: '198.51.101.10' } }))).status, 201);
    });

    it('concurrent creates with overlapping flows for one device: exactly one session, the rest 409', async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => create(createBody(12, f.sink, { applicationServerPorts: { ports: [443, 9000 + i] } }))));
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
      const listed = await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', `Bearer ${f.token}`).send({ device: { phoneNumber: phone(12) } });
      assert.equal(listed.body.length, 1);
    });

    it('the subscriber API unreachable: 503 UNAVAILABLE, not a 5xx bug', async () => {
      const unreachable = { ...f.net, subscriberApiUrl: 'http://127.0.0.1:1' } as SimulatedNetwork;
      const gw = await startTestGateway({ bootstrap: qodBootstrap(), network: unreachable, roles: ['gateway'] });
      try {
        const res = await gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${await gw.token()}`).send(createBody(13, f.sink));
        await expectError(res, 503, 'UNAVAILABLE');
      } finally {
        await gw.close();
      }
    });

    it('an http sink outside loopback: 400 INVALID_SINK; PRIVATE_KEY_JWT without onboarding: 422', async () => {
      await expectError(await create(createBody(12, f.sink, { sink: 'http://example.com/hook' })), 400, 'INVALID_SINK');
      await expectError(await create(createBody(12, f.sink, { sinkCredential: { credentialType: 'PRIVATE_KEY_JWT' } })), 422, 'PRIVATE_KEY_JWT_NOT_CONFIGURED');
    });
  });

  describe('device-bound (3-legged) tokens', () => {
    async function deviceToken(i: number): Promise<string> {
      const ref = await storeDeviceRef(f.gw.system.services, { phoneNumber: phone(i) }, 300);
      return f.gw.mint({ sub: 'acme-app', client_id: 'acme-app', tenant_id: 'acme', dev: ref, scope: 'quality-on-demand:sessions:create quality-on-demand:sessions:read quality-on-demand:sessions:retrieve-by-device' });
    }

    it('creates without device, and refuses one given: 422 UNNECESSARY_IDENTIFIER', async () => {
      const token = await deviceToken(20);
      const { device: _d, ...body } = createBody(20, f.sink);
      const res = await create(body, token);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.device, undefined, 'nothing to echo: the token identified the device');
      await expectError(await create(createBody(20, f.sink, { applicationServerPorts: { ports: [1] } }), token), 422, 'UNNECESSARY_IDENTIFIER');
      const mine = await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', `Bearer ${token}`).send({});
      assert.equal(mine.status, 200, mine.text);
      assert.deepEqual(mine.body.map((s: { sessionId: string }) => s.sessionId), [res.body.sessionId]);
      assert.equal((await get(res.body.sessionId, token)).status, 200);
      // Same client, another device's token: the session is not that user's (Design Guide §6.7).
      await expectError(await get(res.body.sessionId, await deviceToken(21)), 404, 'NOT_FOUND');
    });
  });

  describe('reading, extending and deleting', () => {
    it("a client never sees another client's session (404)", async () => {
      const res = await create(createBody(30, f.sink));
      const other = await f.gw.token('globex-app', 'globex-secret');
      await expectError(await get(res.body.sessionId, other), 404, 'NOT_FOUND');
      await expectError(await f.gw.http.delete(`${QOD}/sessions/${res.body.sessionId}`).set('Authorization', `Bearer ${other}`), 404, 'NOT_FOUND');
      await expectError(
        await f.gw.http.post(`${QOD}/sessions/${res.body.sessionId}/extend`).set('Authorization', `Bearer ${other}`).send({ requestedAdditionalDuration: 10 }),
        404,
        'NOT_FOUND',
      );
      const retrieved = await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', `Bearer ${other}`).send({ device: { phoneNumber: phone(30) } });
      assert.deepEqual(retrieved.body, []);
    });

    it('extends an AVAILABLE session, silently capped at the profile maximum', async () => {
      const res = await create(createBody(31, f.sink, { qosProfile: 'QOS_SHORT', duration: 5 }));
      await waitStatus(res.body.sessionId, 'AVAILABLE');
      const ext = await f.gw.http.post(`${QOD}/sessions/${res.body.sessionId}/extend`).set('Authorization', auth()).send({ requestedAdditionalDuration: 100 });
      assert.equal(ext.status, 200, ext.text);
      await expectContract(ext);
      assert.equal(ext.body.duration, 10);
      assert.equal(Date.parse(ext.body.expiresAt) - Date.parse(ext.body.startedAt), 10_000);
    });

    it('refuses to extend a session that is not AVAILABLE: 409', async () => {
      const slow = await startQod({ timeScale: 5 });
      try {
        const res = await slow.gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${slow.token}`).send(createBody(32, slow.sink));
        assert.equal(res.body.qosStatus, 'REQUESTED');
        await expectError(
          await slow.gw.http.post(`${QOD}/sessions/${res.body.sessionId}/extend`).set('Authorization', `Bearer ${slow.token}`).send({ requestedAdditionalDuration: 10 }),
          409,
          'QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED',
        );
      } finally {
        await stopQod(slow);
      }
    });

    it('expires on time: UNAVAILABLE DURATION_EXPIRED, with its event, and the bearer released', async () => {
      const res = await create(createBody(33, f.sink, { qosProfile: 'QOS_SHORT', duration: 1 }));
      const events = await f.sink.waitFor(res.body.sessionId, 2);
      assert.deepEqual(events.map((e) => e.body.data.qosStatus), ['AVAILABLE', 'UNAVAILABLE']);
      assert.equal(events[1].body.data.statusInfo, 'DURATION_EXPIRED');
      const ended = await get(res.body.sessionId);
      assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
      assert.equal(ended.body.statusInfo, 'DURATION_EXPIRED');
      assert.equal(ended.body.duration, 1);
      await until(async () => f.net.pcf.appSessions().filter((s) => s.ueIpv4 === ueIp(33)).length, (n) => n === 0);
      await expectError(await f.gw.http.post(`${QOD}/sessions/${res.body.sessionId}/extend`).set('Authorization', auth()).send({ requestedAdditionalDuration: 5 }), 409, 'QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED');
    });

    it('deletes an AVAILABLE session: 204, DELETE_REQUESTED, flow released, then 404', async () => {
      const res = await create(createBody(34, f.sink));
      await f.sink.waitFor(res.body.sessionId, 1);
      const del = await f.gw.http.delete(`${QOD}/sessions/${res.body.sessionId}`).set('Authorization', auth());
      assert.equal(del.status, 204);
      const events = await f.sink.waitFor(res.body.sessionId, 2);
      assert.deepEqual(events[1].body.data, { sessionId: res.body.sessionId, qosStatus: 'UNAVAILABLE', statusInfo: 'DELETE_REQUESTED' });
      await expectError(await get(res.body.sessionId), 404, 'NOT_FOUND');
      await until(async () => f.net.pcf.appSessions().filter((s) => s.ueIpv4 === ueIp(34)).length, (n) => n === 0);
    });

    it('deleting an UNAVAILABLE session sends nothing', async () => {
      const res = await create(createBody(35, f.sink, { qosProfile: 'QOS_SHORT', duration: 1 }));
      await f.sink.waitFor(res.body.sessionId, 2);
      assert.equal((await f.gw.http.delete(`${QOD}/sessions/${res.body.sessionId}`).set('Authorization', auth())).status, 204);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(f.sink.forSession(res.body.sessionId).length, 2);
    });

    it('retrieves the sessions of a device', async () => {
      const a = await create(createBody(36, f.sink));
      const b = await create(createBody(36, f.sink, { applicationServerPorts: { ports: [8080] } }));
      const res = await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', auth()).send({ device: { phoneNumber: phone(36) } });
      assert.equal(res.status, 200);
      await expectContract(res);
      assert.deepEqual(res.body.map((s: { sessionId: string }) => s.sessionId), [a.body.sessionId, b.body.sessionId]);
      await expectError(await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', auth()).send({}), 422, 'MISSING_IDENTIFIER');
    });
  });

  describe('the network says no', () => {
    it('a detached UE: UNAVAILABLE NETWORK_TERMINATED', async () => {
      await f.net.control(`ues/${encodeURIComponent(phone(40))}/detach`);
      const res = await create(createBody(40, f.sink));
      assert.equal(res.status, 201);
      const [event] = await f.sink.waitFor(res.body.sessionId, 1);
      assert.deepEqual(event.body.data, { sessionId: res.body.sessionId, qosStatus: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
    });

    it('admission control refuses a flow the cell cannot carry: NETWORK_TERMINATED', async () => {
      await f.net.control('cells/cell-1/fail');
      try {
        const res = await create(createBody(41, f.sink));
        const [event] = await f.sink.waitFor(res.body.sessionId, 1);
        assert.equal(event.body.data.statusInfo, 'NETWORK_TERMINATED');
      } finally {
        await f.net.control('cells/cell-1/recover');
      }
    });

    it('radio-link failure ends an AVAILABLE session: NETWORK_TERMINATED, kept readable', async () => {
      const res = await create(createBody(42, f.sink));
      await f.sink.waitFor(res.body.sessionId, 1);
      await f.net.control(`ues/${encodeURIComponent(phone(42))}/rlf`);
      const events = await f.sink.waitFor(res.body.sessionId, 2);
      assert.equal(events[1].body.data.statusInfo, 'NETWORK_TERMINATED');
      const ended = await get(res.body.sessionId);
      assert.equal(ended.body.qosStatus, 'UNAVAILABLE');
      assert.equal(ended.body.statusInfo, 'NETWORK_TERMINATED');
    });
  });

  describe('QoS Profiles', () => {
    it('lists, filters and reads profiles; unknown is 404', async () => {
      const all = await f.gw.http.post('/qos-profiles/v1/retrieve-qos-profiles').set('Authorization', auth()).send({});
      assert.equal(all.status, 200, all.text);
      await expectContract(all);
      for (const name of ['QOS_E', 'QOS_S', 'QOS_M', 'QOS_L', 'QOS_LEGACY']) assert.ok(all.body.some((p: { name: string }) => p.name === name), name);
      assert.ok(!JSON.stringify(all.body).includes('qosReference'), 'the network mapping is not shown');
      const deprecated = await f.gw.http.post('/qos-profiles/v1/retrieve-qos-profiles').set('Authorization', auth()).send({ status: 'DEPRECATED' });
      assert.deepEqual(deprecated.body.map((p: { name: string }) => p.name), ['QOS_LEGACY']);
      const one = await f.gw.http.get('/qos-profiles/v1/qos-profiles/QOS_M').set('Authorization', auth());
      assert.equal(one.status, 200);
      assert.equal(one.body.maxDownstreamRate.value, 8);
      await expectError(await f.gw.http.get('/qos-profiles/v1/qos-profiles/QOS_NONE').set('Authorization', auth()), 404, 'NOT_FOUND');
    });

    it('the operator manages the catalogue with its network mapping; clients see only the CAMARA view', async () => {
      const admin = (method: 'get' | 'put' | 'delete', path: string) => f.gw.http[method](`/admin/v1/quality-on-demand${path}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      await expectError(await f.gw.http.get('/admin/v1/quality-on-demand/qos-profiles').set('Authorization', auth()), 401, 'UNAUTHENTICATED');
      const listed = await admin('get', '/qos-profiles');
      assert.equal(listed.status, 200);
      assert.equal(listed.body.find((p: { name: string }) => p.name === 'QOS_S').network.fiveQi, 2);
      const profile = {
        description: 'Video calls with the tax office',
        status: 'ACTIVE',
        maxDuration: { value: 30, unit: 'Minutes' },
        network: { qosReference: 'QOS_M', fiveQi: 2, gbrUl: '2 Mbps', gbrDl: '2 Mbps', mbrUl: '4 Mbps', mbrDl: '4 Mbps', arp: { priorityLevel: 7, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' } },
      };
      const put = await admin('put', '/qos-profiles/QOS_VIDEO_CALL').send(profile);
      assert.equal(put.status, 200, put.text);
      const seen = await f.gw.http.get('/qos-profiles/v1/qos-profiles/QOS_VIDEO_CALL').set('Authorization', auth());
      assert.equal(seen.status, 200);
      assert.equal(seen.body.network, undefined);
      const session = await create(createBody(60, f.sink, { qosProfile: 'QOS_VIDEO_CALL' }));
      assert.equal(session.status, 201, session.text);
      await waitStatus(session.body.sessionId, 'AVAILABLE');
      await expectError(await admin('put', '/qos-profiles/QOS_BAD').send({ ...profile, network: { ...profile.network, gbrUl: '8 Mbps' } }), 400, 'INVALID_ARGUMENT');
      await expectError(await admin('put', '/qos-profiles/QOS_BAD').send({ ...profile, network: { ...profile.network, fiveQi: 0 } }), 400, 'INVALID_ARGUMENT');
      assert.equal((await admin('put', '/qos-profiles/QOS_VIDEO_CALL').send({ ...profile, status: 'DEPRECATED' })).status, 200);
      await expectError(await create(createBody(61, f.sink, { qosProfile: 'QOS_VIDEO_CALL' })), 422, 'QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE');
      assert.equal((await admin('delete', '/qos-profiles/QOS_VIDEO_CALL')).status, 204);
      await expectError(await admin('get', '/qos-profiles/QOS_VIDEO_CALL'), 404, 'NOT_FOUND');
    });
  });

  describe('crash safety', () => {
    it('a created session leaves the outbox once its job is stored', async () => {
      const res = await create(createBody(71, f.sink));
      assert.equal(res.status, 201);
      const { SessionStore } = await import('../src/capabilities/qod/sessions.ts');
      const outbox = new SessionStore(f.gw.system.services.redis, f.gw.system.services.key).outbox;
      await until(() => f.gw.system.services.redis.zscore(outbox, res.body.sessionId), (score) => score === null, 3000);
    });

    it('a session written but never enqueued (the gateway died in between) is started from the outbox', async () => {
      const { SessionStore } = await import('../src/capabilities/qod/sessions.ts');
      const store = new SessionStore(f.gw.system.services.redis, f.gw.system.services.key);
      const id = randomUUID();
      const writtenAt = Date.now() - 11_000;
      const record = {
        id,
        v: 1,
        clientId: 'acme-app',
        ueKey: `crash-${id}`,
        ueIpv4: ueIp(70),
        applicationServer: { ipv4Address: '198.51.100.70' },
        qosProfile: 'QOS_S',
        duration: 60,
        status: 'REQUESTED' as const,
        createdAt: writtenAt,
        sink: f.sink.url,
        correlator: 'crash-before-enqueue',
      };
      // Exactly what createSession writes in its one atomic step, and nothing after it.
      assert.ok(await store.write(record, -1, [['SADD', store.ueIndex(record.ueKey), id], ['ZADD', store.outbox, writtenAt, id]]));
      const [event] = await f.sink.waitFor(id, 1);
      assert.equal(event.body.data.qosStatus, 'AVAILABLE');
      assert.equal(event.headers['x-correlator'], 'crash-before-enqueue');
      assert.equal(await f.gw.system.services.redis.zscore(store.outbox, id), null, 'outbox entry cleared');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer for the same key and body, creates nothing twice, refuses another body', async () => {
      const key = randomUUID();
      const body = createBody(50, f.sink);
      const first = await create(body).set('Idempotency-Key', key);
      const again = await f.gw.http.post(`${QOD}/sessions`).set('Authorization', auth()).set('Idempotency-Key', key).send(body);
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.equal(again.body.sessionId, first.body.sessionId);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      const mine = await f.gw.http.post(`${QOD}/retrieve-sessions`).set('Authorization', auth()).send({ device: { phoneNumber: phone(50) } });
      assert.equal(mine.body.length, 1);
      await expectError(await f.gw.http.post(`${QOD}/sessions`).set('Authorization', auth()).set('Idempotency-Key', key).send({ ...body, duration: 61 }), 422, 'IDEMPOTENCY_KEY_REUSED');
    });
  });
});

describe('Quality on Demand: the activation path and its recovery', function () {
  this.timeout(60_000);
  let f: QodFixture;
  // Real set-up delays, so that the bearer's event always comes after the activation stored its flow.
  before(async () => {
    f = await startQod({ timeScale: 1 });
  });
  after(() => stopQod(f));

  it('reads a session once on its way to AVAILABLE: the event of the flow this process created starts from the record it wrote', async () => {
    const monitor = await new Redis(testRedisUrl()).monitor();
    const reads: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (String(args[0]).toLowerCase() === 'get' && !String(source).includes('lua')) reads.push(String(args[1]));
    });
    try {
      const res = await f.gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${f.token}`).send(createBody(3, f.sink));
      assert.equal(res.status, 201, res.text);
      const [event] = await f.sink.waitFor(res.body.sessionId, 1);
      assert.equal(event.body.data.qosStatus, 'AVAILABLE');
      const own = reads.filter((key) => key.endsWith(`:s:${res.body.sessionId}`));
      assert.equal(own.length, 1, `GETs of the session record: ${own.length}`);
    } finally {
      monitor.disconnect();
    }
  });

  it('also when the flow\'s event outruns the activation that created it: the event waits for the record instead of racing it', async () => {
    // A network without set-up delays: the PCF's notification often arrives before the activation has stored the flow.
    const fast = await startQod({ timeScale: 0 });
    const monitor = await new Redis(testRedisUrl()).monitor();
    const reads = new Map<string, number>();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (String(args[0]).toLowerCase() !== 'get' || String(source).includes('lua')) return;
      const id = /:qod:s:([^:]+)$/.exec(String(args[1]))?.[1];
      if (id) reads.set(id, (reads.get(id) ?? 0) + 1);
    });
    try {
      const created = await Promise.all(
        Array.from({ length: 20 }, (_, k) => fast.gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${fast.token}`).send(createBody(20 + k, fast.sink))),
      );
      for (const res of created) assert.equal(res.status, 201, res.text);
      for (const res of created) assert.equal((await fast.sink.waitFor(res.body.sessionId, 1))[0].body.data.qosStatus, 'AVAILABLE');
      assert.deepEqual(
        created.map((res) => reads.get(res.body.sessionId) ?? 0),
        created.map(() => 1),
        'GETs of each session record on its way to AVAILABLE',
      );
    } finally {
      monitor.disconnect();
      await stopQod(fast);
    }
  });

  it('a transition whose process stopped before its follow-up work is finished by the recovery: event (stable id) and flow release', async () => {
    const { redis, key } = f.gw.system.services;
    const res = await f.gw.http.post(`${QOD}/sessions`).set('Authorization', `Bearer ${f.token}`).send(createBody(4, f.sink));
    assert.equal(res.status, 201, res.text);
    const id = res.body.sessionId as string;
    await f.sink.waitFor(id, 1);
    const record = key('qod', 's', id);
    const effects = key('qod', 'effects');
    // A normal transition leaves nothing owed behind it.
    await until(() => redis.zrange(effects, '0', '-1'), (owed) => !owed.some((e) => e.startsWith(`${id}:`)));
    assert.equal(f.net.pcf.appSessions().filter((c) => c.ueIpv4 === ueIp(4)).length, 1);

    // What a process that ended the session stores in one step, and then died: the record and its entry, nothing else.
    const s = JSON.parse((await redis.get(record))!);
    const ended = { ...s, v: s.v + 1, status: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED', expiresAt: Date.now() };
    await redis.multi().set(record, JSON.stringify(ended)).zadd(effects, Date.now() - 60_000, `${id}:${ended.v}`).exec();

    const events = await f.sink.waitFor(id, 2, 20_000);
    assert.deepEqual(events[1].body.data, { sessionId: id, qosStatus: 'UNAVAILABLE', statusInfo: 'NETWORK_TERMINATED' });
    await until(async () => f.net.pcf.appSessions().filter((c) => c.ueIpv4 === ueIp(4)).length, (n) => n === 0, 10_000);
    assert.deepEqual(await redis.zrange(effects, '0', '-1').then((owed) => owed.filter((e) => e.startsWith(`${id}:`))), []);
    // Done again (a second recovery, or the process that had done it), the event keeps its id while it waits.
    assert.equal(events[1].body.id, stableEventId(`qod/${id}/${ended.v}`));
    assert.notEqual(events[0].body.id, events[1].body.id);
  });
});
