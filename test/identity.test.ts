import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { clientAddress, TrustedProxies } from '../src/identity/client-address.ts';
import { ChainedAddresses } from '../src/identity/identify.ts';
import { maskNumber, NumberVault } from '../src/identity/number-vault.ts';
import { loadConfig } from '../src/infra/config.ts';
import { testBootstrap } from './support/gateway.ts';

describe('device address behind the data-path proxy', () => {
  const loopback = new TrustedProxies(['127.0.0.0/8', '::1']);

  it('takes the socket peer when nobody forwards', () => {
    assert.deepEqual(clientAddress({ address: '10.45.0.6', port: 40000 }, {}, loopback), { address: '10.45.0.6', port: 40000, from: 'socket' });
  });

  it('believes X-Forwarded-For only from a trusted proxy', () => {
    const headers = { 'x-forwarded-for': '10.45.0.6' };
    assert.equal(clientAddress({ address: '127.0.0.1' }, headers, loopback).address, '10.45.0.6');
    assert.equal(clientAddress({ address: '::ffff:127.0.0.1' }, headers, loopback).address, '10.45.0.6', 'IPv4-mapped peer');
    const spoofed = clientAddress({ address: '192.0.2.7', port: 5555 }, headers, loopback);
    assert.deepEqual(spoofed, { address: '192.0.2.7', port: 5555, from: 'socket' }, 'an untrusted peer cannot name another device');
  });

  it('walks the chain back to the first untrusted hop, never past it', () => {
    const twoProxies = new TrustedProxies(['127.0.0.1', '10.99.0.0/16']);
    // device → carrier proxy (10.99.0.1) → edge proxy (127.0.0.1) → gateway; the left-most entry is client-written.
    const r = clientAddress({ address: '127.0.0.1' }, { 'x-forwarded-for': '203.0.113.9, 10.45.0.6, 10.99.0.1' }, twoProxies);
    assert.equal(r.address, '10.45.0.6', 'the forged left-most entry is not reached');
  });

  it('reads the source port from RFC 7239 Forwarded (carrier-grade NAT)', () => {
    assert.deepEqual(clientAddress({ address: '127.0.0.1' }, { forwarded: 'for="10.45.0.6:41234";proto=http' }, loopback), { address: '10.45.0.6', port: 41234, from: 'forwarded' });
    assert.deepEqual(clientAddress({ address: '127.0.0.1' }, { forwarded: 'for="[2001:db8::5]:443"' }, loopback), { address: '2001:db8::5', port: 443, from: 'forwarded' });
  });

  it('a trusted proxy sending garbage identifies nobody but itself', () => {
    assert.equal(clientAddress({ address: '127.0.0.1' }, { 'x-forwarded-for': 'unknown' }, loopback).from, 'socket');
    assert.equal(clientAddress({ address: '127.0.0.1' }, { forwarded: 'for=_hidden' }, loopback).address, '127.0.0.1');
  });

  it('refuses malformed proxy entries at start-up', () => {
    assert.throws(() => new TrustedProxies(['10.0.0.0/33']), /prefix/);
    assert.throws(() => new TrustedProxies(['proxy.example']), /not an IP/);
  });

  it('trusts loopback outside production and nothing in production by default', () => {
    const dev = loadConfig({ NODE_ENV: 'development', ADMIN_TOKEN: 'x'.repeat(16) }, { bootstrap: testBootstrap() });
    assert.deepEqual(dev.trustedProxies, ['127.0.0.0/8', '::1']);
    const prod = loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'x'.repeat(16), NUMBER_KEY: 'ab'.repeat(32) }, { bootstrap: testBootstrap() });
    assert.deepEqual(prod.trustedProxies, []);
    assert.deepEqual(loadConfig({ ADMIN_TOKEN: 'x'.repeat(16), TRUSTED_PROXIES: '10.1.0.0/16, 10.2.0.1' }, { bootstrap: testBootstrap() }).trustedProxies, ['10.1.0.0/16', '10.2.0.1']);
  });
});

describe('number vault', () => {
  const vault = new NumberVault(randomBytes(32));

  it('HMACs are keyed: not the plain SHA-256 anyone could compute', () => {
    const n = '+8613900000005';
    assert.equal(vault.hmac(n), vault.hmac(n));
    assert.notEqual(vault.hmac(n), new NumberVault(randomBytes(32)).hmac(n));
    assert.notEqual(vault.hmac(n), createHash('sha256').update(n).digest('base64url'));
    assert.ok(!vault.hmac(n).includes('13900000005'));
  });

  it('sealed numbers come back only with the same key, and tampering is detected', () => {
    const sealed = vault.seal('+8613900000005');
    assert.ok(!sealed.includes('13900000005'));
    assert.notEqual(sealed, vault.seal('+8613900000005'), 'a fresh nonce each time');
    assert.equal(vault.open(sealed), '+8613900000005');
    assert.throws(() => new NumberVault(randomBytes(32)).open(sealed));
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1] ^= 1;
    assert.throws(() => vault.open(raw.toString('base64url')));
  });

  it('pairwise subjects differ per client', () => {
    assert.notEqual(vault.pseudonym('app-a', '+8613900000005'), vault.pseudonym('app-b', '+8613900000005'));
    assert.equal(vault.pseudonym('app-a', '+8613900000005'), vault.pseudonym('app-a', '+8613900000005'));
  });

  it('refuses short keys; masks numbers the way the consent screen shows them', () => {
    assert.throws(() => new NumberVault(randomBytes(16)), /32 bytes/);
    assert.equal(maskNumber('+8613900000005'), '139****0005');
    assert.equal(maskNumber('+4915112345678'), '151****5678');
  });
});

describe('address resolvers in order of precedence', () => {
  /** A resolver that answers after `ms` from its table, or fails; it counts the lookups it was asked. */
  function resolver(table: Record<string, string>, ms: number, fail?: string) {
    const r = {
      asked: 0,
      async msisdnAt(address: string) {
        r.asked++;
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (fail) throw new Error(fail);
        return table[address];
      },
    };
    return r;
  }

  it('asks every resolver at once: a lookup waits for the slowest, not for the sum', async () => {
    let answerRadius!: (msisdn: string | undefined) => void;
    const radius = { msisdnAt: () => new Promise<string | undefined>((resolve) => (answerRadius = resolve)) };
    const ueTable = resolver({ '10.45.0.6': '+8613900000005' }, 0);
    const lookup = new ChainedAddresses([radius, ueTable]).msisdnAt('10.45.0.6');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ueTable.asked, 1, 'the UE table is asked while RADIUS has not answered yet');
    answerRadius(undefined);
    assert.equal(await lookup, '+8613900000005');
  });

  it('the earlier resolver wins even when a later one answers first', async () => {
    const radius = resolver({ '10.45.0.6': '+8613900000007' }, 60);
    const ueTable = resolver({ '10.45.0.6': '+8613900000005' }, 0);
    assert.equal(await new ChainedAddresses([radius, ueTable]).msisdnAt('10.45.0.6'), '+8613900000007');
  });

  it("a later resolver's failure does not matter once an earlier one knows the address", async () => {
    const radius = resolver({ '10.45.0.6': '+8613900000007' }, 20);
    const ueTable = resolver({}, 0, 'subscriber API unreachable');
    assert.equal(await new ChainedAddresses([radius, ueTable]).msisdnAt('10.45.0.6'), '+8613900000007');
  });

  it('fails when a resolver that would decide fails, and knows nobody when none does', async () => {
    const ueTableDown = resolver({}, 0, 'subscriber API unreachable');
    await assert.rejects(new ChainedAddresses([resolver({}, 10), ueTableDown]).msisdnAt('10.45.0.6'), /unreachable/);
    await assert.rejects(new ChainedAddresses([resolver({}, 10, 'redis down'), resolver({ '10.45.0.6': '+8613900000005' }, 0)]).msisdnAt('10.45.0.6'), /redis down/);
    assert.equal(await new ChainedAddresses([resolver({}, 0), resolver({}, 5)]).msisdnAt('10.45.0.9'), undefined);
  });
});
