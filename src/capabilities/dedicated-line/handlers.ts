import { randomUUID } from 'node:crypto';
import type { IndexOp } from '../../resources/record-store.ts';
import { ApiError } from '../../http/errors.ts';
import type { IdempotencyStore } from '../../http/idempotency.ts';
import type { Limits } from '../../tenancy/limits.ts';
import type { Plan } from '../../tenancy/types.ts';
import type { Notifier, SinkCredential } from '../../notify/index.ts';
import type { LineController, LineInfo } from '../../../adapters/ports.ts';
import type { ApiRequest, OperationHandler, Reply, RequestContext } from '../types.ts';
import { check, describeConflict, earliestStart, type Booking, type LineLimits } from './calendar.ts';
import { inService, lineView, type LineRegistration, type LineStore } from './lines.ts';
import { RequestStore, requestView, type BandwidthRequestRecord } from './requests.ts';
import { CAPABILITY, type BandwidthLifecycle } from './lifecycle.ts';

export interface HandlerDeps {
  lines: LineStore;
  requests: RequestStore;
  lifecycle: BandwidthLifecycle;
  controller: LineController;
  limits: Limits;
  notifier: Notifier;
  idempotency: IdempotencyStore;
}

interface BandwidthBody {
  bandwidthMbps: number;
  duration: number;
  startTime?: string;
}
type CreateBody = BandwidthBody & { sink?: string; sinkCredential?: SinkCredential };

/** A startTime this far in the past still means "now" (clock skew between the client and us). */
const PAST_TOLERANCE_MS = 5_000;

/** The plan's limits of this capability, with their defaults. */
export interface PlanLimits {
  maxLineBandwidthMbps?: number;
  minRequestDurationSeconds: number;
  maxRequestDurationSeconds: number;
  bookingHorizonDays: number;
}

/** The plan's limits of this capability (`limits` of the subscription's plan), with defaults. */
export function planLimits(plan: Plan): PlanLimits {
  const l = (plan.limits ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  return {
    maxLineBandwidthMbps: num(l.maxLineBandwidthMbps),
    minRequestDurationSeconds: num(l.minRequestDurationSeconds) ?? 60,
    maxRequestDurationSeconds: num(l.maxRequestDurationSeconds) ?? 30 * 24 * 3600,
    bookingHorizonDays: num(l.bookingHorizonDays) ?? 90,
  };
}

/** The window a request asks for, checked against the clock and the plan. */
function windowOf(body: BandwidthBody, limits: PlanLimits, now: number): { start: number; end: number; immediate: boolean } {
  if (body.duration < limits.minRequestDurationSeconds || body.duration > limits.maxRequestDurationSeconds) {
    throw new ApiError('OUT_OF_RANGE', `duration must be between ${limits.minRequestDurationSeconds} and ${limits.maxRequestDurationSeconds} seconds under this plan`);
  }
  let start = now;
  if (body.startTime !== undefined) {
    const t = Date.parse(body.startTime);
    if (Number.isNaN(t)) throw new ApiError('INVALID_ARGUMENT', 'startTime is not a date-time');
    if (t < now - PAST_TOLERANCE_MS) throw new ApiError('OUT_OF_RANGE', 'startTime is in the past');
    if (t > now + limits.bookingHorizonDays * 86_400_000) throw new ApiError('OUT_OF_RANGE', `startTime must be within ${limits.bookingHorizonDays} days`);
    start = Math.max(t, now);
  }
  return { start, end: start + body.duration * 1000, immediate: start <= now };
}

/** The HTTP handlers of the dedicated line API, by operationId. */
export function lineHandlers(d: HandlerDeps): Record<string, OperationHandler> {
  /** A line of the caller's tenant, with what the inventory says of it now; anyone else's is "not found". */
  async function ownLine(req: ApiRequest, ctx: RequestContext): Promise<{ reg: LineRegistration; info: LineInfo }> {
    const reg = await d.lines.get(req.params.lineId);
    if (!reg || reg.tenantId !== ctx.principal!.tenantId) throw new ApiError('NOT_FOUND', `line ${req.params.lineId} not found`);
    const info = await d.controller.line(reg.serviceId);
    if (!info) throw new ApiError('NOT_FOUND', `line ${req.params.lineId} is no longer in the service inventory`);
    return { reg, info };
  }

  /** A request the caller created on that line; anyone else's is "not found". `known`: the line, already read. */
  async function ownRequest(req: ApiRequest, ctx: RequestContext, known?: LineRegistration): Promise<BandwidthRequestRecord> {
    const reg = known ?? (await d.lines.get(req.params.lineId));
    const r = await d.requests.get(req.params.requestId);
    if (!reg || reg.tenantId !== ctx.principal!.tenantId || !r || r.lineId !== reg.lineId || r.clientId !== ctx.principal!.clientId || r.status === 'DELETED') {
      throw new ApiError('NOT_FOUND', 'bandwidth request not found');
    }
    return r;
  }

  function limitsOf(info: LineInfo, plan: PlanLimits): LineLimits {
    return { committedMbps: info.committedMbps, portCapacityMbps: info.portCapacityMbps, planMaxMbps: plan.maxLineBandwidthMbps };
  }

  async function create(req: ApiRequest<CreateBody>, ctx: RequestContext): Promise<Reply> {
    const principal = ctx.principal!;
    const body = req.body;
    const { reg, info } = await ownLine(req, ctx);
    const plan = planLimits(principal.plan);
    const now = Date.now();
    const window = windowOf(body, plan, now);
    if (window.immediate && !inService(info)) throw new ApiError('DEDICATED_LINE.LINE_NOT_IN_SERVICE', `line ${reg.lineId} is out of service`);
    d.notifier.checkSink(principal.application, body.sink, body.sinkCredential);
    const id = randomUUID();
    const record: BandwidthRequestRecord = {
      id,
      v: 1,
      lineId: reg.lineId,
      clientId: principal.clientId,
      bandwidthMbps: body.bandwidthMbps,
      duration: body.duration,
      startAt: window.start,
      endAt: window.end,
      status: window.immediate ? 'REQUESTED' : 'SCHEDULED',
      createdAt: now,
      ...(body.sink ? { sink: body.sink, sinkCredential: body.sinkCredential } : {}),
      correlator: ctx.correlator,
    };
    await d.limits.acquire(principal.clientId, CAPABILITY, id, principal.plan);
    try {
      await book(record, limitsOf(info, plan));
    } catch (err) {
      await d.limits.release(principal.clientId, CAPABILITY, id);
      throw err;
    }
    // The timer was written with the booking: a crash here leaves it to the schedule's sweep.
    await d.lifecycle.schedule.settle(id, record.startAt);
    return { status: 201, body: requestView(record, now) };
  }

  /**
   * Writes the request with its booking, fenced on the calendar version it checked: a booking
   * that another request made meanwhile makes it read and check again.
   */
  async function book(record: BandwidthRequestRecord, limits: LineLimits): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const cal = await d.requests.calendar(record.lineId);
      const verdict = check(live(cal.bookings), { start: record.startAt, end: record.endAt, mbps: record.bandwidthMbps }, limits);
      if (!verdict.fits) throw new ApiError('CONFLICT', `the request does not fit: ${describeConflict(verdict.conflict)}`);
      const outcome = await d.requests.writeChecked(
        record,
        -1,
        [
          ['HSET', d.requests.calendarKey(record.lineId), record.id, RequestStore.bookingValue(record)],
          ['INCR', d.requests.calendarVersionKey(record.lineId)],
          ['SADD', d.requests.clientIndex(record.clientId, record.lineId), record.id],
          d.lifecycle.schedule.op(record.id, record.startAt),
          // A sink named again is wanted again, even if it once answered 410 Gone.
          ...(record.sink ? [['HDEL', d.notifier.goneKey(record.clientId), record.sink] as IndexOp] : []),
        ],
        0,
        [[d.requests.calendarVersionKey(record.lineId), cal.version]],
      );
      if (outcome === 'written') return;
      if (outcome !== 'guard-failed') throw new Error(`bandwidth request ${record.id} already exists`);
    }
    throw new ApiError('ABORTED', 'the line is being booked by many requests at once; try again');
  }

  /** Bookings still holding their window (an ended one may linger until its end is processed). */
  function live(bookings: Booking[], now = Date.now()): Booking[] {
    return bookings.filter((b) => b.end > now);
  }

  return {
    async listLines(_req, ctx) {
      const regs = await d.lines.ofTenant(ctx.principal!.tenantId);
      const infos = await Promise.all(regs.map((r) => d.controller.line(r.serviceId)));
      return { status: 200, body: regs.flatMap((r, i) => (infos[i] ? [lineView(r, infos[i])] : [])) };
    },
    async getLine(req, ctx) {
      const { reg, info } = await ownLine(req, ctx);
      return { status: 200, body: lineView(reg, info) };
    },
    async getLineTelemetry(req: ApiRequest, ctx) {
      const { reg } = await ownLine(req, ctx);
      const limit = (req.query.limit as number | undefined) ?? 60;
      let since: Date | undefined;
      if (typeof req.query.since === 'string') {
        since = new Date(req.query.since);
        if (Number.isNaN(since.getTime())) throw new ApiError('INVALID_ARGUMENT', 'since is not a date-time');
      }
      const samples = await d.controller.telemetry(reg.serviceId, since ? { since, limit } : { limit: 500 });
      // Without `since`: the latest `limit` samples; with it: the first `limit` after it (to page forward).
      return { status: 200, body: { lineId: reg.lineId, samples: since ? samples.slice(0, limit) : samples.slice(-limit) } };
    },
    async createBandwidthRequest(req: ApiRequest<CreateBody>, ctx) {
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') return d.idempotency.run(ctx.principal!.clientId, key, { line: req.params.lineId, ...req.body }, () => create(req, ctx));
      return create(req, ctx);
    },
    async listBandwidthRequests(req, ctx) {
      const reg = await d.lines.get(req.params.lineId);
      if (!reg || reg.tenantId !== ctx.principal!.tenantId) throw new ApiError('NOT_FOUND', `line ${req.params.lineId} not found`);
      const index = d.requests.clientIndex(ctx.principal!.clientId, reg.lineId);
      const ids = await d.requests.idsOf(index);
      const found = await d.requests.getMany(ids);
      const gone = ids.filter((id) => !found.some((r) => r.id === id));
      if (gone.length) await d.requests.redis.srem(index, ...gone);
      const now = Date.now();
      const visible = found.filter((r) => r.status !== 'DELETED').sort((a, b) => a.startAt - b.startAt || a.createdAt - b.createdAt);
      return { status: 200, body: visible.map((r) => requestView(r, now)) };
    },
    async getBandwidthRequest(req, ctx) {
      return { status: 200, body: requestView(await ownRequest(req, ctx)) };
    },
    async deleteBandwidthRequest(req, ctx) {
      const r = await ownRequest(req, ctx);
      // One past its end is expired first, so its sink hears DURATION_EXPIRED, not DELETE_REQUESTED.
      if (r.status === 'AVAILABLE' && Date.now() >= r.endAt) await d.lifecycle.end(r.id, 'DURATION_EXPIRED', (cur) => cur.endAt === r.endAt);
      await d.lifecycle.delete((await d.requests.get(r.id)) ?? r);
      return { status: 204 };
    },
    async extendBandwidthRequest(req: ApiRequest<{ requestedAdditionalDuration: number }>, ctx) {
      const { reg, info } = await ownLine(req, ctx);
      const r = await ownRequest(req, ctx, reg);
      const plan = planLimits(ctx.principal!.plan);
      const max = plan.maxRequestDurationSeconds;
      for (let attempt = 0; attempt < 20; attempt++) {
        const cur = attempt === 0 ? r : await d.requests.get(r.id);
        if (!cur || cur.status !== 'AVAILABLE' || Date.now() >= cur.endAt) {
          throw new ApiError('DEDICATED_LINE.EXTENSION_NOT_ALLOWED', 'only an AVAILABLE bandwidth request can be extended');
        }
        // The overall duration is capped silently at the plan's maximum, as Quality on Demand caps at the profile's.
        const duration = Math.min(cur.duration + req.body.requestedAdditionalDuration, Math.max(max, cur.duration));
        const next = { ...cur, v: cur.v + 1, duration, endAt: cur.startAt + duration * 1000 };
        if (next.endAt === cur.endAt) return { status: 200, body: requestView(cur) };
        const cal = await d.requests.calendar(cur.lineId);
        const verdict = check(live(cal.bookings), { start: cur.endAt, end: next.endAt, mbps: cur.bandwidthMbps }, limitsOf(info, plan), cur.id);
        if (!verdict.fits) throw new ApiError('CONFLICT', `the extension does not fit: ${describeConflict(verdict.conflict)}`);
        const outcome = await d.requests.writeChecked(
          next,
          cur.v,
          [['HSET', d.requests.calendarKey(cur.lineId), cur.id, RequestStore.bookingValue(next)], ['INCR', d.requests.calendarVersionKey(cur.lineId)], d.lifecycle.schedule.op(cur.id, next.endAt)],
          0,
          [[d.requests.calendarVersionKey(cur.lineId), cal.version]],
        );
        if (outcome === 'written') {
          await d.lifecycle.schedule.settle(cur.id, next.endAt);
          return { status: 200, body: requestView(next) };
        }
      }
      throw new ApiError('ABORTED', 'the request changed concurrently; try again');
    },
    async assessBandwidthRequest(req: ApiRequest<BandwidthBody>, ctx) {
      const { info } = await ownLine(req, ctx);
      const plan = planLimits(ctx.principal!.plan);
      const now = Date.now();
      const window = windowOf(req.body, plan, now);
      if (window.immediate && !inService(info)) throw new ApiError('DEDICATED_LINE.LINE_NOT_IN_SERVICE', `line ${req.params.lineId} is out of service`);
      const limits = limitsOf(info, plan);
      const bookings = live((await d.requests.calendar(req.params.lineId)).bookings, now);
      const verdict = check(bookings, { start: window.start, end: window.end, mbps: req.body.bandwidthMbps }, limits);
      const horizon = now + plan.bookingHorizonDays * 86_400_000;
      const earliest = verdict.fits ? window.start : earliestStart(bookings, req.body.bandwidthMbps, req.body.duration * 1000, limits, window.start, horizon);
      const body: Record<string, unknown> = { fits: verdict.fits, startTime: new Date(window.start).toISOString() };
      if (earliest !== undefined) body.earliestStartTime = new Date(earliest).toISOString();
      if (verdict.fits) {
        body.message = 'the request fits';
      } else {
        const c = verdict.conflict;
        body.conflict = { from: new Date(c.from).toISOString(), to: new Date(c.to).toISOString(), limit: c.limit, limitMbps: c.limitMbps, requiredMbps: c.requiredMbps };
        body.message = `${describeConflict(c)}; ${earliest !== undefined ? `it would fit from ${new Date(earliest).toISOString()}` : 'it does not fit at any start within the booking horizon'}`;
      }
      return { status: 200, body };
    },
  };
}
