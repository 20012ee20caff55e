/**
 * A PCF simulator serving Npcf_PolicyAuthorization (TS 29.514, API v1) over h2c on 127.0.0.1, backed
 * by the bearer controller's HTTP/1.1 Subscriber and Bearer APIs, or by the controller itself when
 * both run in one process (`bearerController`). A gateway's N5 adapter talks to it exactly as to a
 * real PCF.
 *
 * ```ts
 * const pcf = await startPcf({ bearerControllerUrl: 'http://127.0.0.1:9101' });
 * // POST `${pcf.url}/npcf-policyauthorization/v1/app-sessions` ...
 * await pcf.stop();  // connections refused
 * await pcf.start(); // same port again
 * await pcf.close();
 * ```
 */
import { BearerClient, type BearerApi } from './bearer-client.ts';
import { listenForBearerEvents } from './bearer-events.ts';
import { FlowController } from './flows.ts';
import { PolicyAuthorization } from './handlers.ts';
import { errorText } from './log.ts';
import { LocalBearerApi, receiveBearerEventsLocally } from './local-bearers.ts';
import { Notifier } from './notifier.ts';
import { resolveOptions, type PcfOptions } from './options.ts';
import { PolicyEngine } from './policy.ts';
import { SbiServer } from './sbi-server.ts';
import { AppSessionStore, type AppSessionSnapshot } from './store.ts';
import { SessionBindings } from './session-bindings.ts';
import { TaskSet } from './tasks.ts';
import { RequestValidator } from './validate.ts';

export type { PcfOptions, QosReferenceEntry, PlanPolicy, CallbackProtocol } from './options.ts';
export { DEFAULT_QOS_REFERENCES, DEFAULT_PLANS } from './options.ts';
export type { AppSessionSnapshot } from './store.ts';
export type { LogEntry, PcfLogger } from './log.ts';

export interface PcfHandle {
  /** `http://127.0.0.1:PORT`, the apiRoot unless `apiRoot` was given. */
  readonly url: string;
  readonly port: number;
  /** Where the bearer controller must POST bearer events (`…/bearer-events`). */
  readonly bearerEventsUrl: string;
  /** `anchors:<dir>` when requests are validated against the 3GPP schemas, else `structural`. */
  readonly validation: string;
  /** Is the SBI listener accepting connections? */
  readonly running: boolean;
  /** Stops the SBI listener: new connections are refused, open ones are dropped. State is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** The app session contexts that exist now (for tests and operators; not part of TS 29.514). */
  appSessions(): AppSessionSnapshot[];
  /** Stops everything; idempotent, bounded in time even when a step fails. */
  close(): Promise<void>;
}

const CLOSE_STEP_MS = 3000;

export async function startPcf(options: PcfOptions): Promise<PcfHandle> {
  const o = resolveOptions(options);
  const log = o.log;
  const tasks = new TaskSet(o.timeScale, log);
  const store = new AppSessionStore();
  const local = o.bearerController ? new LocalBearerApi(o.bearerController.model) : undefined;
  const bearers: BearerApi = local ?? new BearerClient(o.bearerControllerUrl);
  // In one process with the controller, its UE table is read directly: nothing to keep, no feed.
  const bindings = local ? undefined : new SessionBindings({ baseUrl: o.bearerControllerUrl, lookup: (ipv4) => bearers.subscriberByIpv4(ipv4) });
  bindings?.start();
  const notifier = new Notifier({ log, tasks, attempts: Math.max(1, o.notifyAttempts), protocolOf: o.callbackProtocol });
  let eventsUrl = '';
  const flows = new FlowController({ store, bearers, notifier, tasks, log, bearerEventsUrl: () => eventsUrl });
  // The control routes call the handle built below (stop/start of the SBI listener).
  const control = { stop: () => handle.stop(), start: () => handle.start() };
  const listener = await listenForBearerEvents(o.bearerEventsPort, (token, event) => flows.onBearerEvent(token, event), control);
  eventsUrl = listener.baseUrl;
  // In one process with the controller, its events for our listener come straight here.
  const stopLocalEvents = o.bearerController ? receiveBearerEventsLocally(o.bearerController, eventsUrl, (token, event) => flows.onBearerEvent(token, event)) : () => {};

  let port = o.port;
  const validator = new RequestValidator(o.anchorsDir, log);
  const api = new PolicyAuthorization({
    store,
    validator,
    policy: new PolicyEngine(o.qosReferences, o.plans),
    flows,
    bindings: bindings ?? bearers,
    log,
    apiRoot: () => o.apiRoot ?? `http://127.0.0.1:${port}`,
    supportedFeatures: o.supportedFeatures,
  });
  const sbi = new SbiServer(api, log);
  try {
    port = await sbi.listen(port);
    if (o.startStopped) await sbi.stop();
  } catch (err) {
    stopLocalEvents();
    await listener.close();
    bindings?.close();
    bearers.close();
    throw err;
  }
  log({ level: 'info', msg: o.startStopped ? 'PCF ready (SBI listener stopped)' : 'PCF listening', url: `http://127.0.0.1:${port}`, bearerEvents: eventsUrl, bearerController: local ? `${o.bearerControllerUrl} (in this process)` : o.bearerControllerUrl });

  let closing: Promise<void> | undefined;
  let starting: Promise<unknown> | undefined;
  const steps: Array<[string, () => Promise<void> | void]> = [
    ['SBI listener', () => sbi.stop()],
    ['bearer event listener', async () => {
      stopLocalEvents();
      await listener.close();
    }],
    ['background work', () => tasks.close(CLOSE_STEP_MS)],
    ['AF connections', () => notifier.close()],
    ['session binding feed', () => bindings?.close()],
    ['bearer controller connections', () => bearers.close()],
  ];
  const handle: PcfHandle = {
    url: `http://127.0.0.1:${port}`,
    port,
    bearerEventsUrl: eventsUrl,
    validation: validator.mode,
    get running() {
      return sbi.listening;
    },
    async stop() {
      await sbi.stop();
      log({ level: 'info', msg: 'PCF SBI listener stopped', port });
    },
    async start() {
      if (closing) throw new Error('the PCF simulator is closed');
      if (sbi.listening) return;
      starting ??= sbi.listen(port).finally(() => (starting = undefined));
      await starting;
      log({ level: 'info', msg: 'PCF SBI listener started', port });
    },
    appSessions: () => store.snapshot(),
    close() {
      closing ??= (async () => {
        for (const [name, step] of steps) {
          try {
            await withDeadline(Promise.resolve().then(step), CLOSE_STEP_MS);
          } catch (err) {
            log({ level: 'warn', msg: `closing ${name} failed`, err: errorText(err) });
          }
        }
      })();
      return closing;
    },
  };
  return handle;
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
