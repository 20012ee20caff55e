import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { AddressResolver } from '../ports.ts';
import type { Logger } from '../../src/infra/logger.ts';
import type { Metrics } from '../../src/infra/metrics.ts';
import type { KeyBuilder, RedisClient } from '../../src/infra/redis.ts';
import type { NumberVault } from '../../src/identity/number-vault.ts';
import { plainAddress } from '../../src/identity/client-address.ts';
import { withDeadline } from '../../src/infra/deadline.ts';
import { RadiusAddressBook, type SessionAddresses } from './address-book.ts';
import {
  AcctStatus,
  MalformedPacketError,
  RadiusAttr,
  RadiusCode,
  attribute,
  decodePacket,
  encodeAccountingResponse,
  integerValue,
  ipv4Value,
  ipv6PrefixValue,
  ipv6Value,
  textValue,
  verifyAccountingRequest,
  type RadiusPacket,
} from './packet.ts';

/** What became of a datagram; the `result` label of `gateway_radius_accounting_packets_total`. */
export type AccountingResult =
  /** Stored (or, for a status type the table does not use, acknowledged) and answered. */
  | 'recorded'
  /** A retransmission of a request already answered: answered again, not applied twice. */
  | 'duplicate'
  /** Dropped: not a well-formed RADIUS packet, or an attribute value that is not what it should be. */
  | 'malformed'
  /** Dropped: not an Accounting-Request. */
  | 'wrong_code'
  /** Dropped: the Request Authenticator does not match the shared secret. */
  | 'bad_authenticator'
  /** Dropped: an attribute the record needs is absent. */
  | 'missing_attributes'
  /** Not answered because Redis did not take the record; the NAS will retransmit. */
  | 'store_failed';

const RESULTS: readonly AccountingResult[] = ['recorded', 'duplicate', 'malformed', 'wrong_code', 'bad_authenticator', 'missing_attributes', 'store_failed'];

export interface RadiusAccountingOptions {
  redis: RedisClient;
  key: KeyBuilder;
  vault: Pick<NumberVault, 'seal' | 'open' | 'hmac'>;
  /** The shared secret of the NASes (RFC 2865 §3). */
  secret: string;
  logger: Logger;
  metrics?: Metrics;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port; see {@link RadiusAccounting.port}. @defaultValue 1813 (RFC 2866 §3) */
  port?: number;
  /** Lifetime of a mapping, refreshed by Interim-Update. @defaultValue 7200 */
  ttlSeconds?: number;
  /** How long an answered request is remembered to answer its retransmissions. @defaultValue 5000 */
  duplicateWindowMs?: number;
}

/** A running accounting listener. */
export interface RadiusAccounting {
  /** The UDP port it is bound to. */
  port: number;
  /** The table it maintains, as the port device identification uses. */
  addresses: AddressResolver;
  /** Datagrams received so far, by {@link AccountingResult}. */
  stats(): Record<AccountingResult, number>;
  /** Stops receiving and waits (briefly) for records in flight. Idempotent. */
  close(): Promise<void>;
}

/** An Accounting-Request lacks an attribute its Acct-Status-Type needs. */
export class MissingAttributeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

type AccountingRecord =
  | { kind: 'start' | 'interim'; nas: string; sessionId: string; msisdn: string; addresses: SessionAddresses }
  | { kind: 'stop'; nas: string; sessionId: string; msisdn?: string; addresses: SessionAddresses }
  | { kind: 'nas-reset'; nas: string }
  | { kind: 'other'; nas: string };

/**
 * Calling-Station-Id as an E.164 number with '+' (ITU-T E.164 §6: at most 15 digits). Packet
 * gateways send the MSISDN with or without '+'; anything else is not a number we can use.
 */
export function e164(callingStationId: string): string {
  const m = /^\+?(\d{5,15})$/.exec(callingStationId.trim());
  if (!m) throw new MalformedPacketError('Calling-Station-Id is not an E.164 number');
  return `+${m[1]}`;
}

/** What an authenticated Accounting-Request says, or throws Malformed/MissingAttributeError. */
export function readRecord(packet: RadiusPacket, source: string): AccountingRecord {
  const need = (type: number, name: string) => {
    const v = attribute(packet, type);
    if (!v || v.length === 0) throw new MissingAttributeError(`${name} is missing`);
    return v;
  };
  const status = integerValue(need(RadiusAttr.AcctStatusType, 'Acct-Status-Type'));
  // RFC 2865 §5.4/§5.32: a NAS names itself with NAS-IP-Address (or NAS-IPv6-Address, RFC 3162 §2.1);
  // without either, the source of the packet is the client the shared secret belongs to.
  const nasIp = attribute(packet, RadiusAttr.NasIpAddress);
  const nasIp6 = attribute(packet, RadiusAttr.NasIpv6Address);
  const nas = nasIp ? ipv4Value(nasIp) : nasIp6 ? ipv6Value(nasIp6) : plainAddress(source);
  if (status === AcctStatus.AccountingOn || status === AcctStatus.AccountingOff) return { kind: 'nas-reset', nas };
  const kind = status === AcctStatus.Start ? 'start' : status === AcctStatus.InterimUpdate ? 'interim' : status === AcctStatus.Stop ? 'stop' : undefined;
  // Other status types (RFC 2866 §5.1 Failed, RFC 2867 tunnel records) say nothing about who holds an address.
  if (!kind) return { kind: 'other', nas };
  const sessionId = textValue(need(RadiusAttr.AcctSessionId, 'Acct-Session-Id'));
  const framed = attribute(packet, RadiusAttr.FramedIpAddress);
  const prefix = attribute(packet, RadiusAttr.FramedIpv6Prefix);
  const addresses: SessionAddresses = { ipv4: framed && ipv4Value(framed), ipv6Prefix: prefix && ipv6PrefixValue(prefix) };
  if (!addresses.ipv4 && !addresses.ipv6Prefix) throw new MissingAttributeError('neither Framed-IP-Address nor Framed-IPv6-Prefix is present');
  const calling = attribute(packet, RadiusAttr.CallingStationId);
  if (kind === 'stop') return { kind, nas, sessionId, addresses, msisdn: calling?.length ? e164(textValue(calling)) : undefined };
  return { kind, nas, sessionId, addresses, msisdn: e164(textValue(need(RadiusAttr.CallingStationId, 'Calling-Station-Id'))) };
}

/** Starts the RADIUS accounting listener (RFC 2866) that keeps the address → subscriber table. */
export async function startRadiusAccounting(options: RadiusAccountingOptions): Promise<RadiusAccounting> {
  const listener = new AccountingListener(options);
  try {
    await listener.bind(options.port ?? 1813, options.host ?? '127.0.0.1');
  } catch (err) {
    await listener.close();
    throw err;
  }
  return listener;
}

class AccountingListener implements RadiusAccounting {
  port = 0;
  readonly addresses: RadiusAddressBook;
  private readonly socket: Socket;
  private readonly counts = Object.fromEntries(RESULTS.map((r) => [r, 0])) as Record<AccountingResult, number>;
  /** RFC 5080 §2.2.2: a request is a duplicate when source address and port, Identifier and Request Authenticator repeat. */
  private readonly recent = new Map<string, { expires: number; answer: Promise<Buffer | undefined> }>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing?: Promise<void>;

  constructor(private readonly o: RadiusAccountingOptions) {
    this.addresses = new RadiusAddressBook({ redis: o.redis, key: o.key, vault: o.vault, ttlSeconds: o.ttlSeconds });
    this.socket = createSocket(isIPv6(o.host ?? '') ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => {
      const p = this.receive(msg, rinfo).catch((err) => this.o.logger.error({ err: (err as Error).message }, 'radius accounting: unexpected failure'));
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    });
    this.socket.on('error', (err) => this.o.logger.warn({ err: err.message }, 'radius accounting socket error'));
  }

  async bind(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, host, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.port = this.socket.address().port;
    this.o.logger.info({ host, port: this.port }, 'radius accounting listening');
  }

  stats(): Record<AccountingResult, number> {
    return { ...this.counts };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await new Promise<void>((resolve) => {
        try {
          this.socket.close(() => resolve());
        } catch {
          // Never bound, or already closed by an error: nothing to release.
          resolve();
        }
      });
      await withDeadline(Promise.allSettled([...this.inFlight]), 2000, 'radius records in flight').catch(() => {});
      this.recent.clear();
    })();
    return this.closing;
  }

  private count(result: AccountingResult, detail?: string): void {
    this.counts[result]++;
    this.o.metrics?.radiusAccounting.inc({ result });
    if (detail) this.o.logger.debug({ result, detail }, 'radius accounting datagram dropped');
  }

  private async receive(datagram: Buffer, from: RemoteInfo): Promise<void> {
    let packet: RadiusPacket;
    try {
      packet = decodePacket(datagram);
    } catch (err) {
      // RFC 2865 §3: an invalid packet is silently discarded, never answered.
      return this.count('malformed', (err as Error).message);
    }
    // RFC 2866 §4: an accounting server receives Accounting-Request only; RFC 2865 §3: a packet
    // with a Code it does not serve is silently discarded.
    if (packet.code !== RadiusCode.AccountingRequest) return this.count('wrong_code', `code ${packet.code}`);
    // RFC 2866 §3: only a NAS holding the shared secret can compute the Request Authenticator; a
    // request from anyone else (or altered on the way) is discarded without an answer.
    if (!verifyAccountingRequest(packet, this.o.secret)) return this.count('bad_authenticator', `from ${from.address}`);
    const id = `${from.address}|${from.port}|${packet.identifier}|${packet.authenticator.toString('hex')}`;
    const seen = this.remembered(id);
    if (seen) {
      const answer = await seen;
      if (!answer) return;
      this.count('duplicate');
      return this.send(answer, from);
    }
    const answer = this.record(packet, from);
    this.recent.set(id, { expires: Date.now() + (this.o.duplicateWindowMs ?? 5000), answer });
    const response = await answer;
    // Nothing stored, nothing remembered: a retransmission must be tried afresh.
    if (!response) return void this.recent.delete(id);
    this.count('recorded');
    this.send(response, from);
  }

  /** Applies the record; the response to send, or undefined when it was dropped or not stored. */
  private async record(packet: RadiusPacket, from: RemoteInfo): Promise<Buffer | undefined> {
    let record: AccountingRecord;
    try {
      record = readRecord(packet, from.address);
    } catch (err) {
      if (err instanceof MissingAttributeError) return void this.count('missing_attributes', err.message);
      if (err instanceof MalformedPacketError) return void this.count('malformed', err.message);
      throw err;
    }
    try {
      const changed = await this.apply(record);
      this.o.logger.debug({ kind: record.kind, nas: record.nas, changed }, 'radius accounting record');
    } catch (err) {
      // RFC 2866 §4.1: a server that cannot record a request MUST NOT answer it; the NAS retransmits.
      this.count('store_failed');
      this.o.logger.warn({ kind: record.kind, nas: record.nas, err: (err as Error).message }, 'radius accounting record not stored');
      return undefined;
    }
    return encodeAccountingResponse(packet, this.o.secret);
  }

  private apply(record: AccountingRecord): Promise<number> {
    switch (record.kind) {
      case 'start':
      case 'interim':
        return this.addresses.claim(record.addresses, record, record.kind);
      case 'stop':
        return this.addresses.release(record.addresses, record);
      case 'nas-reset':
        return this.addresses.forgetNas(record.nas);
      case 'other':
        return Promise.resolve(0);
    }
  }

  private remembered(id: string): Promise<Buffer | undefined> | undefined {
    const now = Date.now();
    // Entries are kept in insertion order, so the expired ones are at the front.
    for (const [k, v] of this.recent) {
      if (v.expires > now) break;
      this.recent.delete(k);
    }
    return this.recent.get(id)?.answer;
  }

  private send(response: Buffer, to: RemoteInfo): void {
    if (this.closing) return;
    this.socket.send(response, to.port, to.address, (err) => {
      if (err) this.o.logger.warn({ err: err.message }, 'radius accounting response not sent');
    });
  }
}
