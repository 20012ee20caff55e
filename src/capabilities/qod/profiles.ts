import type { RedisClient, KeyBuilder } from '../../infra/redis.ts';
import type { QosMapping } from '../../../adapters/ports.ts';

export type TimeUnit = 'Days' | 'Hours' | 'Minutes' | 'Seconds' | 'Milliseconds' | 'Microseconds' | 'Nanoseconds';
export type RateUnit = 'bps' | 'kbps' | 'Mbps' | 'Gbps' | 'Tbps';
export interface Duration {
  value: number;
  unit: TimeUnit;
}
export interface Rate {
  value: number;
  unit: RateUnit;
}

/** A QoS profile as CAMARA QoS Profiles 1.2 shows it. */
export interface QosProfileView {
  name: string;
  description?: string;
  status: 'ACTIVE' | 'INACTIVE' | 'DEPRECATED';
  targetMinUpstreamRate?: Rate;
  maxUpstreamRate?: Rate;
  maxUpstreamBurstRate?: Rate;
  targetMinDownstreamRate?: Rate;
  maxDownstreamRate?: Rate;
  maxDownstreamBurstRate?: Rate;
  minDuration?: Duration;
  maxDuration?: Duration;
  priority?: number;
  packetDelayBudget?: Duration;
  jitter?: Duration;
  packetErrorLossRate?: number;
}

/** Operator configuration: the CAMARA view plus how the network realises it. */
export interface QosProfileConfig extends QosProfileView {
  network: QosMapping;
}

const SECONDS: Record<TimeUnit, number> = {
  Days: 86_400,
  Hours: 3600,
  Minutes: 60,
  Seconds: 1,
  Milliseconds: 1e-3,
  Microseconds: 1e-6,
  Nanoseconds: 1e-9,
};

/** A CAMARA Duration in seconds. */
export function durationSeconds(d: Duration): number {
  return d.value * SECONDS[d.unit];
}

const s = (value: number): Duration => ({ value, unit: 'Seconds' });
const kbps = (value: number): Rate => ({ value, unit: 'kbps' });
const mbps = (value: number): Rate => ({ value, unit: 'Mbps' });
const ms = (value: number): Duration => ({ value, unit: 'Milliseconds' });

function profile(
  name: string,
  description: string,
  rate: Rate,
  network: { fiveQi: number; bitRate: string; priorityLevel: number },
  status: QosProfileView['status'] = 'ACTIVE',
): QosProfileConfig {
  return {
    name,
    description,
    status,
    targetMinUpstreamRate: rate,
    maxUpstreamRate: rate,
    targetMinDownstreamRate: rate,
    maxDownstreamRate: rate,
    minDuration: s(1),
    maxDuration: { value: 24, unit: 'Hours' },
    priority: network.priorityLevel * 5,
    packetDelayBudget: ms(network.fiveQi === 3 ? 50 : network.fiveQi === 2 ? 150 : 300),
    jitter: ms(network.fiveQi === 3 ? 10 : 30),
    packetErrorLossRate: 3,
    network: {
      qosReference: name,
      fiveQi: network.fiveQi,
      gbrUl: network.bitRate,
      gbrDl: network.bitRate,
      mbrUl: network.bitRate,
      mbrDl: network.bitRate,
      // Prioritised but not pre-empting: a purchased boost never evicts another subscriber.
      arp: { priorityLevel: network.priorityLevel, preemptCap: 'NOT_PREEMPT', preemptVuln: 'PREEMPTABLE' },
    },
  };
}

/**
 * The profiles a new deployment starts with: the CAMARA example labels E/S/M/L as GBR flows
 * (TS 23.501 Table 5.7.4-1: 5QI 3 real-time, 5QI 2 conversational video, 5QI 4 buffered
 * streaming), and one retired profile kept for sessions that still use it.
 */
export const DEFAULT_PROFILES: QosProfileConfig[] = [
  profile('QOS_E', 'Stable latency for interactive traffic, up to 500 kbps', kbps(500), { fiveQi: 3, bitRate: '500 Kbps', priorityLevel: 6 }),
  profile('QOS_S', 'Guaranteed 4 Mbps for small video and uploads', mbps(4), { fiveQi: 2, bitRate: '4 Mbps', priorityLevel: 7 }),
  profile('QOS_M', 'Guaranteed 8 Mbps for HD video and bulk uploads', mbps(8), { fiveQi: 2, bitRate: '8 Mbps', priorityLevel: 8 }),
  profile('QOS_L', 'Guaranteed 20 Mbps for large transfers', mbps(20), { fiveQi: 4, bitRate: '20 Mbps', priorityLevel: 9 }),
  profile('QOS_LEGACY', 'Former 2 Mbps profile; kept for running sessions, not for new ones', mbps(2), { fiveQi: 4, bitRate: '2 Mbps', priorityLevel: 10 }, 'DEPRECATED'),
];

/** The CAMARA view of a profile: the network mapping is the operator's business. */
export function profileView(p: QosProfileConfig): QosProfileView {
  const { network: _network, ...view } = p;
  return view;
}

/** QoS profiles, kept in Redis so every gateway process and the operator API share them. */
export class ProfileStore {
  private cache?: { at: number; profiles: Map<string, QosProfileConfig> };

  constructor(
    private readonly redis: RedisClient,
    private readonly key: KeyBuilder,
  ) {}

  private get hash(): string {
    return this.key('qod', 'profiles');
  }

  /** Adds the given profiles where none of that name exists (bootstrap; idempotent). */
  async seed(profiles: QosProfileConfig[]): Promise<number> {
    let added = 0;
    for (const p of profiles) added += await this.redis.hsetnx(this.hash, p.name, JSON.stringify(p));
    this.cache = undefined;
    return added;
  }

  async put(p: QosProfileConfig): Promise<void> {
    await this.redis.hset(this.hash, p.name, JSON.stringify(p));
    this.cache = undefined;
  }

  async remove(name: string): Promise<boolean> {
    this.cache = undefined;
    return (await this.redis.hdel(this.hash, name)) === 1;
  }

  /** All profiles by name. Cached for a second: profiles change rarely and are read on every create. */
  async all(): Promise<Map<string, QosProfileConfig>> {
    if (this.cache && Date.now() - this.cache.at < 1000) return this.cache.profiles;
    const raw = await this.redis.hgetall(this.hash);
    const profiles = new Map(Object.entries(raw).map(([name, json]) => [name, JSON.parse(json) as QosProfileConfig]));
    this.cache = { at: Date.now(), profiles };
    return profiles;
  }

  async get(name: string): Promise<QosProfileConfig | undefined> {
    return (await this.all()).get(name);
  }
}
