/**
 * The Npcf_PolicyAuthorization operations (TS 29.514 §4.2, resources §5.3), one method each. They
 * validate, bind, authorise and write the context, then hand the bearer work to the FlowController;
 * none waits for the network.
 */
import { hash32, Shared } from '../common/shared.ts';
import type { Subscriber } from './bearer-client.ts';
import type { SessionBindings } from './session-bindings.ts';
import type { FlowController } from './flows.ts';
import { errorText, type PcfLogger } from './log.ts';
import { API_BASE, type AppSessionContextReqData, type AppSessionContextRespData, type EventsSubscReqData } from './n5-types.ts';
import type { PolicyEngine } from './policy.ts';
import { ProblemError } from './problem.ts';
import { contextOf, mediaText, type AppSession, type AppSessionStore } from './store.ts';
import type { RequestValidator } from './validate.ts';

/** The answers of Create, by negotiated features: every context with the same features shares one. */
const respDatas = new Shared<AppSessionContextRespData>((r) => String(r.suppFeat));

export interface N5Response {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface PolicyAuthorizationDeps {
  store: AppSessionStore;
  validator: RequestValidator;
  policy: PolicyEngine;
  flows: FlowController;
  bindings: Pick<SessionBindings, 'subscriberByIpv4'>;
  log: PcfLogger;
  apiRoot: () => string;
  supportedFeatures?: string;
}

/** The attributes of AppSessionContextUpdateData (TS 29.514 §5.6.2.x); a PATCH cannot touch others (ueIpv4, notifUri, ...). */
const UPDATABLE = new Set([
  'afAppId', 'afRoutReq', 'aspId', 'bdtRefId', 'evSubsc', 'mcpttId', 'mcVideoId', 'medComponents', 'mpsAction', 'mpsId', 'mcsId',
  'preemptControlInfo', 'resPrio', 'servInfStatus', 'sipForkInd', 'sponId', 'sponStatus', 'tsnBridgeManCont', 'tsnPortManContDstt', 'tsnPortManContNwtts',
]);

export class PolicyAuthorization {
  constructor(private readonly deps: PolicyAuthorizationDeps) {}

  private collection = { apiRoot: '', uri: '' };

  /** The collection's URI, one string that every context shares (the apiRoot is known once the server listens). */
  private get collectionUri(): string {
    const apiRoot = this.deps.apiRoot();
    if (this.collection.apiRoot !== apiRoot) this.collection = { apiRoot, uri: `${apiRoot}${API_BASE}/app-sessions` };
    return this.collection.uri;
  }

  /**
   * §4.2.2.2 Npcf_PolicyAuthorization_Create: POST /app-sessions → 201 + Location; 303 See Other
   * with the existing context's Location when the request is equivalent to a live context (same UE,
   * notification URI and media components), so an AF that retries after a crash gets no duplicate.
   */
  async create(body: unknown): Promise<N5Response> {
    const { validator, policy, store, flows, log } = this.deps;
    const data = structuredClone(validator.createRequest(body));
    const media = mediaText(data);
    const mediaHash = hash32(media);
    const same = store
      .ofUe(data)
      .find(
        (s) =>
          !s.deleted &&
          s.notifUri === data.notifUri &&
          s.ueIpv4 === data.ueIpv4 &&
          s.ueIpv6 === data.ueIpv6 &&
          s.mediaHash === mediaHash &&
          mediaText(s.reqData()) === media,
      );
    if (same) {
      log({ level: 'info', msg: 'equivalent app session context exists', appSessionId: same.id });
      return { status: 303, headers: { location: same.uri } };
    }
    const decisions = policy.decide(data);
    const subscriber = await this.bind(data);
    const authorised = policy.authorise(subscriber, decisions);
    const session = store.create(this.collectionUri, data, respDatas.of({ suppFeat: this.negotiate(data.suppFeat) }), subscriber.ipv4 ?? data.ueIpv4!);
    flows.admit(session, authorised);
    log({ level: 'info', msg: 'app session context created', appSessionId: session.id, ueIpv4: data.ueIpv4, msisdn: subscriber.msisdn, flows: authorised.map((d) => ({ medCompN: d.medCompN, fiveQi: d.fiveQi })) });
    // The context as stored is `data` itself (the store keeps its text): no need to read it back.
    return { status: 201, headers: { location: session.uri }, body: { ascReqData: data, ascRespData: session.ascRespData } };
  }

  /** §4.2.2 GET /app-sessions/{id} → 200 AppSessionContext. */
  get(id: string): N5Response {
    return { status: 200, body: contextOf(this.find(id)) };
  }

  /** §4.2.3 Npcf_PolicyAuthorization_Update: PATCH (JSON merge patch, RFC 7396) → 200 with the context. */
  async update(id: string, body: unknown): Promise<N5Response> {
    const { validator, policy, flows, log } = this.deps;
    const session = this.find(id);
    const changes = Object.fromEntries(Object.entries(validator.patchRequest(body).ascReqData ?? {}).filter(([k]) => UPDATABLE.has(k)));
    const merged = mergePatch(session.reqData(), changes) as AppSessionContextReqData;
    validator.updatedContext(merged);
    const decisions = policy.decide(merged);
    const subscriber = await this.bind(merged);
    const authorised = policy.authorise(subscriber, decisions);
    if (session.deleted) throw notFound(id);
    session.setReqData(merged);
    session.boundIpv4 = subscriber.ipv4 ?? merged.ueIpv4!;
    if ('medComponents' in changes || 'resPrio' in changes) flows.update(session, authorised);
    log({ level: 'info', msg: 'app session context updated', appSessionId: id, changed: Object.keys(changes) });
    return { status: 200, body: contextOf(session) };
  }

  /** §4.2.4 Npcf_PolicyAuthorization_Delete: POST .../delete → 204; the bearers are released. */
  delete(id: string, body: unknown): N5Response {
    const session = this.find(id);
    if (body !== undefined) this.deps.validator.eventsSubscription(body);
    this.deps.flows.release(session);
    this.deps.store.remove(session);
    this.deps.log({ level: 'info', msg: 'app session context deleted', appSessionId: id });
    return { status: 204 };
  }

  /** §4.2.6 Npcf_PolicyAuthorization_Subscribe: PUT .../events-subscription → 201 (created) or 200. */
  putEventsSubscription(id: string, body: unknown): N5Response {
    const session = this.find(id);
    const subscription: EventsSubscReqData = structuredClone(this.deps.validator.eventsSubscription(body));
    const data = session.reqData();
    const existed = data.evSubsc !== undefined;
    data.evSubsc = subscription;
    session.setReqData(data);
    if (existed) return { status: 200, body: subscription };
    return { status: 201, headers: { location: `${session.uri}/events-subscription` }, body: subscription };
  }

  /** §4.2.7 Npcf_PolicyAuthorization_Unsubscribe: DELETE .../events-subscription → 204. */
  deleteEventsSubscription(id: string): N5Response {
    const session = this.find(id);
    const data = session.reqData();
    delete data.evSubsc;
    session.setReqData(data);
    return { status: 204 };
  }

  /** TS 29.513 session binding by UE address (see session-bindings.ts); none → PDU_SESSION_NOT_AVAILABLE. */
  private async bind(data: AppSessionContextReqData): Promise<Subscriber> {
    if (!data.ueIpv4) throw new ProblemError('PDU_SESSION_NOT_AVAILABLE', 'this PCF binds IPv4 PDU sessions only (no ueIpv4 given)');
    let subscriber: Subscriber | undefined;
    try {
      subscriber = await this.deps.bindings.subscriberByIpv4(data.ueIpv4);
    } catch (err) {
      this.deps.log({ level: 'error', msg: 'subscriber lookup failed', ueIpv4: data.ueIpv4, err: errorText(err) });
      throw new ProblemError('SYSTEM_FAILURE', 'the PCF cannot reach its session binding data', { cause: err });
    }
    if (!subscriber || subscriber.attached === false || (subscriber.ipv4 !== undefined && subscriber.ipv4 !== data.ueIpv4)) {
      throw new ProblemError('PDU_SESSION_NOT_AVAILABLE', `no PDU session for UE address ${data.ueIpv4}`);
    }
    return subscriber;
  }

  /** TS 29.500 §6.6.2: the features both sides support (bitwise AND, hex, least significant last). */
  private negotiate(requested: string): string {
    const mine = this.deps.supportedFeatures;
    if (mine === undefined) return requested;
    const width = Math.max(requested.length, mine.length);
    const a = requested.padStart(width, '0');
    const b = mine.padStart(width, '0');
    const both = [...a].map((c, i) => (parseInt(c, 16) & parseInt(b[i], 16)).toString(16).toUpperCase()).join('');
    return both.replace(/^0+(?=.)/, '');
  }

  private find(id: string): AppSession {
    const session = this.deps.store.get(id);
    if (!session) throw notFound(id);
    return session;
  }
}

function notFound(id: string): ProblemError {
  return new ProblemError('APPLICATION_SESSION_CONTEXT_NOT_FOUND', `no app session context ${id}`);
}

/** RFC 7396 JSON Merge Patch: objects merge recursively, `null` removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
