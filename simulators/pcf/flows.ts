/**
 * What happens after the API answered: one bearer per media component is requested from the bearer
 * controller (standing in for PCC rule provisioning over N7, TS 29.514 §4.2.2.2 "the acknowledgement
 * towards the AF should take place before or in parallel with any required PCC rule provisioning"),
 * and the bearer controller's ESTABLISHED / FAILED / RELEASED events become AF notifications.
 */
import type { BearerApi, BearerEvent } from './bearer-client.ts';
import { errorText, type PcfLogger } from './log.ts';
import type { AfEvent, TerminationCause } from './n5-types.ts';
import type { Notifier } from './notifier.ts';
import type { AuthorisedDecision } from './policy.ts';
import { flowsOf, hasLiveFlow, type AppSession, type AppSessionStore, type BearerRef, type MediaFlow } from './store.ts';
import type { TaskSet } from './tasks.ts';

export interface FlowControllerDeps {
  store: AppSessionStore;
  bearers: BearerApi;
  notifier: Notifier;
  tasks: TaskSet;
  log: PcfLogger;
  /** Base of the notifyUrl handed to the bearer controller (the bearer-event listener). */
  bearerEventsUrl: () => string;
}

/** PCF → SMF → RAN policy provisioning latency, before `timeScale` (3gpp.md §5 step 3: 5–20 ms). */
const PROVISIONING_MS = 10;
const BEARER_REQUEST_ATTEMPTS = 3;

/**
 * TS 29.514 §4.2.5.3 / TerminationCause: why the last flow went away. Pre-emption, congestion and a
 * handover the target rejected are a lack of QoS flow resources; a detach ends the PDU session; radio
 * link or cell failure leaves the service data flows deactivated.
 */
export function terminationCauseOf(cause: string | undefined): TerminationCause {
  const c = (cause ?? '').toUpperCase();
  if (/PREEMPT|PRE-EMPT|CONGESTION|HANDOVER|INSUFFICIENT|RESOURCE/.test(c)) return 'INSUFFICIENT_QOS_FLOW_RESOURCES';
  if (/DETACH|NOT_ATTACHED|PDU_SESSION/.test(c)) return 'PDU_SESSION_TERMINATION';
  return 'ALL_SDF_DEACTIVATION';
}

export class FlowController {
  constructor(private readonly deps: FlowControllerDeps) {}

  /** After Npcf_PolicyAuthorization_Create: a bearer for each authorised media component. */
  admit(session: AppSession, decisions: AuthorisedDecision[]): void {
    for (const d of decisions) {
      const flow: MediaFlow = { medCompN: d.medCompN, current: this.deps.store.newBearer(session, d) };
      session.flows.set(d.medCompN, flow);
      this.request(session, flow.current!);
    }
  }

  /** After Npcf_PolicyAuthorization_Update: new components get a bearer, changed ones a replacement, removed ones lose theirs. */
  update(session: AppSession, decisions: AuthorisedDecision[]): void {
    const wanted = new Map(decisions.map((d) => [d.medCompN, d]));
    for (const [n, flow] of session.flows) {
      if (wanted.has(n)) continue;
      this.abandon(flow.current);
      this.abandon(flow.next);
      session.flows.delete(n);
    }
    for (const d of decisions) {
      const flow = session.flows.get(d.medCompN) ?? { medCompN: d.medCompN };
      session.flows.set(d.medCompN, flow);
      const latest = flow.next ?? flow.current;
      if (latest && sameQos(latest.decision, d) && latest.phase !== 'FAILED' && latest.phase !== 'RELEASED') continue;
      const ref = this.deps.store.newBearer(session, d);
      this.abandon(flow.next);
      flow.next = undefined;
      if (flow.current && flow.current.phase !== 'FAILED' && flow.current.phase !== 'RELEASED') flow.next = ref;
      else flow.current = ref;
      this.request(session, ref);
    }
  }

  /** After Npcf_PolicyAuthorization_Delete: every bearer of the context is released. */
  release(session: AppSession): void {
    for (const flow of session.flows.values()) {
      this.abandon(flow.current);
      this.abandon(flow.next);
    }
  }

  /** A bearer controller notification for the bearer registered under `token`. */
  onBearerEvent(token: string, event: BearerEvent): void {
    const { store, log } = this.deps;
    const ref = store.bearer(token);
    log({ level: 'debug', msg: 'bearer event', token, ...event, known: !!ref });
    if (!ref || ref.abandoned) {
      // Not (or no longer) wanted: an establishment is undone at once.
      if (event.event === 'ESTABLISHED') this.deleteBearer(event.bearerId);
      if (ref) store.forgetBearer(ref);
      return;
    }
    ref.bearerId ??= event.bearerId;
    const session = store.get(ref.sessionId);
    const flow = session?.flows.get(ref.medCompN);
    if (!session || !flow) return;
    if (event.event === 'ESTABLISHED') this.established(session, flow, ref);
    else this.lost(session, flow, ref, event);
  }

  private established(session: AppSession, flow: MediaFlow, ref: BearerRef): void {
    ref.phase = 'ESTABLISHED';
    if (flow.next === ref) {
      this.abandon(flow.current);
      flow.current = ref;
      flow.next = undefined;
    }
    this.resourceEvent(session, ref, 'SUCCESSFUL_RESOURCES_ALLOCATION');
  }

  /** FAILED (never established) or RELEASED (established, then lost). */
  private lost(session: AppSession, flow: MediaFlow, ref: BearerRef, event: BearerEvent): void {
    const wasEstablished = ref.phase === 'ESTABLISHED';
    ref.phase = event.event === 'RELEASED' ? 'RELEASED' : 'FAILED';
    this.deps.store.forgetBearer(ref);
    if (flow.next === ref) {
      // TS 29.512 §4.2.6.x: a PCC rule that cannot be modified is removed, so the old bearer goes too.
      this.abandon(flow.current);
      flow.current = ref;
      flow.next = undefined;
    } else if (flow.current !== ref) {
      return;
    }
    this.deps.log({ level: 'info', msg: `bearer ${event.event.toLowerCase()}`, appSessionId: session.id, medCompN: ref.medCompN, bearerId: ref.bearerId, cause: event.cause });
    if (wasEstablished && !hasLiveFlow(session)) this.requestTermination(session, terminationCauseOf(event.cause));
    else this.resourceEvent(session, ref, 'FAILED_RESOURCES_ALLOCATION');
  }

  /** TS 29.514 §4.2.5.2: only events the AF subscribed to are notified. */
  private resourceEvent(session: AppSession, ref: BearerRef, event: AfEvent): void {
    const subscription = session.subscription;
    if (session.deleted || !subscription?.events.has(event)) return;
    const flows = flowsOf(ref);
    const report = { mcResourcStatus: event === 'SUCCESSFUL_RESOURCES_ALLOCATION' ? ('ACTIVE' as const) : ('INACTIVE' as const), flows };
    this.deps.notifier.notify(session.id, subscription.notifUri, {
      evSubsUri: `${session.uri}/events-subscription`,
      evNotifs: [{ event, flows }],
      ...(event === 'SUCCESSFUL_RESOURCES_ALLOCATION' ? { succResourcAllocReports: [report] } : { failedResourcAllocReports: [report] }),
    });
  }

  /** TS 29.514 §4.2.5.3: no flow left → ask the AF to delete the context (it then POSTs .../delete). */
  private requestTermination(session: AppSession, termCause: TerminationCause): void {
    if (session.deleted || session.terminationRequested) return;
    session.terminationRequested = true;
    this.deps.log({ level: 'info', msg: 'requesting termination of the app session context', appSessionId: session.id, termCause });
    this.deps.notifier.terminate(session.id, session.notifUri, { termCause, resUri: session.uri });
  }

  /** POST /bearers in the background; a refusal or an unreachable controller is a failed allocation. */
  private request(session: AppSession, ref: BearerRef): void {
    const { tasks, bearers, log } = this.deps;
    const d = ref.decision;
    tasks.run(`bearer request for ${session.id}/${ref.medCompN}`, async () => {
      await tasks.sleep(PROVISIONING_MS);
      if (ref.abandoned) return this.deps.store.forgetBearer(ref);
      let failure: string | undefined;
      for (let attempt = 1; attempt <= BEARER_REQUEST_ATTEMPTS; attempt++) {
        try {
          const created = await bearers.createBearer({
            ueIpv4: session.boundIpv4,
            fiveQi: d.fiveQi,
            ...(d.gbrUl !== undefined ? { gbrUl: d.gbrUl, gbrDl: d.gbrDl } : {}),
            mbrUl: d.mbrUl,
            mbrDl: d.mbrDl,
            arp: d.arp,
            flowDescriptions: d.flowDescriptions,
            notifyUrl: `${this.deps.bearerEventsUrl()}/${ref.token}`,
          });
          if (created.accepted) return this.accepted(ref, created.bearerId);
          failure = created.reason;
          break;
        } catch (err) {
          failure = errorText(err);
          // Only a refused connection proves the request never arrived; anything else could duplicate a bearer.
          if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || attempt === BEARER_REQUEST_ATTEMPTS) break;
          await tasks.sleep(100 * attempt);
        }
      }
      log({ level: 'warn', msg: 'bearer request failed', appSessionId: session.id, medCompN: ref.medCompN, reason: failure });
      const flow = session.flows.get(ref.medCompN);
      if (flow && !ref.abandoned) this.lost(session, flow, ref, { bearerId: ref.bearerId ?? '', event: 'FAILED', cause: failure });
      else this.deps.store.forgetBearer(ref);
    });
  }

  private accepted(ref: BearerRef, bearerId: string): void {
    ref.bearerId = bearerId;
    if (ref.abandoned) {
      this.deleteBearer(bearerId);
      this.deps.store.forgetBearer(ref);
    } else if (ref.phase === 'REQUESTING') ref.phase = 'PENDING';
  }

  /** No longer wanted: release it now if its id is known, otherwise as soon as the 202 brings it. */
  private abandon(ref: BearerRef | undefined): void {
    if (!ref || ref.abandoned) return;
    ref.abandoned = true;
    if (ref.phase === 'REQUESTING' && !ref.bearerId) return; // request() finishes the job
    if (ref.phase !== 'FAILED' && ref.phase !== 'RELEASED' && ref.bearerId) this.deleteBearer(ref.bearerId);
    this.deps.store.forgetBearer(ref);
  }

  private deleteBearer(bearerId: string): void {
    const { tasks, bearers } = this.deps;
    tasks.run(`DELETE /bearers/${bearerId}`, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await bearers.deleteBearer(bearerId);
        } catch (err) {
          if (attempt >= 4) throw err;
          await tasks.sleep(200 * 2 ** (attempt - 1));
        }
      }
    });
  }
}

function sameQos(a: AuthorisedDecision, b: AuthorisedDecision): boolean {
  const key = (d: AuthorisedDecision) => JSON.stringify([d.fiveQi, d.arp, d.mbrUl, d.mbrDl, d.gbrUl, d.gbrDl, d.flowDescriptions]);
  return key(a) === key(b);
}
