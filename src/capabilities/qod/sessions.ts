import type { RedisClient, KeyBuilder } from '../../infra/redis.ts';
import { ConcurrentChangeError, RecordStore } from '../../resources/record-store.ts';

export type { IndexOp } from '../../resources/record-store.ts';
import type { SinkCredential } from '../../notify/index.ts';
import type { Device } from './device.ts';
import type { ApplicationServer, PortsSpec } from './flows.ts';

export type QosStatus = 'REQUESTED' | 'AVAILABLE' | 'UNAVAILABLE';
export type StatusInfo = 'DURATION_EXPIRED' | 'NETWORK_TERMINATED' | 'DELETE_REQUESTED';

/** A QoD session as stored. Times are epoch milliseconds; `v` increments on every change. */
export interface SessionRecord {
  id: string;
  v: number;
  clientId: string;
  ueKey: string;
  ueIpv4?: string;
  ueIpv6?: string;
  device?: Device;
  /**
   * Set when a device-bound (3-legged) token created it: the token's device reference, stable per
   * client and subscriber. Only tokens for the same device then reach the session.
   */
  deviceRef?: string;
  applicationServer: ApplicationServer;
  devicePorts?: PortsSpec;
  applicationServerPorts?: PortsSpec;
  qosProfile: string;
  /** Seconds: requested while REQUESTED, granted overall duration once AVAILABLE. */
  duration: number;
  /** `DELETED` is internal: the client deleted it; hidden, kept until the network released it. */
  status: QosStatus | 'DELETED';
  statusInfo?: StatusInfo;
  createdAt: number;
  startedAt?: number;
  /** AVAILABLE: scheduled end. UNAVAILABLE: when it ended. */
  expiresAt?: number;
  sink?: string;
  sinkCredential?: SinkCredential;
  networkRef?: string;
  correlator: string;
}

/** CAMARA SessionInfo. */
export interface SessionInfo {
  sessionId: string;
  duration: number;
  device?: Device;
  applicationServer: ApplicationServer;
  devicePorts?: PortsSpec;
  applicationServerPorts?: PortsSpec;
  qosProfile: string;
  sink?: string;
  qosStatus: QosStatus;
  statusInfo?: StatusInfo;
  startedAt?: string;
  expiresAt?: string;
}

/** What the client sees, as of `now`: an AVAILABLE session past its end already reads as expired. */
export function sessionInfo(r: SessionRecord, now = Date.now()): SessionInfo {
  let status = r.status === 'DELETED' ? 'UNAVAILABLE' : r.status;
  let statusInfo = r.statusInfo;
  if (status === 'AVAILABLE' && r.expiresAt !== undefined && now >= r.expiresAt) {
    status = 'UNAVAILABLE';
    statusInfo = 'DURATION_EXPIRED';
  }
  let duration = r.duration;
  // UNAVAILABLE: the effective duration until termination (at least 1 s, as the schema requires).
  if (status === 'UNAVAILABLE' && r.startedAt !== undefined && r.expiresAt !== undefined) {
    duration = Math.max(1, Math.round((r.expiresAt - r.startedAt) / 1000));
  }
  const info: SessionInfo = { sessionId: r.id, duration, applicationServer: r.applicationServer, qosProfile: r.qosProfile, qosStatus: status };
  if (r.device) info.device = r.device;
  if (r.devicePorts) info.devicePorts = r.devicePorts;
  if (r.applicationServerPorts) info.applicationServerPorts = r.applicationServerPorts;
  if (r.sink) info.sink = r.sink;
  if (status === 'UNAVAILABLE' && statusInfo) info.statusInfo = statusInfo;
  if (status !== 'REQUESTED' && r.startedAt !== undefined) info.startedAt = new Date(r.startedAt).toISOString();
  if (status !== 'REQUESTED' && r.expiresAt !== undefined) info.expiresAt = new Date(r.expiresAt).toISOString();
  return info;
}

// Creates a session unless a session was added to its UE since the caller checked the UE's
// sessions for overlapping flows, and takes the plan's slot in the same step. KEYS: session, UE
// index, client-device index, outbox, REQUESTED deadlines, plan slots, the client's gone sinks.
// ARGV: JSON, id, ids the caller checked (JSON array), outbox score, deadline, max slots (-1: no
// limit), sink ('' none). Returns 1 created, 0 id taken, -1 no slot left, -2 UE changed (check again).
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seen = {}
for _, id in ipairs(cjson.decode(ARGV[3])) do seen[id] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not seen[id] then return -2 end
end
local max = tonumber(ARGV[6])
if max >= 0 then
  if redis.call('SCARD', KEYS[6]) >= max then return -1 end
  redis.call('SADD', KEYS[6], ARGV[2])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2])
if ARGV[7] ~= '' then redis.call('HDEL', KEYS[7], ARGV[7]) end
return 1`;

// The sessions a UE's index names, in one round trip: {ids, records (false where gone)}.
// ARGV[1]: the prefix of session keys (the same hash tag as KEYS[1] on a cluster).
const UE_SESSIONS = `
local ids = redis.call('SMEMBERS', KEYS[1])
if #ids == 0 then return {ids, {}} end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. id end
return {ids, redis.call('MGET', unpack(keys))}`;

/** Where a new session's plan slot and sink mark live (see {@link SessionStore.create}). */
export interface CreateOptions {
  /** True when an active session of the UE has flows that overlap the new one's. */
  overlaps: (active: SessionRecord) => boolean;
  slotsKey: string;
  /** The plan's maximum of concurrent sessions; undefined: no limit. */
  maxSlots?: number;
  /** The client's hash of sinks that answered 410 Gone: the new session's sink leaves it. */
  goneKey: string;
  /** When the session gives up waiting for the network (epoch ms). */
  requestedDeadline: number;
}

/** Sessions and their indexes in Redis. */
export class SessionStore extends RecordStore<SessionRecord> {
  constructor(
    redis: RedisClient,
    readonly key: KeyBuilder,
  ) {
    super(redis, (id) => key('qod', 's', id));
    redis.defineCommand('egQodCreate', { numberOfKeys: 7, lua: CREATE });
    redis.defineCommand('egQodUeSessions', { numberOfKeys: 1, lua: UE_SESSIONS });
  }

  /**
   * Stores a new session with its indexes, outbox entry, REQUESTED deadline and plan slot, in one
   * atomic step, unless one of the UE's active sessions overlaps it. Without a lock: the UE's
   * sessions are read, checked, and the write only happens if no session joined the UE meanwhile
   * (otherwise it checks again). Two round trips when nothing races.
   */
  async create(record: SessionRecord, o: CreateOptions): Promise<'created' | 'conflict' | 'no-slot'> {
    const run = this.redis as unknown as {
      egQodUeSessions(...a: string[]): Promise<[string[], Array<string | null>]>;
      egQodCreate(...a: Array<string | number>): Promise<number>;
    };
    const ue = this.ueIndex(record.ueKey);
    for (let attempt = 0; attempt < 20; attempt++) {
      const [ids, raws] = await run.egQodUeSessions(ue, this.keyOf(''));
      for (const raw of raws) {
        if (!raw) continue;
        const s = JSON.parse(raw) as SessionRecord;
        if ((s.status === 'REQUESTED' || s.status === 'AVAILABLE') && o.overlaps(s)) return 'conflict';
      }
      const result = await run.egQodCreate(
        this.keyOf(record.id),
        ue,
        this.clientDeviceIndex(record.clientId, record.ueKey),
        this.outbox,
        this.requesting,
        o.slotsKey,
        o.goneKey,
        JSON.stringify(record),
        record.id,
        JSON.stringify(ids),
        record.createdAt,
        o.requestedDeadline,
        o.maxSlots ?? -1,
        record.sink ?? '',
      );
      if (result === 1) return 'created';
      if (result === -1) return 'no-slot';
      // A random UUID that already exists: practically impossible, and a bug if it happens.
      if (result === 0) throw new Error(`session id ${record.id} already exists`);
    }
    throw new ConcurrentChangeError(record.id);
  }

  /** Active (REQUESTED or AVAILABLE) sessions of a UE, across clients: for flow-overlap checks. */
  ueIndex(ueKey: string): string {
    return this.key('qod', 'ue', ueKey);
  }
  /** Sessions of one client for one UE (any status still stored): retrieve-sessions. */
  clientDeviceIndex(clientId: string, ueKey: string): string {
    return this.key('qod', 'cdev', clientId, ueKey);
  }
  /** REQUESTED sessions by the time they give up waiting for the network (score: epoch ms). */
  get requesting(): string {
    return this.key('qod', 'requesting');
  }

  /** REQUESTED sessions whose deadline is before `before`. */
  async requestedBefore(before: number, limit = 500): Promise<string[]> {
    return await this.redis.zrangebyscore(this.requesting, 0, before, 'LIMIT', 0, limit);
  }

  async removeFromRequesting(id: string): Promise<void> {
    await this.redis.zrem(this.requesting, id);
  }

  /** Sessions whose activation job may not have been enqueued yet (written with the session). */
  get outbox(): string {
    return this.key('qod', 'outbox');
  }
  /** Transitions whose follow-up work may not have run yet (see resources/follow-ups.ts). */
  get effects(): string {
    return this.key('qod', 'effects');
  }

  /** AVAILABLE sessions by scheduled end (epoch ms) that have no expiry job yet (see Lifecycle). */
  get expiring(): string {
    return this.key('qod', 'expiring');
  }

  async removeFromOutbox(...ids: string[]): Promise<void> {
    if (ids.length) await this.redis.zrem(this.outbox, ...ids);
  }

  /** Outbox entries written before `before` (epoch ms). */
  async outboxBefore(before: number, limit = 500): Promise<string[]> {
    return await this.redis.zrangebyscore(this.outbox, 0, before, 'LIMIT', 0, limit);
  }

  async idsOf(indexKey: string): Promise<string[]> {
    return await this.redis.smembers(indexKey);
  }
}
