import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { AddressResolver } from '../ports.ts';
import type { KeyBuilder, RedisClient } from '../../src/infra/redis.ts';
import type { NumberVault } from '../../src/identity/number-vault.ts';
import { plainAddress } from '../../src/identity/client-address.ts';
import { formatIpv6, ipv6Octets, maskOctets } from './packet.ts';

/**
 * Who holds which data-path address, as RADIUS accounting (RFC 2866) reports it, kept in Redis so
 * every gateway process reads the same table.
 *
 * Keys (under the gateway prefix):
 * - `radius:ip:<ipv4>` / `radius:ip6:<network>/<length>`: hash {msisdn (sealed), hmac, session, nas, epoch}, with a TTL;
 * - `radius:nas:<nas>:addresses`: set of the address keys learned from one NAS;
 * - `radius:nas:<nas>:epoch`: counter bumped by each Accounting-On/Off of that NAS;
 * - `radius:stopped:<nas>:<session>`: a short-lived mark of a stopped session.
 * The phone number is only ever stored sealed; `hmac` compares owners, `session` is a hash.
 */

// Start claims the address whoever held it: a new session was given it (RFC 2866 §5.1). Interim-Update
// only refreshes (or re-learns, after a lost Start) its own session's claim: a delayed Interim of an
// ended session must not take the address back from its new owner. UDP may also deliver a
// session's Start or Interim after its Stop; the stopped mark (KEYS[4]) keeps those out.
// KEYS: address, NAS index, NAS epoch, stopped mark. ARGV: sealed msisdn, hmac, session, nas, ttl, mode.
const CLAIM = `
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if ARGV[6] == 'interim' then
  local cur = redis.call('HMGET', KEYS[1], 'session', 'hmac')
  if cur[1] and (cur[1] ~= ARGV[3] or cur[2] ~= ARGV[2]) then return 0 end
end
local epoch = redis.call('GET', KEYS[3]) or '0'
redis.call('HSET', KEYS[1], 'msisdn', ARGV[1], 'hmac', ARGV[2], 'session', ARGV[3], 'nas', ARGV[4], 'epoch', epoch)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
return 1`;

// A Stop removes the mapping only while the address still belongs to the stopping session (and
// subscriber, when the Stop names one): a late Stop must not delete a newer owner's Start.
// KEYS: address, NAS index, stopped mark. ARGV: session, hmac or '', nas, mark ttl.
const RELEASE = `
redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
local cur = redis.call('HMGET', KEYS[1], 'session', 'hmac', 'nas')
if not cur[1] or cur[1] ~= ARGV[1] or (ARGV[2] ~= '' and cur[2] ~= ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
if cur[3] == ARGV[3] then redis.call('SREM', KEYS[2], KEYS[1]) end
return 1`;

// One member of a NAS index after that NAS's Accounting-On/Off: the mapping goes if the NAS still
// owns it and it predates the reset (epoch ARGV[2]); a Start that raced the reset survives.
// KEYS: address, NAS index. ARGV: nas, epoch.
const FORGET = `
local cur = redis.call('HMGET', KEYS[1], 'nas', 'epoch')
if cur[1] == ARGV[1] and tonumber(cur[2] or '0') >= tonumber(ARGV[2]) then return 0 end
redis.call('SREM', KEYS[2], KEYS[1])
if cur[1] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

type Scripts = {
  egRadiusClaim(...args: Array<string | number>): Promise<number>;
  egRadiusRelease(...args: Array<string | number>): Promise<number>;
  egRadiusForget(...args: Array<string | number>): Promise<number>;
};

/** The addresses one accounting record is about (RFC 2865 §5.8, RFC 3162 §2.3). */
export interface SessionAddresses {
  ipv4?: string;
  ipv6Prefix?: { network: string; length: number };
}

/** The subscriber side of a record. */
export interface SessionOwner {
  /** E.164 with '+'. */
  msisdn: string;
  /** Acct-Session-Id. */
  sessionId: string;
  /** The NAS that reported it (NAS-IP-Address, or the packet's source). */
  nas: string;
}

export interface RadiusAddressBookOptions {
  redis: RedisClient;
  key: KeyBuilder;
  vault: Pick<NumberVault, 'seal' | 'open' | 'hmac'>;
  /** Lifetime of a mapping, refreshed by every Interim-Update, so a lost Stop cannot keep a stale owner. @defaultValue 7200 */
  ttlSeconds?: number;
  /** IPv6 prefix lengths an IPv6 lookup tries, most specific first. @defaultValue [128, 64, 56, 48] */
  ipv6PrefixLengths?: readonly number[];
  /** How long a Stop keeps that session's late Interim-Updates out. @defaultValue 300 */
  stoppedSeconds?: number;
}

const DEFAULTS = { ttlSeconds: 7200, ipv6PrefixLengths: [128, 64, 56, 48], stoppedSeconds: 300 };

/** The RADIUS-learned address table; {@link msisdnAt} is the {@link AddressResolver} port. */
export class RadiusAddressBook implements AddressResolver {
  private readonly o: Required<RadiusAddressBookOptions>;
  private readonly scripts: Scripts;

  constructor(options: RadiusAddressBookOptions) {
    // An option given as undefined keeps its default.
    this.o = { ...DEFAULTS, ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RadiusAddressBookOptions) } as Required<RadiusAddressBookOptions>;
    this.o.ipv6PrefixLengths = [...this.o.ipv6PrefixLengths].sort((a, b) => b - a);
    options.redis.defineCommand('egRadiusClaim', { numberOfKeys: 4, lua: CLAIM });
    options.redis.defineCommand('egRadiusRelease', { numberOfKeys: 3, lua: RELEASE });
    options.redis.defineCommand('egRadiusForget', { numberOfKeys: 2, lua: FORGET });
    this.scripts = options.redis as unknown as Scripts;
  }

  /** Start (`mode: 'start'`) or Interim-Update (`'interim'`): the addresses belong to `owner`. Returns how many were written. */
  async claim(addresses: SessionAddresses, owner: SessionOwner, mode: 'start' | 'interim'): Promise<number> {
    const { key, vault, ttlSeconds } = this.o;
    const hmac = vault.hmac(owner.msisdn);
    const session = sessionHash(owner.sessionId);
    const written = await Promise.all(
      this.keysOf(addresses).map((k) =>
        this.scripts.egRadiusClaim(
          k,
          this.nasIndex(owner.nas),
          key('radius', 'nas', owner.nas, 'epoch'),
          this.stoppedMark(owner.nas, session),
          vault.seal(owner.msisdn),
          hmac,
          session,
          owner.nas,
          ttlSeconds,
          mode,
        ),
      ),
    );
    return written.reduce((a, b) => a + b, 0);
  }

  /** Stop: removes the addresses still held by this session (and this subscriber, when known). Returns how many. */
  async release(addresses: SessionAddresses, stop: { msisdn?: string; sessionId: string; nas: string }): Promise<number> {
    const session = sessionHash(stop.sessionId);
    const hmac = stop.msisdn ? this.o.vault.hmac(stop.msisdn) : '';
    const removed = await Promise.all(
      this.keysOf(addresses).map((k) =>
        this.scripts.egRadiusRelease(k, this.nasIndex(stop.nas), this.stoppedMark(stop.nas, session), session, hmac, stop.nas, this.o.stoppedSeconds),
      ),
    );
    return removed.reduce((a, b) => a + b, 0);
  }

  /**
   * Accounting-On/Off (RFC 2866 §5.1): the NAS (re)started or is stopping, so every session it
   * reported is gone. Removes every mapping that NAS reported before now. Returns how many.
   */
  async forgetNas(nas: string): Promise<number> {
    const { redis, key } = this.o;
    const epoch = await redis.incr(key('radius', 'nas', nas, 'epoch'));
    const index = this.nasIndex(nas);
    let removed = 0;
    let cursor = '0';
    do {
      const [next, members] = await redis.sscan(index, cursor, 'COUNT', 200);
      const results = await Promise.all(members.map((m) => this.scripts.egRadiusForget(m, index, nas, epoch)));
      removed += results.reduce((a, b) => a + b, 0);
      cursor = next;
    } while (cursor !== '0');
    return removed;
  }

  /** The subscriber holding `address` (the port is not used: no CGNAT port ranges are learned). */
  async msisdnAt(address: string): Promise<string | undefined> {
    const plain = plainAddress(address);
    let candidates: string[];
    if (isIPv4(plain)) candidates = [this.o.key('radius', 'ip', plain)];
    else {
      const octets = ipv6Octets(plain);
      if (!octets) return undefined;
      candidates = this.o.ipv6PrefixLengths.map((len) => this.ipv6Key(formatIpv6(maskOctets(octets, len)), len));
    }
    const sealed = await Promise.all(candidates.map((k) => this.o.redis.hget(k, 'msisdn')));
    const found = sealed.find((s): s is string => !!s);
    if (!found) return undefined;
    try {
      return this.o.vault.open(found);
    } catch {
      // Sealed under another NUMBER_KEY (rotated): nobody can be identified from it.
      return undefined;
    }
  }

  private keysOf(addresses: SessionAddresses): string[] {
    const keys: string[] = [];
    if (addresses.ipv4) keys.push(this.o.key('radius', 'ip', addresses.ipv4));
    if (addresses.ipv6Prefix) keys.push(this.ipv6Key(addresses.ipv6Prefix.network, addresses.ipv6Prefix.length));
    return keys;
  }

  private ipv6Key(network: string, length: number): string {
    return this.o.key('radius', 'ip6', `${network}/${length}`);
  }

  private nasIndex(nas: string): string {
    return this.o.key('radius', 'nas', nas, 'addresses');
  }

  private stoppedMark(nas: string, session: string): string {
    return this.o.key('radius', 'stopped', nas, session);
  }
}

/** Session ids only need comparing; a hash keeps whatever a NAS puts in them out of Redis. */
function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url').slice(0, 22);
}
