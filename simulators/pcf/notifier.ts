/**
 * PCF → AF requests: Npcf_PolicyAuthorization_Notify (`POST {evSubsc.notifUri}/notify`, TS 29.514
 * §5.5.2) and Npcf_PolicyAuthorization_Terminate (`POST {ascReqData.notifUri}/terminate`, §5.5.3).
 * Delivered in the background, in order per app session, over h2c with prior knowledge (or HTTP/1.1,
 * see `callbackProtocol`), retried with exponential back-off while the AF is unreachable or answers
 * 5xx/408/429, following one 307/308 redirect per attempt (TS 29.500 §6.10.9).
 */
import http2 from 'node:http2';
import '../../src/infra/async-resource-bind.ts';
import { requestJson } from './http1.ts';
import { errorText, type PcfLogger } from './log.ts';
import type { EventsNotification, TerminationInfo } from './n5-types.ts';
import type { CallbackProtocol } from './options.ts';
import type { TaskSet } from './tasks.ts';

export interface NotifierOptions {
  log: PcfLogger;
  tasks: TaskSet;
  /** Attempts per notification, the first included. */
  attempts: number;
  protocolOf: (uri: URL) => CallbackProtocol;
}

/** Back-off before attempt n+1, in ms before `timeScale`: 250, 500, 1000, 2000, … */
const BACKOFF_MS = 250;
const REQUEST_TIMEOUT_MS = 5000;

interface Answer {
  status: number;
  location?: string;
}

export class Notifier {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  constructor(private readonly options: NotifierOptions) {}

  /** `POST {notifUri}/notify` with an EventsNotification. */
  notify(appSessionId: string, notifUri: string, body: EventsNotification): void {
    this.enqueue(appSessionId, joinUri(notifUri, 'notify'), body);
  }

  /** `POST {notifUri}/terminate` with a TerminationInfo. */
  terminate(appSessionId: string, notifUri: string, body: TerminationInfo): void {
    this.enqueue(appSessionId, joinUri(notifUri, 'terminate'), body);
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  private enqueue(appSessionId: string, url: string, body: object): void {
    const previous = this.chains.get(appSessionId) ?? Promise.resolve();
    // deliver() never rejects except with ClosedError; the chain must survive either way.
    const next = previous.then(() => this.deliver(url, body)).catch(() => undefined);
    const tracked = next.finally(() => {
      if (this.chains.get(appSessionId) === tracked) this.chains.delete(appSessionId);
    });
    this.chains.set(appSessionId, tracked);
    this.options.tasks.run(`notification to ${url}`, () => tracked);
  }

  private async deliver(url: string, body: object): Promise<void> {
    const { attempts, log, tasks } = this.options;
    let target = url;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let outcome: string;
      try {
        const answer = await this.post(target, JSON.stringify(body));
        if (answer.status >= 200 && answer.status < 300) {
          log({ level: 'debug', msg: 'notification delivered', url: target, status: answer.status, attempt });
          return;
        }
        if ((answer.status === 307 || answer.status === 308) && answer.location) {
          target = new URL(answer.location, target).toString();
          outcome = `redirected to ${target}`;
        } else if (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
          log({ level: 'warn', msg: 'notification refused by the AF; not retried', url: target, status: answer.status });
          return;
        } else {
          outcome = `HTTP ${answer.status}`;
        }
      } catch (err) {
        outcome = errorText(err);
      }
      if (attempt === attempts) {
        log({ level: 'warn', msg: 'notification dropped after the last attempt', url: target, attempts, outcome });
        return;
      }
      log({ level: 'info', msg: 'notification not delivered; will retry', url: target, attempt, outcome });
      await tasks.sleep(BACKOFF_MS * 2 ** (attempt - 1));
    }
  }

  private async post(url: string, payload: string): Promise<Answer> {
    const uri = new URL(url);
    if (this.options.protocolOf(uri) === 'http1') {
      const res = await requestJson('POST', url, JSON.parse(payload), { timeoutMs: REQUEST_TIMEOUT_MS });
      return { status: res.status, location: res.headers.location };
    }
    return this.h2Post(uri, payload);
  }

  private h2Post(uri: URL, payload: string): Promise<Answer> {
    const session = this.sessionFor(uri.origin);
    return new Promise<Answer>((resolve, reject) => {
      let answer: Answer | undefined;
      const req = session.request({
        ':method': 'POST',
        ':path': uri.pathname + uri.search,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        accept: 'application/json, application/problem+json',
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.close(http2.constants.NGHTTP2_CANCEL));
      req.on('response', (headers) => {
        const location = headers.location;
        answer = { status: Number(headers[':status']), location: Array.isArray(location) ? location[0] : location };
      });
      req.on('error', reject);
      req.resume(); // the body of the answer is not needed
      req.on('close', () => (answer ? resolve(answer) : reject(new Error(`stream closed without a response (code ${req.rstCode})`))));
      req.end(payload);
    });
  }

  /** One h2c session per AF origin, reused; a failed or closed one is replaced on next use. */
  private sessionFor(origin: string): http2.ClientHttp2Session {
    const known = this.sessions.get(origin);
    if (known && !known.closed && !known.destroyed) return known;
    const session = http2.connect(origin);
    const forget = () => {
      if (this.sessions.get(origin) === session) this.sessions.delete(origin);
    };
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    session.setTimeout(30_000, () => session.close());
    session.unref();
    this.sessions.set(origin, session);
    return session;
  }
}

/** `{notifUri}/notify`, with exactly one slash between the two. */
function joinUri(base: string, segment: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${segment}`;
  return u.toString();
}
