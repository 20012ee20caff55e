/**
 * The PCF's state: Individual Application Session Context resources (TS 29.514 §5.3.3) and, per media
 * component, the bearer(s) requested for it. In memory; a restarted simulator starts empty.
 */
import { randomUUID } from 'node:crypto';
import { hash32, Shared, sharedStrings } from '../common/shared.ts';
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

/** What the flows need of a context's event subscription (TS 29.514 §5.6.2.6 EventsSubscReqData). */
export interface Subscription {
  notifUri: string;
  /** The AfEvents subscribed to; one shared set for every context that subscribed the same ones. */
  events: ReadonlySet<string>;
}

/**
 * JSON.stringify and crypto.randomUUID return ropes of a few dozen pieces (a UUID is 16 hex
 * pairs and 4 dashes joined); converting one to a number (NaN here) flattens it in place, so
 * what a context keeps is one string rather than twenty.
 */
function flat(text: string): string {
  void Number(text);
  return text;
}

/** The AfEvents subscribed to, as sets: every context that subscribed the same ones shares one. */
const eventSets = new Shared<ReadonlySet<string>>((events) => [...events].join(','), (events) => new Set(events));
/** Notification URIs and UE addresses: the contexts of one AF, or of one UE, share theirs. */
const texts = sharedStrings(20_000);
/** Contexts with the same subscription (the same AF, the same events) share one. */
const subscriptions = new Shared<Subscription>((s) => `${s.notifUri} ${[...s.events].join(',')}`);

/** The subscription of `evSubsc`. */
function subscriptionOf(data: AppSessionContextReqData): Subscription | undefined {
  const evSubsc = data.evSubsc;
  if (!evSubsc?.notifUri) return undefined;
  const events = eventSets.of(new Set(evSubsc.events.map((e) => e.event).sort()));
  return subscriptions.of({ notifUri: texts.of(evSubsc.notifUri), events });
}

/**
 * An Individual Application Session Context. A PCF holds one per AF session, tens of thousands at
 * a time, so the request data is kept as its JSON text (one flat string rather than an object
 * graph of some thirty parts) beside the few fields the hot paths read; `reqData()` hands out a
 * fresh copy, and `setReqData()` replaces it.
 */
export class AppSession {
  readonly flows = new Map<number, MediaFlow>();
  readonly createdAt = Date.now();
  deleted = false;
  /** Set once Npcf_PolicyAuthorization_Terminate was sent; it is sent once. */
  terminationRequested = false;
  /** Where Npcf_PolicyAuthorization_Terminate goes (`ascReqData.notifUri`). */
  notifUri!: string;
  /** The UE address the context was created for; it never changes over the context's life. */
  readonly ueIpv4?: string;
  readonly ueIpv6?: string;
  subscription?: Subscription;
  /** The address bearers are set up for: the PDU session's, from the session binding. */
  boundIpv4: string;
  /** The hash of {@link mediaText}: the cheap first test of Create's equivalence check. */
  mediaHash = 0;
  private reqText!: string;

  constructor(
    readonly id: string,
    private readonly collectionUri: string,
    data: AppSessionContextReqData,
    readonly ascRespData: AppSessionContextRespData,
    boundIpv4: string,
  ) {
    this.ueIpv4 = data.ueIpv4 === undefined ? undefined : texts.of(data.ueIpv4);
    this.ueIpv6 = data.ueIpv6;
    this.boundIpv4 = texts.of(boundIpv4);
    this.setReqData(data);
  }

  /** `{apiRoot}/npcf-policyauthorization/v1/app-sessions/{appSessionId}` */
  get uri(): string {
    return `${this.collectionUri}/${this.id}`;
  }

  /** The context's ascReqData, a copy of its own. */
  reqData(): AppSessionContextReqData {
    return JSON.parse(this.reqText) as AppSessionContextReqData;
  }

  setReqData(data: AppSessionContextReqData): void {
    this.reqText = flat(JSON.stringify(data));
    this.notifUri = texts.of(data.notifUri);
    this.subscription = subscriptionOf(data);
    this.mediaHash = hash32(mediaText(data));
  }

  /** The UE key of {@link AppSessionStore}'s index. */
  get ue(): string {
    return ueOf(this);
  }
}

/** The medComponents of a context's request data as text, the form Create's equivalence check compares. */
export const mediaText = (data: AppSessionContextReqData): string => JSON.stringify(data.medComponents ?? null);

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
const ueOf = (d: { ueIpv4?: string; ueIpv6?: string }): string => `${d.ueIpv4 ?? ''}|${d.ueIpv6 ?? ''}`;

export class AppSessionStore {
  private readonly sessions = new Map<string, AppSession>();
  private readonly bearers = new Map<string, BearerRef>();
  /** Contexts by UE address, for the equivalence check of Create (a UE has a handful). */
  private readonly byUe = new Map<string, Set<AppSession>>();

  create(collectionUri: string, ascReqData: AppSessionContextReqData, ascRespData: AppSessionContextRespData, boundIpv4: string): AppSession {
    const session = new AppSession(flat(randomUUID()), collectionUri, ascReqData, ascRespData, boundIpv4);
    this.sessions.set(session.id, session);
    const ue = session.ue;
    let ofUe = this.byUe.get(ue);
    if (!ofUe) this.byUe.set(ue, (ofUe = new Set()));
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
    const ue = session.ue;
    const ofUe = this.byUe.get(ue);
    ofUe?.delete(session);
    if (ofUe?.size === 0) this.byUe.delete(ue);
  }

  /** A new bearer request for a media component, registered under a fresh token. */
  newBearer(session: AppSession, decision: AuthorisedDecision): BearerRef {
    // bearerId is set once the bearer controller answers; present from the start, so the object keeps its shape.
    const ref: BearerRef = { token: flat(randomUUID()), sessionId: session.id, medCompN: decision.medCompN, decision, bearerId: undefined, phase: 'REQUESTING', abandoned: false };
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
      ueIpv4: s.ueIpv4,
      notifUri: s.notifUri,
      createdAt: new Date(s.createdAt).toISOString(),
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
  return { ascReqData: session.reqData(), ascRespData: session.ascRespData };
}

/** TS 29.514 Flows for a media component: its number and, when it has subcomponents, their fNums. */
export function flowsOf(ref: BearerRef): Flows[] {
  return [{ medCompN: ref.medCompN, ...(ref.decision.fNums.length ? { fNums: [...ref.decision.fNums] } : {}) }];
}

/** Does any media component of the context still have (or is about to have) a bearer? */
export function hasLiveFlow(session: AppSession): boolean {
  return [...session.flows.values()].some((f) => [f.current, f.next].some((r) => r && LIVE_PHASES.has(r.phase)));
}
