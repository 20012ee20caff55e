import { QosRefusedError, type QosController, type QosFlowEventKind } from '../../../adapters/ports.ts';
import type { ProcessorMap, ProcessorContext } from '../../jobs/registry.ts';
import type { Limits } from '../../tenancy/limits.ts';
import { flowDescriptions } from './flows.ts';
import type { ProfileStore } from './profiles.ts';
import type { SessionRecord, SessionStore } from './sessions.ts';
import { CAPABILITY, type Lifecycle } from './lifecycle.ts';

export interface ProcessorDeps {
  sessions: SessionStore;
  profiles: ProfileStore;
  lifecycle: Lifecycle;
  limits: Limits;
  qos: QosController;
}

/** True on the job's last allowed attempt: the processor must settle the session instead of retrying. */
function lastAttempt(ctx: ProcessorContext): boolean {
  return ctx.attempt >= ctx.attemptsAllowed;
}

/**
 * The job processors of Quality on Demand. Delivery is at least once, so each is idempotent: it
 * re-reads the session, acts only on the state it expects, and a flow the network created for a
 * session that no longer wants it (deleted meanwhile, or a duplicate after a crash) is released.
 */
export function qodProcessors(d: ProcessorDeps): ProcessorMap {
  /** The session's own flow is released by its lifecycle (end, delete); any other flow is an orphan. */
  async function releaseIfOrphan(current: SessionRecord | undefined, networkRef: string): Promise<void> {
    if (current?.networkRef === networkRef) return;
    await d.qos.delete(networkRef);
  }

  /**
   * The record an activation in this process wrote last, for the flow's first event: the PCF
   * notifies the callback server of the process that created the flow, often before that process
   * has stored the flow on the session. The event then waits for the activation under way (a
   * round trip to Redis) instead of racing it for the record, and either way its handling starts
   * from the record written here rather than reading it again. Only a first guess: every write is
   * fenced on the version, so a record changed meanwhile costs one re-read, as any stale `known`
   * record does, and an orphan is recognised alike (a session's flow never changes).
   */
  const activating = new Map<string, { done: Promise<SessionRecord | undefined>; waited: boolean }>();
  /** Records stored by activations whose event has not come yet, oldest first, for at most a minute. */
  const justActivated = new Map<string, { s: SessionRecord; at: number }>();
  const JUST_ACTIVATED_MAX = 10_000;
  function remember(s: SessionRecord, now = Date.now()): void {
    for (const [id, e] of justActivated) {
      if (justActivated.size < JUST_ACTIVATED_MAX && now - e.at < 60_000) break;
      justActivated.delete(id);
    }
    justActivated.set(s.id, { s, at: now });
  }
  async function known(id: string): Promise<SessionRecord | undefined> {
    const under = activating.get(id);
    if (under) {
      under.waited = true;
      return await under.done;
    }
    const e = justActivated.get(id);
    justActivated.delete(id);
    return e?.s;
  }

  async function activate(sessionId: string, ctx: ProcessorContext): Promise<unknown> {
    const s = await d.sessions.get(sessionId);
    if (!s || s.status !== 'REQUESTED' || s.networkRef) return { skipped: s?.status ?? 'gone' };
    const profile = await d.profiles.get(s.qosProfile);
    // No profile any more, or a UE without a data session (detached: no address): nothing to ask the network for.
    if (!profile || (!s.ueIpv4 && !s.ueIpv6)) return { ended: !!(await d.lifecycle.end(sessionId, 'NETWORK_TERMINATED')) };
    let settle!: (written: SessionRecord | undefined) => void;
    const under = { done: new Promise<SessionRecord | undefined>((resolve) => (settle = resolve)), waited: false };
    activating.set(sessionId, under);
    let written: SessionRecord | undefined;
    try {
      let networkRef: string;
      try {
        ({ networkRef } = await d.qos.create({
          flowId: s.id,
          ueIpv4: s.ueIpv4,
          ueIpv6: s.ueIpv6,
          flowDescriptions: flowDescriptions(s, s.ueIpv4 ?? s.ueIpv6!).flat(),
          qos: profile.network,
        }));
      } catch (err) {
        if (err instanceof QosRefusedError || lastAttempt(ctx)) {
          ctx.log.warn({ sessionId, err: (err as Error).message }, 'network refused or unreachable; session ends');
          await d.lifecycle.end(sessionId, 'NETWORK_TERMINATED');
          return { refused: (err as Error).message };
        }
        throw err;
      }
      const stored = await d.sessions.update(sessionId, (cur) => (cur.status === 'REQUESTED' && !cur.networkRef ? { next: { ...cur, networkRef } } : undefined), s);
      written = stored?.after;
      if (!stored) await releaseIfOrphan(await d.sessions.get(sessionId), networkRef);
      return { networkRef };
    } finally {
      activating.delete(sessionId);
      settle(written);
      // An event that waited took the record already; otherwise it is kept for the event to come.
      if (written && !under.waited) remember(written);
    }
  }

  /**
   * Is the flow an event names nobody's? A session owns the flow it stored; one without a flow yet
   * adopts it only while REQUESTED (the event outran the activation). A session that ended first
   * never will: the flow comes from a create whose worker died before it could store or release it,
   * and nothing else would ever release it.
   */
  function orphaned(s: SessionRecord | undefined, networkRef: string): boolean {
    if (!s || s.status === 'DELETED') return true;
    return s.networkRef ? s.networkRef !== networkRef : s.status === 'UNAVAILABLE';
  }

  async function networkEvent(data: { flowId: string; kind: string; cause?: string; networkRef?: string }, ctx: ProcessorContext): Promise<unknown> {
    const s = (await known(data.flowId)) ?? (await d.sessions.get(data.flowId));
    if (data.networkRef && orphaned(s, data.networkRef)) {
      await releaseIfOrphan(s, data.networkRef);
      return { orphan: data.networkRef };
    }
    switch (data.kind as QosFlowEventKind) {
      case 'ALLOCATED':
        return { available: await d.lifecycle.available(data.flowId, data.networkRef, Date.now(), s) };
      case 'ALLOCATION_FAILED':
      case 'TERMINATED':
        return { ended: !!(await d.lifecycle.end(data.flowId, 'NETWORK_TERMINATED', undefined, Date.now(), s)) };
      default:
        // QOS_NOT_GUARANTEED / QOS_GUARANTEED have no CAMARA status; they are logged for operators.
        ctx.log.info({ sessionId: data.flowId, kind: data.kind, cause: data.cause }, 'qos flow event');
        return { logged: data.kind };
    }
  }

  return {
    'quality-on-demand.activate': (data, ctx) => activate(data.sessionId, ctx),
    'quality-on-demand.network-event': (data, ctx) => networkEvent(data, ctx),
    'quality-on-demand.expire': async (data) => ({
      expired: !!(await d.lifecycle.end(data.sessionId, 'DURATION_EXPIRED', (s) => s.status === 'AVAILABLE' && s.expiresAt === data.expiresAt)),
    }),
    'quality-on-demand.release': async (data) => {
      if (data.networkRef) await d.qos.delete(data.networkRef);
      const s = await d.sessions.get(data.sessionId);
      if (s?.status === 'DELETED') await d.sessions.remove(s.id);
      if (s) await d.limits.release(s.clientId, CAPABILITY, s.id);
      return { released: data.networkRef ?? null };
    },
  };
}
