import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { testRedisUrl } from './support/hooks.ts';
import { until } from './support/wait.ts';
import { radclient as radclientAt, record } from './support/radclient.ts';
import { createRedis, keyBuilder, waitReady, type KeyBuilder, type RedisClient } from '../src/infra/redis.ts';
import { createLogger } from '../src/infra/logger.ts';
import { createMetrics, type Metrics } from '../src/infra/metrics.ts';
import { NumberVault } from '../src/identity/number-vault.ts';
import { startRadiusAccounting, type RadiusAccounting } from '../adapters/radius/accounting-listener.ts';
import {
  MalformedPacketError,
  decodePacket,
  encodeAccountingRequest,
  encodeAccountingResponse,
  ipv4Octets,
  verifyAccountingRequest,
  type RadiusAttribute,
} from '../adapters/radius/packet.ts';

const SECRET = 'testing123-radius';
const radclient = (port: number, attributes: string, o: { secret?: string; timeoutSeconds?: number } = {}) => radclientAt(port, attributes, { secret: SECRET, ...o });
const MSISDN = '8613900000005';
const md5 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('md5')).digest();

const text = (type: number, s: string): RadiusAttribute => ({ type, value: Buffer.from(s) });
const int = (type: number, n: number): RadiusAttribute => {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(n);
  return { type, value };
};

describe('RADIUS accounting (RFC 2866) → address book', function () {
  this.timeout(30_000);
  let redis: RedisClient;
  let key: KeyBuilder;
  let prefix: string;
  let metrics: Metrics;
  let acct: RadiusAccounting;
  let udp: Socket;
  const received: Buffer[] = [];

  before(async function () {
    const probe = spawnSync('radclient', ['-v'], { encoding: 'utf8' });
    if (probe.error) {
      throw new Error('radclient is not installed: these tests need the real FreeRADIUS client (Debian package freeradius-utils: apt-get install -y freeradius-utils)');
    }
    redis = createRedis(testRedisUrl(), 'command', 'radius-test');
    await waitReady(redis, testRedisUrl());
    prefix = `t-radius-${randomBytes(4).toString('hex')}`;
    key = keyBuilder(prefix);
    metrics = createMetrics({ defaultMetrics: false });
    acct = await startRadiusAccounting({
      redis,
      key,
      vault: new NumberVault(randomBytes(32)),
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      ttlSeconds: 600,
      logger: createLogger('silent'),
      metrics,
    });
    udp = createSocket('udp4');
    udp.on('message', (m) => received.push(m));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  });

  after(async () => {
    udp?.close();
    await acct?.close();
    await acct?.close();
    await redis?.quit();
  });

  const send = (datagram: Buffer) => new Promise<void>((resolve, reject) => udp.send(datagram, acct.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

  describe('codec', () => {
    // Built octet by octet here, independent of the codec: Acct-Status-Type = Start, Acct-Session-Id = "abc".
    const attrs = Buffer.from([40, 6, 0, 0, 0, 1, 44, 5, 0x61, 0x62, 0x63]);
    const head = Buffer.from([4, 42, 0, 20 + attrs.length]);
    const requestAuth = md5(head, Buffer.alloc(16), attrs, Buffer.from(SECRET));
    const request = Buffer.concat([head, requestAuth, attrs]);

    it('computes the Request Authenticator of RFC 2866 §3', () => {
      const encoded = encodeAccountingRequest(42, [int(40, 1), text(44, 'abc')], SECRET);
      assert.deepEqual(encoded, request);
      const packet = decodePacket(request);
      assert.equal(verifyAccountingRequest(packet, SECRET), true);
      assert.equal(verifyAccountingRequest(packet, 'another-secret'), false);
      const altered = Buffer.from(request);
      altered[altered.length - 1] ^= 1;
      assert.equal(verifyAccountingRequest(decodePacket(altered), SECRET), false);
    });

    it('computes the Response Authenticator and copies Proxy-State (RFC 2866 §3, RFC 2865 §5.33)', () => {
      const plain = encodeAccountingResponse(decodePacket(request), SECRET);
      const respHead = Buffer.from([5, 42, 0, 20]);
      assert.deepEqual(plain, Buffer.concat([respHead, md5(respHead, requestAuth, Buffer.from(SECRET))]));

      const proxied = decodePacket(encodeAccountingRequest(7, [int(40, 1), text(33, 'hop-1'), text(44, 'x'), text(33, 'hop-2')], SECRET));
      const response = encodeAccountingResponse(proxied, SECRET);
      const body = Buffer.from([33, 7, ...Buffer.from('hop-1'), 33, 7, ...Buffer.from('hop-2')]);
      const h = Buffer.from([5, 7, 0, 20 + body.length]);
      assert.deepEqual(response, Buffer.concat([h, md5(h, proxied.authenticator, body, Buffer.from(SECRET)), body]));
    });

    it('rejects malformed packets and ignores padding after Length (RFC 2865 §3, §5)', () => {
      assert.throws(() => decodePacket(request.subarray(0, 19)), MalformedPacketError);
      assert.throws(() => decodePacket(request.subarray(0, request.length - 1)), MalformedPacketError, 'shorter than Length');
      const badAttr = Buffer.from(request);
      badAttr[21] = 1;
      assert.throws(() => decodePacket(badAttr), MalformedPacketError, 'attribute length < 2');
      const overrun = Buffer.from(request);
      overrun[27] = 9;
      assert.throws(() => decodePacket(overrun), MalformedPacketError, 'attribute overruns');
      const huge = Buffer.alloc(4200);
      huge.writeUInt16BE(4200, 2);
      assert.throws(() => decodePacket(huge), MalformedPacketError, 'over 4096');
      const padded = decodePacket(Buffer.concat([request, Buffer.alloc(5)]));
      assert.equal(padded.raw.length, request.length);
      assert.equal(verifyAccountingRequest(padded, SECRET), true);
    });
  });

  describe('records from radclient', () => {
    it('Start maps the address to the subscriber, with or without "+"', async () => {
      const r = await radclient(acct.port, record('Start', { ip: '10.45.0.6', msisdn: MSISDN, session: 's1' }));
      assert.ok(r.answered, r.output);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.6'), `+${MSISDN}`);
      assert.equal(await acct.addresses.msisdnAt('::ffff:10.45.0.6'), `+${MSISDN}`, 'IPv4-mapped form of a dual-stack socket');
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.16', msisdn: '+8613900000016', session: 's16' }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.16'), '+8613900000016');
      assert.equal(await acct.addresses.msisdnAt('10.45.0.99'), undefined);
    });

    it('Interim-Update refreshes the TTL of the mapping', async () => {
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.7', msisdn: '8613900000007', session: 's7' }))).answered);
      const k = key('radius', 'ip', '10.45.0.7');
      await redis.expire(k, 30);
      assert.ok((await redis.ttl(k)) <= 30);
      assert.ok((await radclient(acct.port, record('Interim-Update', { ip: '10.45.0.7', msisdn: '8613900000007', session: 's7' }))).answered);
      assert.ok((await redis.ttl(k)) > 300, 'TTL back to the configured lifetime');
      assert.equal(await acct.addresses.msisdnAt('10.45.0.7'), '+8613900000007');
    });

    it('Stop removes the mapping', async () => {
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.8', msisdn: '8613900000008', session: 's8' }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.8'), '+8613900000008');
      assert.ok((await radclient(acct.port, record('Stop', { ip: '10.45.0.8', msisdn: '8613900000008', session: 's8' }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.8'), undefined);
      // A delayed Interim-Update (or a reordered Start) of the stopped session does not bring it back.
      assert.ok((await radclient(acct.port, record('Interim-Update', { ip: '10.45.0.8', msisdn: '8613900000008', session: 's8' }))).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.8', msisdn: '8613900000008', session: 's8' }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.8'), undefined);
    });

    it('a late Stop (or Interim) of the previous holder keeps the new one', async () => {
      const ip = '10.45.0.9';
      assert.ok((await radclient(acct.port, record('Start', { ip, msisdn: '8613900000091', session: 'sA' }))).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip, msisdn: '8613900000092', session: 'sB' }))).answered);
      assert.ok((await radclient(acct.port, record('Interim-Update', { ip, msisdn: '8613900000091', session: 'sA' }))).answered);
      assert.ok((await radclient(acct.port, record('Stop', { ip, msisdn: '8613900000091', session: 'sA' }))).answered);
      assert.equal(await acct.addresses.msisdnAt(ip), '+8613900000092');
    });

    it('Accounting-Off clears every address learned from that NAS, and only those', async () => {
      const nas = '192.0.2.10';
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.1', msisdn: '8613900000101', session: 'n1', nas }))).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.2', msisdn: '8613900000102', session: 'n2', nas }))).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.3', msisdn: '8613900000103', session: 'n3', nas: '192.0.2.11' }))).answered);
      // The address moved to another NAS after being learned from this one: the other NAS owns it now.
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.4', msisdn: '8613900000104', session: 'n4', nas }))).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.4', msisdn: '8613900000105', session: 'n5', nas: '192.0.2.11' }))).answered);

      assert.ok((await radclient(acct.port, `Acct-Status-Type = Accounting-Off, NAS-IP-Address = ${nas}, Acct-Session-Id = "off"`)).answered);
      assert.equal(await acct.addresses.msisdnAt('10.46.0.1'), undefined);
      assert.equal(await acct.addresses.msisdnAt('10.46.0.2'), undefined);
      assert.equal(await acct.addresses.msisdnAt('10.46.0.3'), '+8613900000103');
      assert.equal(await acct.addresses.msisdnAt('10.46.0.4'), '+8613900000105');
      assert.equal(await redis.scard(key('radius', 'nas', nas, 'addresses')), 0, 'the NAS index is emptied');

      // After Accounting-On the NAS starts afresh: new sessions are learned again.
      assert.ok((await radclient(acct.port, `Acct-Status-Type = Accounting-On, NAS-IP-Address = ${nas}`)).answered);
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.46.0.1', msisdn: '8613900000106', session: 'n6', nas }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.46.0.1'), '+8613900000106');
    });

    it('maps a Framed-IPv6-Prefix: any address inside the /64 resolves', async () => {
      const attrs = 'Acct-Status-Type = Start, Framed-IPv6-Prefix = 2001:db8:45:6::/64, Calling-Station-Id = "8613900000064", Acct-Session-Id = "v6"';
      assert.ok((await radclient(acct.port, attrs)).answered);
      assert.equal(await acct.addresses.msisdnAt('2001:db8:45:6:1c2d:3e4f:5a6b:7c8d'), '+8613900000064');
      assert.equal(await acct.addresses.msisdnAt('2001:db8:45:7::1'), undefined);
    });

    it('a wrong shared secret gets no answer, is counted, and changes nothing', async () => {
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.10', msisdn: '8613900000010', session: 's10' }))).answered);
      const before = acct.stats().bad_authenticator;
      const r = await radclient(acct.port, record('Stop', { ip: '10.45.0.10', msisdn: '8613900000010', session: 's10' }), { secret: 'not-the-secret', timeoutSeconds: 1 });
      assert.equal(r.answered, false, r.output);
      assert.equal(acct.stats().bad_authenticator, before + 1);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.10'), '+8613900000010');
      assert.match(await metrics.registry.getSingleMetricAsString('gateway_radius_accounting_packets_total'), /result="bad_authenticator"\} [1-9]/);
    });
  });

  describe('datagrams that are not valid records', () => {
    const start = (identifier: number, attrs: RadiusAttribute[]) => encodeAccountingRequest(identifier, attrs, SECRET);

    it('are dropped without an answer and counted; the listener keeps working', async () => {
      const before = acct.stats();
      received.length = 0;
      const good = start(1, [int(40, 1), { type: 8, value: ipv4Octets('10.45.0.11') }, text(31, '8613900000011'), text(44, 's11')]);
      const truncated = good.subarray(0, good.length - 3);
      const badAttrLength = Buffer.from(good);
      badAttrLength[21] = 1;
      const accessRequest = Buffer.from(good);
      accessRequest[0] = 1;
      const junkNumber = start(2, [int(40, 1), { type: 8, value: ipv4Octets('10.45.0.12') }, text(31, 'sip:alice'), text(44, 's12')]);
      const noNumber = start(3, [int(40, 1), { type: 8, value: ipv4Octets('10.45.0.13') }, text(44, 's13')]);
      const noAddress = start(4, [int(40, 1), text(31, '8613900000014'), text(44, 's14')]);
      for (const d of [Buffer.alloc(12), truncated, badAttrLength, accessRequest, junkNumber, noNumber, noAddress]) await send(d);

      const counted = (s: Record<string, number>) =>
        s.malformed - before.malformed === 4 && s.wrong_code - before.wrong_code === 1 && s.missing_attributes - before.missing_attributes === 2;
      await until(async () => acct.stats(), counted);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.12'), undefined);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.13'), undefined);

      // Still serving: a good record after the junk is stored and answered.
      const r = await radclient(acct.port, record('Start', { ip: '10.45.0.11', msisdn: '8613900000011', session: 's11' }));
      assert.ok(r.answered, r.output);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.11'), '+8613900000011');
      assert.equal(received.length, 0, 'none of the invalid datagrams was answered');
    });

    it('a retransmission is answered again but applied once (RFC 5080 §2.2.2)', async () => {
      received.length = 0;
      const before = acct.stats();
      const request = start(77, [int(40, 1), { type: 8, value: ipv4Octets('10.45.0.20') }, text(31, '8613900000020'), text(44, 's20')]);
      await send(request);
      await until(async () => received.length, (n) => n === 1);
      await send(request);
      await until(async () => received.length, (n) => n === 2);
      assert.deepEqual(received[0], received[1]);
      const head = Buffer.from([5, 77, 0, 20]);
      assert.deepEqual(received[0], Buffer.concat([head, md5(head, request.subarray(4, 20), Buffer.from(SECRET))]));
      const after = acct.stats();
      assert.equal(after.recorded - before.recorded, 1);
      assert.equal(after.duplicate - before.duplicate, 1);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.20'), '+8613900000020');
    });
  });

  // Runs last (a suite's own tests run before its nested suites): it scans what every test stored.
  describe('storage', () => {
    it('Redis holds no phone number in clear', async () => {
      assert.ok((await radclient(acct.port, record('Start', { ip: '10.45.0.30', msisdn: MSISDN, session: 's30', nas: '192.0.2.30' }))).answered);
      assert.ok((await radclient(acct.port, record('Stop', { ip: '10.45.0.31', msisdn: MSISDN, session: 's31', nas: '192.0.2.30' }))).answered);
      assert.equal(await acct.addresses.msisdnAt('10.45.0.30'), `+${MSISDN}`);
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      assert.ok(keys.length >= 3, 'the mapping, the NAS index, the stopped mark');
      for (const k of keys) {
        const type = await redis.type(k);
        const content =
          type === 'hash' ? JSON.stringify(await redis.hgetall(k)) : type === 'set' ? JSON.stringify(await redis.smembers(k)) : String(await redis.get(k));
        for (const needle of [MSISDN, '86139000']) {
          assert.ok(!k.includes(needle) && !content.includes(needle), `${k} holds a phone number: ${content}`);
        }
      }
    });

    it('a port already in use fails the start with EADDRINUSE', async () => {
      await assert.rejects(
        startRadiusAccounting({ redis, key, vault: new NumberVault(randomBytes(32)), host: '127.0.0.1', port: acct.port, secret: SECRET, logger: createLogger('silent') }),
        /EADDRINUSE/,
      );
    });
  });
});
