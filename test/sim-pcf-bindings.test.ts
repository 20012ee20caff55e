import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBearerController, type BearerController } from '../simulators/bearer-controller/index.ts';
import { BearerClient } from '../simulators/pcf/bearer-client.ts';
import { SessionBindings } from '../simulators/pcf/session-bindings.ts';
import { call } from './support/sim-http.ts';
import { until } from './support/wait.ts';

const msisdn = (i: number) => `+86139000${String(i).padStart(5, '0')}`;
const ipv4 = (i: number) => `10.45.${Math.floor(i / 250)}.${(i % 250) + 1}`;

describe('PCF simulator: session binding data kept while the change feed is open', () => {
  let ctl: BearerController;
  let bearers: BearerClient;
  let bindings: SessionBindings;
  let asked: string[];

  beforeEach(async () => {
    ctl = await startBearerController({ port: 0, seed: 1, timeScale: 0 });
    bearers = new BearerClient(ctl.url);
    asked = [];
    bindings = new SessionBindings({ baseUrl: ctl.url, retryMs: 50, lookup: (ip) => (asked.push(ip), bearers.subscriberByIpv4(ip)) });
    bindings.start();
    await until(async () => bindings.following, (open) => open);
  });

  afterEach(async () => {
    bindings.close();
    bearers.close();
    await ctl.close();
  });

  it('asks the Subscriber API once per UE, and again as soon as the feed says the UE changed', async () => {
    const first = await bindings.subscriberByIpv4(ipv4(41));
    assert.equal(first?.msisdn, msisdn(41));
    assert.equal((await bindings.subscriberByIpv4(ipv4(41)))?.msisdn, msisdn(41));
    assert.deepEqual(asked, [ipv4(41)], 'the second lookup was answered from the binding data');

    // The controller writes the feed's line before it answers the control request.
    assert.equal((await call(ctl.url, 'POST', `/control/ues/${encodeURIComponent(msisdn(41))}/detach`)).status, 200);
    // A detached UE holds no address: nobody is bound to it.
    await until(() => bindings.subscriberByIpv4(ipv4(41)), (s) => s === undefined);
    assert.ok(asked.length >= 2, 'asked again after the change');
    assert.equal((await call(ctl.url, 'POST', `/control/ues/${encodeURIComponent(msisdn(41))}/attach`)).status, 200);
    await until(() => bindings.subscriberByIpv4(ipv4(41)), (s) => s?.attached === true);
  });

  it('keeps nothing while the feed is closed, and follows it again once it reopens', async () => {
    await bindings.subscriberByIpv4(ipv4(42));
    await ctl.close();
    await until(async () => bindings.following, (open) => !open);
    await assert.rejects(bindings.subscriberByIpv4(ipv4(42)), 'with the controller gone, the lookup asks it (and fails) rather than answering from old data');
    ctl = await startBearerController({ port: Number(new URL(ctl.url).port), seed: 1, timeScale: 0 });
    bearers.close();
    bearers = new BearerClient(ctl.url);
    await until(async () => bindings.following, (open) => open);
    const before = asked.length;
    await bindings.subscriberByIpv4(ipv4(42));
    await bindings.subscriberByIpv4(ipv4(42));
    assert.equal(asked.length, before + 1);
  });

  it('asks every time when the controller serves no change feed', async () => {
    const plain = http.createServer((req, res) => {
      if (req.url?.startsWith('/subscribers?')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ msisdn: msisdn(43), imsi: '460001234567890', ipv4: ipv4(43), plan: 'STANDARD', qosEligible: true, attached: true }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const client = new BearerClient(url);
    let calls = 0;
    const noFeed = new SessionBindings({ baseUrl: url, retryMs: 50, lookup: (ip) => (calls++, client.subscriberByIpv4(ip)) });
    noFeed.start();
    try {
      for (let k = 0; k < 3; k++) assert.equal((await noFeed.subscriberByIpv4(ipv4(43)))?.msisdn, msisdn(43));
      assert.equal(noFeed.following, false);
      assert.equal(calls, 3);
    } finally {
      noFeed.close();
      client.close();
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });
});
