import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The RADIUS packet format (RFC 2865 §3, §5) as RADIUS accounting (RFC 2866) uses it: decoding,
 * encoding and the MD5 authenticators. Nothing here knows what a record means.
 */

/** Packet codes (RFC 2865 §3, RFC 2866 §3). */
export const RadiusCode = {
  AccessRequest: 1,
  AccountingRequest: 4,
  AccountingResponse: 5,
} as const;

/** The attribute types the accounting listener reads (RFC 2865 §5, RFC 2866 §5, RFC 3162 §2). */
export const RadiusAttr = {
  NasIpAddress: 4,
  FramedIpAddress: 8,
  CallingStationId: 31,
  ProxyState: 33,
  AcctStatusType: 40,
  AcctSessionId: 44,
  NasIpv6Address: 95,
  FramedIpv6Prefix: 97,
} as const;

/** Acct-Status-Type values (RFC 2866 §5.1). */
export const AcctStatus = {
  Start: 1,
  Stop: 2,
  InterimUpdate: 3,
  AccountingOn: 7,
  AccountingOff: 8,
} as const;

/** RFC 2865 §3: the header is Code, Identifier, Length and a 16-octet Authenticator. */
export const HEADER_LENGTH = 20;
/** RFC 2865 §3: "The maximum length is 4096." */
export const MAX_PACKET_LENGTH = 4096;

export interface RadiusAttribute {
  type: number;
  value: Buffer;
}

export interface RadiusPacket {
  code: number;
  identifier: number;
  authenticator: Buffer;
  attributes: RadiusAttribute[];
  /** The octets the Length field covers: what the authenticators are computed over. */
  raw: Buffer;
}

/** The datagram is not a well-formed RADIUS packet; RFC 2865 §3 says to discard it silently. */
export class MalformedPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Decodes a datagram, or throws {@link MalformedPacketError}. Checks the format only, not the authenticator. */
export function decodePacket(datagram: Buffer): RadiusPacket {
  if (datagram.length < HEADER_LENGTH) throw new MalformedPacketError(`${datagram.length} octets is shorter than a RADIUS header`);
  const length = datagram.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) throw new MalformedPacketError(`Length field ${length} is outside 20..4096`);
  // RFC 2865 §3: a packet shorter than its Length field MUST be silently discarded; octets beyond
  // it are padding and MUST be ignored.
  if (datagram.length < length) throw new MalformedPacketError(`Length field ${length} exceeds the ${datagram.length} octets received`);
  const raw = datagram.subarray(0, length);
  return {
    code: raw[0],
    identifier: raw[1],
    authenticator: raw.subarray(4, HEADER_LENGTH),
    attributes: decodeAttributes(raw.subarray(HEADER_LENGTH)),
    raw,
  };
}

function decodeAttributes(body: Buffer): RadiusAttribute[] {
  const attributes: RadiusAttribute[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 2) throw new MalformedPacketError('a trailing octet is not an attribute');
    const type = body[at];
    const length = body[at + 1];
    // RFC 2865 §5: Length covers Type, Length and Value, so it is at least 2, and an attribute
    // running past the end of the packet makes the whole packet invalid.
    if (length < 2) throw new MalformedPacketError(`attribute ${type} has length ${length}`);
    if (at + length > body.length) throw new MalformedPacketError(`attribute ${type} overruns the packet`);
    attributes.push({ type, value: body.subarray(at + 2, at + length) });
    at += length;
  }
  return attributes;
}

/** Encodes attributes in order; a value over 253 octets cannot be one attribute (RFC 2865 §5). */
export function encodeAttributes(attributes: readonly RadiusAttribute[]): Buffer {
  return Buffer.concat(
    attributes.map(({ type, value }) => {
      if (value.length > 253) throw new RangeError(`attribute ${type} value of ${value.length} octets exceeds 253`);
      return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
    }),
  );
}

const md5 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('md5')).digest();

function header(code: number, identifier: number, length: number): Buffer {
  const h = Buffer.alloc(4);
  h[0] = code;
  h[1] = identifier;
  h.writeUInt16BE(length, 2);
  return h;
}

/**
 * RFC 2866 §3: the Request Authenticator of an Accounting-Request is
 * MD5(Code + Identifier + Length + 16 zero octets + request attributes + shared secret).
 */
export function accountingRequestAuthenticator(identifier: number, attributes: Buffer, secret: string | Buffer): Buffer {
  const length = HEADER_LENGTH + attributes.length;
  return md5(header(RadiusCode.AccountingRequest, identifier, length), Buffer.alloc(16), attributes, Buffer.from(secret));
}

/** True when an Accounting-Request was signed with `secret` (RFC 2866 §3); constant-time compare. */
export function verifyAccountingRequest(packet: RadiusPacket, secret: string | Buffer): boolean {
  if (packet.code !== RadiusCode.AccountingRequest) return false;
  const expected = accountingRequestAuthenticator(packet.identifier, packet.raw.subarray(HEADER_LENGTH), secret);
  return timingSafeEqual(expected, packet.authenticator);
}

/** A signed Accounting-Request (what a NAS sends); the listener never sends one, tests and tools do. */
export function encodeAccountingRequest(identifier: number, attributes: readonly RadiusAttribute[], secret: string | Buffer): Buffer {
  const body = encodeAttributes(attributes);
  const authenticator = accountingRequestAuthenticator(identifier, body, secret);
  return Buffer.concat([header(RadiusCode.AccountingRequest, identifier, HEADER_LENGTH + body.length), authenticator, body]);
}

/**
 * The Accounting-Response to `request` (RFC 2866 §4.2). Its Response Authenticator is
 * MD5(Code + Identifier + Length + Request Authenticator + response attributes + shared secret)
 * (RFC 2866 §3). RFC 2865 §5.33: Proxy-State attributes of the request are copied unmodified and
 * in order into the response, so a proxy in between can match it.
 */
export function encodeAccountingResponse(request: RadiusPacket, secret: string | Buffer): Buffer {
  const body = encodeAttributes(request.attributes.filter((a) => a.type === RadiusAttr.ProxyState));
  const head = header(RadiusCode.AccountingResponse, request.identifier, HEADER_LENGTH + body.length);
  const authenticator = md5(head, request.authenticator, body, Buffer.from(secret));
  return Buffer.concat([head, authenticator, body]);
}

/** The value of the first attribute of `type`, if any. */
export function attribute(packet: RadiusPacket, type: number): Buffer | undefined {
  return packet.attributes.find((a) => a.type === type)?.value;
}

// Value codecs (RFC 2865 §5 data types; RFC 3162 §2.3 for prefixes). Each throws
// MalformedPacketError on a value of the wrong size, which makes the whole packet invalid.

/** An `integer`: 32-bit unsigned, network order. */
export function integerValue(value: Buffer): number {
  if (value.length !== 4) throw new MalformedPacketError(`an integer attribute has ${value.length} octets`);
  return value.readUInt32BE(0);
}

/** An `address` (IPv4), dotted quad. */
export function ipv4Value(value: Buffer): string {
  if (value.length !== 4) throw new MalformedPacketError(`an IPv4 address attribute has ${value.length} octets`);
  return Array.from(value).join('.');
}

/** An `ipv6addr` (16 octets), as eight groups of hex. */
export function ipv6Value(value: Buffer): string {
  if (value.length !== 16) throw new MalformedPacketError(`an IPv6 address attribute has ${value.length} octets`);
  return formatIpv6(value);
}

/**
 * Framed-IPv6-Prefix (RFC 3162 §2.3): Reserved, Prefix-Length (0..128), then only as many prefix
 * octets as the length needs (2 to 18 octets in all). Returns `network/length`.
 */
export function ipv6PrefixValue(value: Buffer): { network: string; length: number } {
  if (value.length < 2 || value.length > 18) throw new MalformedPacketError(`Framed-IPv6-Prefix has ${value.length} octets`);
  const length = value[1];
  if (length > 128 || value.length - 2 < Math.ceil(length / 8)) throw new MalformedPacketError(`Framed-IPv6-Prefix length ${length} does not fit its value`);
  const octets = Buffer.alloc(16);
  value.copy(octets, 0, 2, 2 + Math.ceil(length / 8));
  return { network: formatIpv6(maskOctets(octets, length)), length };
}

/** A `text`/`string` attribute as UTF-8 (RFC 2865 §5: text is UTF-8, not NUL-terminated). */
export function textValue(value: Buffer): string {
  return value.toString('utf8');
}

/** IPv4 octets of an encoded `address` value: for building packets. */
export function ipv4Octets(address: string): Buffer {
  if (!isIPv4(address)) throw new RangeError(`${address} is not an IPv4 address`);
  return Buffer.from(address.split('.').map(Number));
}

/** The 16 octets of an IPv6 address (`::` and an embedded dotted quad allowed), or undefined. */
export function ipv6Octets(address: string): Buffer | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const [left, right] = text.split('::');
  const head = groups(left);
  const tail = groups(right);
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Clears every bit after the first `length`. */
export function maskOctets(octets: Buffer, length: number): Buffer {
  const out = Buffer.from(octets);
  for (let bit = length; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

/** Eight groups of hex, without `::` compression: one spelling per address, so it can be a key. */
export function formatIpv6(octets: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(octets.readUInt16BE(i).toString(16));
  return groups.join(':');
}
