import { BlockList, isIP } from 'node:net';

/** The address a request came from, as the data path sees the device. */
export interface ClientAddress {
  address: string;
  /** The source port, when known (behind carrier-grade NAT the address alone names many devices). */
  port?: number;
  /** `socket`: the TCP peer itself; `forwarded`: a trusted proxy's X-Forwarded-For / Forwarded. */
  from: 'socket' | 'forwarded';
}

/** `address` or `address:port`, as audit entries and logs show where a request came from. */
export function describeAddress(a: { address: string; port?: number }): string {
  return a.port ? `${a.address}:${a.port}` : a.address;
}

/** Strips the IPv4-mapped IPv6 prefix Node gives dual-stack sockets (`::ffff:10.0.0.1`). */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The proxies whose forwarding headers are believed: the carrier's data-path proxy in production,
 * loopback in development and tests (so a test can speak for a device). Entries are addresses or
 * CIDR blocks, IPv4 or IPv6.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = entries;
    for (const entry of entries) {
      const [address, bits] = entry.trim().split('/');
      const family = isIP(address);
      if (!family) throw new Error(`trusted proxy "${entry}" is not an IP address or CIDR block`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, type);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`trusted proxy "${entry}" has a bad prefix length`);
        this.list.addSubnet(address, prefix, type);
      }
    }
  }

  trusts(address: string): boolean {
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `10.0.0.1`, `10.0.0.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`, or `"[…]:p"` quoted (RFC 7239). */
function parseNode(raw: string): { address: string; port?: number } | undefined {
  let v = raw.trim().replace(/^"|"$/g, '');
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracket) {
    v = bracket[1];
    port = bracket[2] ? Number(bracket[2]) : undefined;
  } else {
    const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(v);
    if (v4port) {
      v = v4port[1];
      port = Number(v4port[2]);
    }
  }
  if (!isIP(v)) return undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) port = undefined;
  return { address: plainAddress(v), port };
}

/** The hops a request passed, nearest last: RFC 7239 `Forwarded: for=…`, else `X-Forwarded-For`. */
function forwardedChain(headers: Record<string, string | string[] | undefined>): Array<string | undefined> {
  const join = (h: string | string[] | undefined) => (Array.isArray(h) ? h.join(',') : h);
  const forwarded = join(headers.forwarded);
  if (forwarded) {
    return forwarded.split(',').map((element) => {
      const forPair = element.split(';').map((p) => p.trim()).find((p) => /^for=/i.test(p));
      return forPair?.slice(4);
    });
  }
  const xff = join(headers['x-forwarded-for']);
  return xff ? xff.split(',') : [];
}

/**
 * The device's address: the TCP peer, unless that peer is a trusted proxy, in which case the
 * forwarding headers are walked from the nearest hop back to the first hop that is not a trusted
 * proxy. A header sent by an untrusted peer is ignored, whatever it says; a trusted proxy's header
 * that cannot be parsed leaves the proxy's own address (which identifies nobody).
 */
export function clientAddress(peer: { address?: string; port?: number }, headers: Record<string, string | string[] | undefined>, trusted: TrustedProxies): ClientAddress {
  const socketAddress = plainAddress(peer.address ?? '');
  const own: ClientAddress = { address: socketAddress, port: peer.port, from: 'socket' };
  if (!trusted.trusts(socketAddress)) return own;
  const chain = forwardedChain(headers);
  for (let i = chain.length - 1; i >= 0; i--) {
    const node = chain[i] === undefined ? undefined : parseNode(chain[i]!);
    if (!node) return own;
    if (i > 0 && trusted.trusts(node.address)) continue;
    return { address: node.address, port: node.port, from: 'forwarded' };
  }
  return own;
}
