import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { LineInfo } from '../../../adapters/ports.ts';

/** Which tenant a line of the operator's inventory belongs to, and under which id the tenant sees it. */
export interface LineRegistration {
  lineId: string;
  tenantId: string;
  /** The line's service id in the service inventory (TMF638). Never shown to the tenant. */
  serviceId: string;
  name: string;
  createdAt: string;
}

/** The northbound Line. */
export interface LineView {
  lineId: string;
  name: string;
  aEnd: { site: string; address?: string };
  zEnd: { site: string; address?: string };
  committedBandwidthMbps: number;
  portCapacityMbps: number;
  bandwidthInForceMbps: number;
  status: 'IN_SERVICE' | 'OUT_OF_SERVICE';
}

export function inService(info: LineInfo): boolean {
  return info.state === 'active';
}

export function lineView(reg: LineRegistration, info: LineInfo): LineView {
  const end = (e: LineInfo['aEnd']) => (e.address ? { site: e.site, address: e.address } : { site: e.site });
  return {
    lineId: reg.lineId,
    name: reg.name,
    aEnd: end(info.aEnd),
    zEnd: end(info.zEnd),
    committedBandwidthMbps: info.committedMbps,
    portCapacityMbps: info.portCapacityMbps,
    bandwidthInForceMbps: info.bandwidthMbps,
    status: inService(info) ? 'IN_SERVICE' : 'OUT_OF_SERVICE',
  };
}

// Registers a line unless its id or its service is taken. KEYS: line, service → line, tenant's
// lines. ARGV: JSON, line id. Returns 1 registered, 0 id taken, -1 service taken.
const REGISTER = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 1`;

/** The tenants' line registrations in Redis. */
export class LineStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
  ) {
    redis.defineCommand('egDlRegister', { numberOfKeys: 3, lua: REGISTER });
  }

  private lineKey(lineId: string): string {
    return this.key('dl', 'line', lineId);
  }
  private serviceKey(serviceId: string): string {
    return this.key('dl', 'svc', serviceId);
  }
  private tenantKey(tenantId: string): string {
    return this.key('dl', 'tlines', tenantId);
  }

  async register(reg: LineRegistration): Promise<'registered' | 'id-taken' | 'service-taken'> {
    const r = await (this.redis as unknown as { egDlRegister(...a: string[]): Promise<number> }).egDlRegister(
      this.lineKey(reg.lineId),
      this.serviceKey(reg.serviceId),
      this.tenantKey(reg.tenantId),
      JSON.stringify(reg),
      reg.lineId,
    );
    return r === 1 ? 'registered' : r === 0 ? 'id-taken' : 'service-taken';
  }

  async get(lineId: string): Promise<LineRegistration | undefined> {
    const raw = await this.redis.get(this.lineKey(lineId));
    return raw ? (JSON.parse(raw) as LineRegistration) : undefined;
  }

  async byService(serviceId: string): Promise<LineRegistration | undefined> {
    const lineId = await this.redis.get(this.serviceKey(serviceId));
    return lineId ? this.get(lineId) : undefined;
  }

  async ofTenant(tenantId: string): Promise<LineRegistration[]> {
    const ids = (await this.redis.smembers(this.tenantKey(tenantId))).sort();
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.lineKey(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as LineRegistration);
  }

  async remove(reg: LineRegistration): Promise<void> {
    await this.redis.multi().del(this.lineKey(reg.lineId)).del(this.serviceKey(reg.serviceId)).srem(this.tenantKey(reg.tenantId), reg.lineId).exec();
  }
}
