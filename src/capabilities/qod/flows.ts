import { isIPv4, isIPv6 } from 'node:net';

/** CAMARA PortsSpec: listed ports and/or ranges; absent means every port. */
export interface PortsSpec {
  ranges?: Array<{ from: number; to: number }>;
  ports?: number[];
}

/** CAMARA ApplicationServer: one IPv4 and/or one IPv6 (address or prefix), or a list of addresses. */
export interface ApplicationServer {
  ipv4Address?: string;
  ipv6Address?: string;
  ipAddresses?: string[];
}

/** The traffic a session covers, in a form that can be compared with another session's. */
export interface FlowSpec {
  applicationServer: ApplicationServer;
  devicePorts?: PortsSpec;
  applicationServerPorts?: PortsSpec;
}

interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
}

function parseAddress(text: string): { v6: boolean; value: bigint } {
  if (isIPv4(text)) return { v6: false, value: text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (isIPv6(text)) {
    const [head, tail = ''] = text.includes('::') ? text.split('::') : [text, undefined as unknown as string];
    const h = head ? head.split(':') : [];
    const t = text.includes('::') && tail ? tail.split(':') : [];
    const groups = text.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
  }
  throw new Error(`not an IP address: ${text}`);
}

/** Parses "a.b.c.d", "a.b.c.d/m", "x::y" or "x::/m" into a prefix. */
export function parseCidr(text: string): Cidr {
  const [addr, len] = text.split('/');
  const { v6, value } = parseAddress(addr);
  const max = v6 ? 128 : 32;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`bad prefix length in ${text}`);
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(max - bits);
  return { v6, base: value & mask, bits };
}

function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.v6 !== b.v6) return false;
  const max = a.v6 ? 128 : 32;
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(max - bits);
  return (a.base & mask) === (b.base & mask);
}

/** Every address or prefix of an application server. */
export function serverAddresses(as: ApplicationServer): string[] {
  return as.ipAddresses ?? [as.ipv4Address, as.ipv6Address].filter((a): a is string => !!a);
}

function portRanges(spec?: PortsSpec): Array<[number, number]> {
  if (!spec) return [[1, 65535]];
  return [...(spec.ports ?? []).map((p) => [p, p] as [number, number]), ...(spec.ranges ?? []).map((r) => [r.from, r.to] as [number, number])];
}

function portsOverlap(a?: PortsSpec, b?: PortsSpec): boolean {
  return portRanges(a).some(([af, at]) => portRanges(b).some(([bf, bt]) => af <= bt && bf <= at));
}

/**
 * Two sessions of one device conflict when they could match the same packet: their server
 * addresses overlap and so do both port sets (QoD #446: several sessions per device are fine when
 * their flows are disjoint).
 */
export function flowsOverlap(a: FlowSpec, b: FlowSpec): boolean {
  const aNets = serverAddresses(a.applicationServer).map(parseCidr);
  const bNets = serverAddresses(b.applicationServer).map(parseCidr);
  if (!aNets.some((x) => bNets.some((y) => cidrsOverlap(x, y)))) return false;
  return portsOverlap(a.devicePorts, b.devicePorts) && portsOverlap(a.applicationServerPorts, b.applicationServerPorts);
}

/** A port list in IPFilterRule syntax (RFC 6733 §4.3): "80,443,5000-5010"; empty for every port. */
function ipFilterPorts(spec?: PortsSpec): string {
  if (!spec) return '';
  const parts = portRanges(spec).map(([f, t]) => (f === t ? String(f) : `${f}-${t}`));
  return ` ${parts.join(',')}`;
}

/**
 * The flow descriptions of a session (TS 29.214 §5.3.8 IPFilterRule; "out" is downlink, "in"
 * uplink, "ip" any protocol), two per server address: one media sub-component each.
 */
export function flowDescriptions(spec: FlowSpec, ue: string): string[][] {
  const dev = ipFilterPorts(spec.devicePorts);
  const srv = ipFilterPorts(spec.applicationServerPorts);
  const ueAddr = ue.includes(':') && !ue.includes('/') ? `${ue}/128` : ue;
  return serverAddresses(spec.applicationServer).map((as) => [
    `permit out ip from ${as}${srv} to ${ueAddr}${dev}`,
    `permit in ip from ${ueAddr}${dev} to ${as}${srv}`,
  ]);
}
