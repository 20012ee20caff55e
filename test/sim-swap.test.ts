import assert from 'node:assert/strict';
import { storeDeviceRef } from '../src/identity/device-ref.ts';
import { ConfigError } from '../src/infra/config.ts';
import { simSwap } from '../src/capabilities/sim-swap/index.ts';
import { startSimulatedNetwork, type SimulatedNetwork } from '../simulators/index.ts';
import { startTestGateway, testBootstrap, type TestGateway } from './support/gateway.ts';
import { expectContract, expectError } from './support/contract.ts';

const API = '/sim-swap/v1';
const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;
/** Subscriber i of the simulated network (0–9999). */
const phone = (i: number) => `+86139000${String(i).padStart(5, '0')}`;
/** A number the simulated network does not serve. */
const UNKNOWN = '+8613800000000';

describe('SIM Swap end to end', function () {
  this.timeout(60_000);
  let net: SimulatedNetwork;
  let gw: TestGateway;
  let token: string;

  before(async () => {
    net = await startSimulatedNetwork({ timeScale: 0, seed: 7 });
    gw = await startTestGateway({ network: net, bootstrap: testBootstrap({ capabilities: ['echo', 'quality-on-demand', 'sim-swap'] }) });
    token = await gw.token();
  });
  after(async () => {
    try {
      await gw?.close();
    } finally {
      await net?.close();
    }
  });

  const post = (operation: 'check' | 'retrieve-date', body: unknown, bearer: string | undefined = token) => {
    const req = gw.http.post(`${API}/${operation}`);
    if (bearer) req.set('Authorization', `Bearer ${bearer}`);
    return body === undefined ? req : req.send(body as object);
  };
  const check = async (body: unknown, bearer?: string): Promise<boolean> => {
    const res = await post('check', body, bearer);
    assert.equal(res.status, 200, res.text);
    await expectContract(res);
    assert.deepEqual(Object.keys(res.body), ['swapped']);
    return res.body.swapped;
  };
  const retrieveDate = async (body: unknown, bearer?: string): Promise<string> => {
    const res = await post('retrieve-date', body, bearer);
    assert.equal(res.status, 200, res.text);
    await expectContract(res);
    assert.deepEqual(Object.keys(res.body), ['latestSimChange'], 'no monitoredPeriod: the whole history is kept');
    return res.body.latestSimChange;
  };
  const swap = (i: number, at?: Date) => net.control(`ues/${encodeURIComponent(phone(i))}/sim-swap`, at ? { at: at.toISOString() } : {});
  /** The pairing date the network holds for subscriber i. */
  const networkDate = (i: number) => net.bearerController.model.sim(phone(i)).latestSimChange;
  async function deviceToken(i: number, scope = 'sim-swap:check sim-swap:retrieve-date'): Promise<string> {
    const ref = await storeDeviceRef(gw.system.services, { phoneNumber: phone(i) }, 300);
    return gw.mint({ sub: 'x', client_id: 'acme-app', tenant_id: 'acme', dev: ref, scope });
  }

  describe('answers from the SIM history', () => {
    it('never swapped: not swapped over any period, and the date is the first activation', async () => {
      assert.equal(await check({ phoneNumber: phone(5) }), false);
      assert.equal(await check({ phoneNumber: phone(5), maxAge: 2400 }), false);
      const date = await retrieveDate({ phoneNumber: phone(5) });
      assert.equal(date, networkDate(5));
      const age = Date.now() - Date.parse(date);
      assert.ok(age > YEAR_MS && age < 3 * YEAR_MS + HOUR_MS, `activated ${date}`);
    });

    it('swapped yesterday: swapped within 48 hours and the default 240, not within 12; the date is the swap', async () => {
      const yesterday = new Date(Date.now() - 24 * HOUR_MS);
      await swap(6, yesterday);
      assert.equal(await check({ phoneNumber: phone(6), maxAge: 48 }), true);
      assert.equal(await check({ phoneNumber: phone(6) }), true);
      assert.equal(await check({ phoneNumber: phone(6), maxAge: 12 }), false);
      assert.equal(await retrieveDate({ phoneNumber: phone(6) }), yesterday.toISOString());
    });

    it('swapped just now: swapped within the shortest period, 1 hour', async () => {
      const before = Date.now();
      await swap(7);
      assert.equal(await check({ phoneNumber: phone(7), maxAge: 1 }), true);
      const date = Date.parse(await retrieveDate({ phoneNumber: phone(7) }));
      assert.ok(date >= before && date <= Date.now(), 'the swap happened during this test');
      // Another number's history is its own.
      assert.equal(await check({ phoneNumber: phone(8), maxAge: 1 }), false);
    });
  });

  describe('which phone number', () => {
    it('a three-legged token names the number: no phoneNumber needed, and one given is 422 UNNECESSARY_IDENTIFIER', async () => {
      await swap(20);
      const device = await deviceToken(20);
      assert.equal(await check({}, device), true);
      assert.equal(await check({ maxAge: 1 }, device), true);
      assert.equal(await retrieveDate({}, device), networkDate(20));
      // Refused even for the very number of the token: the provider does not compare them.
      await expectError(await post('check', { phoneNumber: phone(20) }, device), 422, 'UNNECESSARY_IDENTIFIER');
      await expectError(await post('retrieve-date', { phoneNumber: phone(21) }, device), 422, 'UNNECESSARY_IDENTIFIER');
    });

    it('a two-legged token without phoneNumber: 422 MISSING_IDENTIFIER', async () => {
      await expectError(await post('check', {}), 422, 'MISSING_IDENTIFIER');
      await expectError(await post('check', { maxAge: 24 }), 422, 'MISSING_IDENTIFIER');
      await expectError(await post('retrieve-date', {}), 422, 'MISSING_IDENTIFIER');
    });

    it('a number the network does not serve: 404 IDENTIFIER_NOT_FOUND', async () => {
      await expectError(await post('check', { phoneNumber: UNKNOWN }), 404, 'IDENTIFIER_NOT_FOUND');
      await expectError(await post('retrieve-date', { phoneNumber: UNKNOWN }), 404, 'IDENTIFIER_NOT_FOUND');
      const ref = await storeDeviceRef(gw.system.services, { phoneNumber: UNKNOWN }, 300);
      const device = await gw.mint({ sub: 'x', client_id: 'acme-app', tenant_id: 'acme', dev: ref, scope: 'sim-swap:check' });
      await expectError(await post('check', {}, device), 404, 'IDENTIFIER_NOT_FOUND');
    });
  });

  describe('the contract', () => {
    it('maxAge outside 1..2400 hours, or not an integer: 400', async () => {
      for (const maxAge of [0, -1, 2401, 'forty-eight', 1.5, null, true]) {
        await expectError(await post('check', { phoneNumber: phone(9), maxAge }), 400, 'INVALID_ARGUMENT');
      }
    });

    it('unknown properties, a malformed number or no body at all: 400 INVALID_ARGUMENT', async () => {
      await expectError(await post('check', { phoneNumber: phone(9), maxAge: 24, since: 'yesterday' }), 400, 'INVALID_ARGUMENT');
      await expectError(await post('retrieve-date', { phoneNumber: phone(9), device: { phoneNumber: phone(9) } }), 400, 'INVALID_ARGUMENT');
      for (const phoneNumber of ['8613900000009', '+0613900000009', '+86 139 0000 0009', 8613900000009]) {
        await expectError(await post('retrieve-date', { phoneNumber }), 400, 'INVALID_ARGUMENT');
      }
      await expectError(await post('check', undefined), 400, 'INVALID_ARGUMENT');
      await expectError(await post('retrieve-date', undefined).type('json').send('[]'), 400, 'INVALID_ARGUMENT');
      await expectError(await post('retrieve-date', undefined).type('json').send('{"phoneNumber":'), 400, 'INVALID_ARGUMENT');
    });

    it('a token without the operation scope: 403 PERMISSION_DENIED; no token: 401 UNAUTHENTICATED', async () => {
      const checkOnly = await gw.token('acme-app', 'acme-secret', 'sim-swap:check');
      assert.equal(await check({ phoneNumber: phone(10) }, checkOnly), false);
      await expectError(await post('retrieve-date', { phoneNumber: phone(10) }, checkOnly), 403, 'PERMISSION_DENIED');
      const dateOnly = await deviceToken(10, 'sim-swap:retrieve-date');
      await expectError(await post('check', {}, dateOnly), 403, 'PERMISSION_DENIED');
      await expectError(await post('check', { phoneNumber: phone(10) }, ''), 401, 'UNAUTHENTICATED');
      await expectError(await post('retrieve-date', { phoneNumber: phone(10) }, 'not-a-token'), 401, 'UNAUTHENTICATED');
    });

    it('phone numbers never reach the log in clear', async () => {
      await post('check', { phoneNumber: phone(11) });
      await post('retrieve-date', { phoneNumber: UNKNOWN });
      for (const number of [phone(5), phone(6), phone(11), UNKNOWN]) assert.ok(!gw.logs.raw.includes(number.slice(1)), `${number} was logged`);
    });
  });

  describe('the network', () => {
    it('the subscriber database unreachable: 503 UNAVAILABLE', async () => {
      const unreachable = { ...net, subscriberApiUrl: 'http://127.0.0.1:1' } as SimulatedNetwork;
      const cut = await startTestGateway({ network: unreachable, roles: ['gateway'], bootstrap: testBootstrap({ capabilities: ['sim-swap'] }) });
      try {
        const res = await cut.http.post(`${API}/check`).set('Authorization', `Bearer ${await cut.token()}`).send({ phoneNumber: phone(12) });
        await expectError(res, 503, 'UNAVAILABLE');
      } finally {
        await cut.close();
      }
    });

    it('without a network the capability cannot be built', () => {
      assert.throws(() => simSwap.create({ ...gw.system.services, southbound: undefined }), ConfigError);
      assert.throws(() => simSwap.create({ ...gw.system.services, southbound: { ...gw.system.services.southbound!, sims: undefined } }), ConfigError);
    });
  });
});
