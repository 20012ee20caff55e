import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { SinkCredential } from '../../notify/index.ts';
import { RecordStore } from '../../resources/record-store.ts';
import type { Booking } from './calendar.ts';

export type RequestStatus = 'REQUESTED' | 'SCHEDULED' | 'AVAILABLE' | 'UNAVAILABLE';
export type StatusInfo = 'DURATION_EXPIRED' | 'NETWORK_TERMINATED' | 'DELETE_REQUESTED';

/** A bandwidth request as stored. Times are epoch ms; `v` increments on every change. */
export interface BandwidthRequestRecord {
  id: string;
  v: number;
  lineId: string;
  clientId: string;
  bandwidthMbps: number;
  /** Seconds from `startAt`: requested, then as extended. */
  duration: number;
  /** The booked window [startAt, endAt): admission reserved it, the boost holds it. */
  startAt: number;
  endAt: number;
  /** `DELETED` is internal: the client deleted it; hidden from the API. */
  status: RequestStatus | 'DELETED';
  statusInfo?: StatusInfo;
  createdAt: number;
  /** Set once the booked start was acted on (the line was asked to change); its timer then waits for the end. */
  started?: boolean;
  /** When the network confirmed the boost (AVAILABLE). */
  startedAt?: number;
  /** When it ended, if before `endAt`. */
  endedAt?: number;
  sink?: string;
  sinkCredential?: SinkCredential;
  correlator: string;
}

/** True while the request holds its booking: it may be (or is) in force. */
export function active(r: BandwidthRequestRecord): boolean {
  return r.status === 'REQUESTED' || r.status === 'SCHEDULED' || r.status === 'AVAILABLE';
}

/** The northbound BandwidthRequest. */
export interface BandwidthRequestView {
  requestId: string;
  lineId: string;
  bandwidthMbps: number;
  duration: number;
  startTime: string;
  status: RequestStatus;
  statusInfo?: StatusInfo;
  startedAt?: string;
  expiresAt?: string;
  sink?: string;
  createdAt: string;
}

/** What the client sees as of `now`: an AVAILABLE request past its end already reads as expired. */
export function requestView(r: BandwidthRequestRecord, now = Date.now()): BandwidthRequestView {
  let status: RequestStatus = r.status === 'DELETED' ? 'UNAVAILABLE' : r.status;
  let statusInfo = r.statusInfo;
  if (status !== 'UNAVAILABLE' && now >= r.endAt) {
    status = 'UNAVAILABLE';
    statusInfo = r.status === 'AVAILABLE' ? 'DURATION_EXPIRED' : statusInfo;
  }
  const ended = status === 'UNAVAILABLE' ? Math.min(r.endedAt ?? r.endAt, r.endAt) : undefined;
  const duration = ended !== undefined && r.startedAt !== undefined ? Math.max(1, Math.round((ended - r.startedAt) / 1000)) : r.duration;
  const view: BandwidthRequestView = {
    requestId: r.id,
    lineId: r.lineId,
    bandwidthMbps: r.bandwidthMbps,
    duration,
    startTime: new Date(r.startAt).toISOString(),
    status,
    createdAt: new Date(r.createdAt).toISOString(),
  };
  if (status === 'UNAVAILABLE' && statusInfo) view.statusInfo = statusInfo;
  if (r.startedAt !== undefined) view.startedAt = new Date(r.startedAt).toISOString();
  if (status === 'AVAILABLE') view.expiresAt = new Date(r.endAt).toISOString();
  else if (ended !== undefined && r.startedAt !== undefined) view.expiresAt = new Date(ended).toISOString();
  if (r.sink) view.sink = r.sink;
  return view;
}

// A line's bookings and the calendar's version, read together.
const CALENDAR = `
return {redis.call('GET', KEYS[2]) or false, redis.call('HGETALL', KEYS[1])}`;

/** A line's bookings as read, with the version a booking write is fenced on. */
export interface Calendar {
  version: string | null;
  bookings: Booking[];
}

/** Bandwidth requests, the lines' booking calendars and their indexes. */
export class RequestStore extends RecordStore<BandwidthRequestRecord> {
  constructor(
    redis: RedisClient,
    readonly key: KeyBuilder,
  ) {
    super(redis, (id) => key('dl', 'r', id));
    redis.defineCommand('egDlCalendar', { numberOfKeys: 2, lua: CALENDAR });
  }

  /** A line's bookings: request id → `{start, end, mbps}` of every active request. */
  calendarKey(lineId: string): string {
    return this.key('dl', 'cal', lineId);
  }
  /** Increments with every change of the line's bookings; booking writes are fenced on it. */
  calendarVersionKey(lineId: string): string {
    return this.key('dl', 'calv', lineId);
  }
  /** Every request of one client on one line that is still stored. */
  clientIndex(clientId: string, lineId: string): string {
    return this.key('dl', 'creq', clientId, lineId);
  }
  /** Transitions whose follow-up work may not have run yet (see resources/follow-ups.ts). */
  get effectsKey(): string {
    return this.key('dl', 'effects');
  }
  /** When requests' next timed transition is due (see DueSchedule). */
  get dueKey(): string {
    return this.key('dl', 'due');
  }

  async calendar(lineId: string): Promise<Calendar> {
    const [version, flat] = (await (this.redis as unknown as { egDlCalendar(...a: string[]): Promise<[string | null, string[]]> }).egDlCalendar(
      this.calendarKey(lineId),
      this.calendarVersionKey(lineId),
    )) as [string | false | null, string[]];
    const bookings: Booking[] = [];
    for (let i = 0; i < flat.length; i += 2) bookings.push({ id: flat[i], ...(JSON.parse(flat[i + 1]) as Omit<Booking, 'id'>) });
    return { version: version || null, bookings };
  }

  /** The booking of a request, as stored in the calendar hash. */
  static bookingValue(r: Pick<BandwidthRequestRecord, 'startAt' | 'endAt' | 'bandwidthMbps'>): string {
    return JSON.stringify({ start: r.startAt, end: r.endAt, mbps: r.bandwidthMbps });
  }

  /** The ids of the active requests on a line (its calendar). */
  async activeIds(lineId: string): Promise<string[]> {
    return await this.redis.hkeys(this.calendarKey(lineId));
  }

  async idsOf(indexKey: string): Promise<string[]> {
    return await this.redis.smembers(indexKey);
  }
}
