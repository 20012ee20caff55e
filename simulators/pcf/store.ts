/**
 * The PCF's state: Individual Application Session Context resources (TS 29.514 §5.3.3) and, per media
 * component, the bearer(s) requested for it. In memory; a restarted simulator starts empty.
 */
import { randomUUID } from 'node:crypto';
import type { Subscriber } from './bearer-client.ts';
import type { AppSessionContext, AppSessionContextReqData, AppSessionContextRespData, Flows } from './n5-types.ts';
import type { AuthorisedDecision } from './policy.ts';

/** REQUESTING: POST /bearers not answered yet; then the bearer controller's states. */
export type BearerPhase = 'REQUESTING' | 'PENDING' | 'ESTABLISHED' | 'FAILED' | 'RELEASED';

/** One bearer this PCF asked for. `token` is in its notifyUrl, so events match it even before the 202. */
export interface BearerRef {
  token: string;
  sessionId: string;
  medCompN: number;
  decision: AuthorisedDecision;
  bearerId?: string;
  phase: BearerPhase;
  /** No longer wanted (context deleted, component removed, replaced): released as soon as its id is known. */
  abandoned: boolean;
}

/**
 * The bearer serving a media component. After an update changed its QoS, `next` is the replacement
 * being set up; it becomes `current` once ESTABLISHED (make before break).
 */
export interface MediaFlow {
  medCompN: number;
  current?: BearerRef;
  next?: BearerRef;
}

export interface AppSession {
  id: string;
  /** `{apiRoot}/npcf-policyauthorization/v1/app-sessions/{appSessionId}` */
  uri: string;
  ascReqData: AppSessionContextReqData;
  ascRespData: AppSessionContextRespData;
  subscriber: Subscriber;
  flows: Map<number, MediaFlow>;
  createdAt: string;
  deleted: boolean;
  /** Set once Npcf_PolicyAuthorization_Terminate was sent; it is sent once. */
  terminationRequested: boolean;
}

/** What tests and operators can see of a context (`PcfHandle.appSessions()`). */
export interface AppSessionSnapshot {
  appSessionId: string;
  uri: string;
  ueIpv4?: string;
  notifUri: string;
  createdAt: string;
  flows: Array<{ medCompN: number; fiveQi: number; bearerId?: string; phase: BearerPhase; replacing?: boolean }>;
}

export const LIVE_PHASES: ReadonlySet<BearerPhase> = new Set(['REQUESTING', 'PENDING', 'ESTABLISHED']);

/** The UE a context binds to: its address never changes over the context's life. */
const ueOf = (d: AppSessionContextReqData): string => `${d.ueIpv4 ?? ''}|${d.ueIpv6 ?? ''}`;

export class AppSessionStore {
  private readonly sessions = new Map<string, AppSession>();
  private readonly bearers = new Map<string, BearerRef>();
  /** Contexts by UE address, for the equivalence check of Create (a UE has a handful). */
  private readonly byUe = new Map<string, Set<AppSession>>();

  create(collectionUri: string, ascReqData: AppSessionContextReqData, ascRespData: AppSessionContextRespData, subscriber: Subscriber): AppSession {
    const id = randomUUID();
    const session: AppSession = {
      id,
      uri: `${collectionUri}/${id}`,
      ascReqData,
      ascRespData,
      subscriber,
      flows: new Map(),
      createdAt: new Date().toISOString(),
      deleted: false,
      terminationRequested: false,
    };
    this.sessions.set(id, session);
    let ofUe = this.byUe.get(ueOf(ascReqData));
    if (!ofUe) this.byUe.set(ueOf(ascReqData), (ofUe = new Set()));
    ofUe.add(session);
    return session;
  }

  /** The live contexts bound to the UE of `data`. */
  ofUe(data: AppSessionContextReqData): AppSession[] {
    return [...(this.byUe.get(ueOf(data)) ?? [])];
  }

  get(id: string): AppSession | undefined {
    return this.sessions.get(id);
  }

  remove(session: AppSession): void {
    session.deleted = true;
    this.sessions.delete(session.id);
    const ofUe = this.byUe.get(ueOf(session.ascReqData));
    ofUe?.delete(session);
    if (ofUe?.size === 0) this.byUe.delete(ueOf(session.ascReqData));
  }

  /** A new bearer request for a media component, registered under a fresh token. */
  newBearer(session: AppSession, decision: AuthorisedDecision): BearerRef {
    const ref: BearerRef = { token: randomUUID(), sessionId: session.id, medCompN: decision.medCompN, decision, phase: 'REQUESTING', abandoned: false };
    this.bearers.set(ref.token, ref);
    return ref;
  }

  bearer(token: string): BearerRef | undefined {
    return this.bearers.get(token);
  }

  /** Forgets a bearer whose story is over (released, failed, or deleted by us). */
  forgetBearer(ref: BearerRef): void {
    this.bearers.delete(ref.token);
  }

  snapshot(): AppSessionSnapshot[] {
    return [...this.sessions.values()].map((s) => ({
      appSessionId: s.id,
      uri: s.uri,
      ueIpv4: s.ascReqData.ueIpv4,
      notifUri: s.ascReqData.notifUri,
      createdAt: s.createdAt,
      flows: [...s.flows.values()].flatMap((f) =>
        [f.current, f.next]
          .filter((r): r is BearerRef => !!r)
          .map((r) => ({ medCompN: f.medCompN, fiveQi: r.decision.fiveQi, bearerId: r.bearerId, phase: r.phase, ...(r === f.next ? { replacing: true } : {}) })),
      ),
    }));
  }

  /** Every context, e.g. to release their bearers on shutdown. */
  all(): AppSession[] {
    return [...this.sessions.values()];
  }
}

/** The resource representation (GET, and the bodies of 201 and 200). */
export function contextOf(session: AppSession): AppSessionContext {
  return { ascReqData: session.ascReqData, ascRespData: session.ascRespData };
}

/** TS 29.514 Flows for a media component: its number and, when it has subcomponents, their fNums. */
export function flowsOf(ref: BearerRef): Flows[] {
  return [{ medCompN: ref.medCompN, ...(ref.decision.fNums.length ? { fNums: ref.decision.fNums } : {}) }];
}

/** Does any media component of the context still have (or is about to have) a bearer? */
export function hasLiveFlow(session: AppSession): boolean {
  return [...session.flows.values()].some((f) => [f.current, f.next].some((r) => r && LIVE_PHASES.has(r.phase)));
}
