/**
 * Delivers a simulator's events as JSON with `POST {url}`, off the request path: the API never waits
 * for it. Events under one key (a bearer; a hub and a resource) go out in order, and keys do not wait
 * for each other. 5xx, 429 or an unreachable listener are retried with back-off, then the event is
 * dropped and reported.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface NotifierOptions<Event> {
  /** Attempts after the first one. @defaultValue 3 */
  retries: number;
  /** Wait before the first retry; doubles each time. @defaultValue 200 */
  retryDelayMs: number;
  /** Per attempt. @defaultValue 5000 */
  timeoutMs: number;
  /** Kept-alive connections per listener. @defaultValue 32 */
  maxSockets: number;
  /** Called when an event is given up. @defaultValue nothing */
  onDropped: (event: Event, url: string, reason: string) => void;
}

/** The defaults of {@link NotifierOptions}, spread under the options given. */
export const NOTIFIER_DEFAULTS: Readonly<NotifierOptions<unknown>> = { retries: 3, retryDelayMs: 200, timeoutMs: 5000, maxSockets: 32, onDropped: () => {} };

/**
 * POSTs `body` and resolves with the status code; rejects when the listener cannot be reached.
 * The request joins `inFlight` until it ends, so a cancel can cut it (rather than each request
 * listening on one shared abort signal, which costs O(n) per request under load).
 */
function post(url: string, body: string, agent: Agent, inFlight: Set<ClientRequest>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    inFlight.add(req);
    req.on('close', () => inFlight.delete(req));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Retrying, per-key ordered JSON POSTs of `Event`s. */
export class Notifier<Event> {
  private readonly options: NotifierOptions<Event>;
  private readonly agent: Agent;
  /** The tail of each key's delivery chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private abort = new AbortController();
  private readonly inFlight = new Set<ClientRequest>();
  /** Listeners in this process, by the URL prefix their events go to (see {@link deliverLocally}). */
  private readonly locals = new Map<string, (url: string, event: Event) => void>();

  constructor(options: Partial<NotifierOptions<Event>> = {}) {
    // An option given as undefined keeps its default (callers pass their own optional settings through).
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...NOTIFIER_DEFAULTS, ...given };
    this.agent = new Agent({ keepAlive: true, maxSockets: this.options.maxSockets });
  }

  /** Queues `event` for `url` behind the earlier events of the same `key`; returns at once. */
  send(key: string, url: string, event: Event): void {
    const { signal } = this.abort;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(event, url, signal));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /**
   * Hands the events for URLs under `prefix` to `deliver` in this process instead of POSTing them:
   * for a listener that runs in the same process (the simulated network's PCF). They keep their
   * order per key and still arrive after `send` returns; a `deliver` that throws drops the event
   * as a refused POST would. Returns the function that undoes it.
   */
  deliverLocally(prefix: string, deliver: (url: string, event: Event) => void): () => void {
    this.locals.set(prefix, deliver);
    return () => {
      if (this.locals.get(prefix) === deliver) this.locals.delete(prefix);
    };
  }

  /** Drops every queued and in-flight delivery; later sends go out as usual (a model reset). */
  cancelAll(): void {
    this.abort.abort();
    this.abort = new AbortController();
    for (const req of this.inFlight) req.destroy(new Error('cancelled'));
    this.inFlight.clear();
    this.chains.clear();
  }

  /** Drops every delivery and the kept-alive connections; the notifier is not used again. */
  close(): void {
    this.cancelAll();
    this.agent.destroy();
  }

  /** Number of keys with deliveries still under way. */
  get pending(): number {
    return this.chains.size;
  }

  private async deliver(event: Event, url: string, signal: AbortSignal): Promise<void> {
    const { retries, retryDelayMs, timeoutMs, onDropped } = this.options;
    const local = this.localListener(url);
    if (local) {
      if (signal.aborted) return;
      try {
        local(url, event);
      } catch (err) {
        onDropped(event, url, (err as Error).message);
      }
      return;
    }
    const body = JSON.stringify(event);
    let reason = '';
    for (let attempt = 0; attempt <= retries && !signal.aborted; attempt++) {
      try {
        if (attempt > 0) await sleep(retryDelayMs * 2 ** (attempt - 1), undefined, { signal });
        const status = await post(url, body, this.agent, this.inFlight, timeoutMs);
        if (status < 300) return;
        reason = `HTTP ${status}`;
        // A 4xx will not change by asking again; 5xx and 429 may.
        if (status < 500 && status !== 429) break;
      } catch (err) {
        reason = (err as Error).message;
      }
    }
    if (!signal.aborted) onDropped(event, url, reason);
  }

  private localListener(url: string): ((url: string, event: Event) => void) | undefined {
    for (const [prefix, deliver] of this.locals) if (url.startsWith(prefix)) return deliver;
    return undefined;
  }
}
