import { LineOrderFailedError, type LineController, type LineEvent } from '../../../adapters/ports.ts';
import type { KeyBuilder, RedisClient } from '../../infra/redis.ts';
import type { Logger } from '../../infra/logger.ts';
import type { ProcessorContext, ProcessorMap } from '../../jobs/registry.ts';
import { inService, type LineRegistration, type LineStore } from './lines.ts';
import { active, type BandwidthRequestRecord } from './requests.ts';
import { dueTime, type BandwidthLifecycle } from './lifecycle.ts';

export interface ProcessorDeps {
  lifecycle: BandwidthLifecycle;
  lines: LineStore;
  controller: LineController;
  redis: RedisClient;
  key: KeyBuilder;
  /** How long a sync may hold a line before another may take it over. @defaultValue 5 min */
  lockMs?: number;
}

// Takes the line's lock for `token` (a job id), or keeps it when that job already holds it (its
// earlier attempt died). KEYS[1] lock; ARGV token, ms. Returns 1 held, 0 someone else's.
const LOCK = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// Clears a line's dirty mark if it was set before the sync's pass began. KEYS[1] dirty; ARGV line, since.
const CLEAN = `
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The requests whose window holds `now`: what the line must carry on top of its committed bandwidth. */
function inWindow(rs: BandwidthRequestRecord[], now: number): BandwidthRequestRecord[] {
  return rs.filter((r) => active(r) && r.startAt <= now && now < r.endAt);
}

/**
 * The job processors of the dedicated line. A line's bandwidth is level-triggered: every change
 * (a start, an end, a delete, the line back in service) asks for a sync, and the sync brings the
 * line from whatever it carries to what the requests in force want, with one TMF641 order. Syncs
 * of one line never overlap (a lock per line); one that finds the lock taken leaves its
 * generation to the holder, which runs again until the generation stops moving.
 */
export function lineProcessors(d: ProcessorDeps): { processors: ProcessorMap; onLineEvent(e: LineEvent, log: Logger): Promise<void> } {
  const { lifecycle, redis } = d;
  const requests = lifecycle.requests;
  redis.defineCommand('egDlLock', { numberOfKeys: 1, lua: LOCK });
  redis.defineCommand('egDlUnlock', { numberOfKeys: 1, lua: UNLOCK });
  redis.defineCommand('egDlClean', { numberOfKeys: 1, lua: CLEAN });
  const run = redis as unknown as {
    egDlLock(...a: Array<string | number>): Promise<number>;
    egDlUnlock(...a: string[]): Promise<number>;
    egDlClean(...a: Array<string | number>): Promise<number>;
  };
  const lockKey = (lineId: string) => d.key('dl', 'lock', lineId);

  /** Ends the requests that were waiting for the line to change, when it will not. */
  async function endWaiting(waiting: BandwidthRequestRecord[], why: string, log: Logger): Promise<void> {
    for (const r of waiting) {
      log.warn({ requestId: r.id, lineId: r.lineId, why }, 'bandwidth request not carried out');
      await lifecycle.end(r.id, 'NETWORK_TERMINATED', (cur) => cur.status !== 'AVAILABLE');
    }
  }

  /** One pass: read the line and its requests, order the difference, settle the waiting requests. */
  async function apply(reg: LineRegistration, generation: string, ctx: ProcessorContext): Promise<unknown> {
    const info = await d.controller.line(reg.serviceId);
    const now = Date.now();
    const wanted = inWindow(await requests.getMany(await requests.activeIds(reg.lineId)), now);
    const waiting = wanted.filter((r) => r.status !== 'AVAILABLE');
    if (!info || !inService(info)) {
      await endWaiting(waiting, info ? 'line out of service' : 'line not in the inventory', ctx.log);
      return { line: info?.state ?? 'unknown' };
    }
    const target = info.committedMbps + wanted.reduce((sum, r) => sum + r.bandwidthMbps, 0);
    let orderId: string | undefined;
    if (target !== info.bandwidthMbps) {
      try {
        ({ orderId } = await d.controller.setBandwidth(reg.serviceId, target, `${reg.lineId}:${generation}:${target}`, ctx.signal));
      } catch (err) {
        if (err instanceof LineOrderFailedError) {
          await endWaiting(waiting, `order ${err.orderId ?? ''} ${err.state}: ${err.message}`, ctx.log);
          return { failed: err.state };
        }
        if (ctx.attempt >= ctx.attemptsAllowed) await endWaiting(waiting, (err as Error).message, ctx.log);
        throw err;
      }
    }
    for (const r of waiting) await lifecycle.available(r.id, Date.now());
    return { bandwidthMbps: target, orderId };
  }

  async function sync(lineId: string, ctx: ProcessorContext): Promise<unknown> {
    const reg = await d.lines.get(lineId);
    if (!reg) {
      // Unregistered meanwhile: nothing of ours is left on it to keep in line.
      await redis.zrem(lifecycle.dirtyKey, lineId);
      return { skipped: 'line not registered' };
    }
    const genKey = lifecycle.generationKey(lineId);
    let last: unknown;
    for (let pass = 0; pass < 20; pass++) {
      if ((await run.egDlLock(lockKey(lineId), ctx.jobId, d.lockMs ?? 300_000)) !== 1) return { busy: true };
      const passStart = Date.now();
      const generation = (await redis.get(genKey)) ?? '0';
      try {
        last = await apply(reg, generation, ctx);
      } finally {
        await run.egDlUnlock(lockKey(lineId), ctx.jobId);
      }
      // Checked after the lock is released: a sync that found it taken meanwhile left its change to us.
      if (((await redis.get(genKey)) ?? '0') === generation) {
        await run.egDlClean(lifecycle.dirtyKey, lineId, passStart);
        return last;
      }
    }
    // Still moving after many passes: leave the rest to a fresh job rather than hold the worker.
    await lifecycle.requestSync(lineId);
    return last;
  }

  async function timer(requestId: string, at: number): Promise<unknown> {
    const r = await requests.get(requestId);
    if (!r || dueTime(r) !== at) return { stale: true };
    if (!r.started) {
      await lifecycle.start(r);
      return { started: true };
    }
    const statusInfo = r.status === 'AVAILABLE' ? 'DURATION_EXPIRED' : 'NETWORK_TERMINATED';
    return { ended: !!(await lifecycle.end(requestId, statusInfo, (cur) => cur.endAt === at, Date.now(), r)) };
  }

  /** A line went down or came back (TMF638 events through the adapter). */
  async function onLineEvent(e: LineEvent, log: Logger): Promise<void> {
    const reg = await d.lines.byService(e.serviceId);
    if (!reg) return;
    if (e.kind === 'DOWN') {
      const rs = await requests.getMany(await requests.activeIds(reg.lineId));
      for (const r of rs.filter((x) => x.status === 'AVAILABLE')) await lifecycle.end(r.id, 'NETWORK_TERMINATED', (cur) => cur.status === 'AVAILABLE');
      log.warn({ lineId: reg.lineId }, 'line out of service; its boosts in force ended');
    } else if (e.kind === 'UP') {
      await lifecycle.requestSync(reg.lineId);
      log.info({ lineId: reg.lineId }, 'line back in service');
    }
  }

  return {
    processors: {
      'dedicated-line.timer': (data) => timer(data.requestId, data.at),
      'dedicated-line.sync': (data, ctx) => sync(data.lineId, ctx),
    },
    onLineEvent,
  };
}
