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
   * Sessions this process has just given their flow, until the flow's first event comes back (the
   * PCF notifies the callback server of the process that created the flow): handling it then
   * starts from the record written here instead of reading it again. Only a first guess: every
   * write is fenced on the version, so a record changed meanwhile costs one re-read, as any stale
   * `known` record does, and an orphan is recognised alike (a session's flow never changes).
   */
  const justActivated = new Map<string, SessionRecord>();
  const JUST_ACTIVATED_MAX = 10_000;
  function remember(s: SessionRecord): void {
    if (justActivated.size >= JUST_ACTIVATED_MAX) justActivated.delete(justActivated.keys().next().value!);
    justActivated.set(s.id, s);
  }
  function recall(id: string): SessionRecord | undefined {
    const s = justActivated.get(id);
    justActivated.delete(id);
    return s;
  }

  async function activate(sessionId: string, ctx: ProcessorContext): Promise<unknown> {
    const s = await d.sessions.get(sessionId);
    if (!s || s.status !== 'REQUESTED' || s.networkRef) return { skipped: s?.status ?? 'gone' };
    const profile = await d.profiles.get(s.qosProfile);
    // No profile any more, or a UE without a data session (detached: no address): nothing to ask the network for.
    if (!profile || (!s.ueIpv4 && !s.ueIpv6)) return { ended: !!(await d.lifecycle.end(sessionId, 'NETWORK_TERMINATED')) };
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
    if (stored) remember(stored.after);
    else await releaseIfOrphan(await d.sessions.get(sessionId), networkRef);
    return { networkRef };
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
    const s = recall(data.flowId) ?? (await d.sessions.get(data.flowId));
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
