/**
 * Delivers hub events with `POST {callback}`, off the request path: the API never waits for it.
 * Events about one resource go to one hub in order; 5xx, 429 or an unreachable listener are retried
 * with back-off, then the event is dropped and reported.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TmfEvent } from './types.ts';

export interface NotifierOptions {
  /** Attempts after the first one. @defaultValue 3 */
  retries: number;
  /** Wait before the first retry; doubles each time. @defaultValue 200 */
  retryDelayMs: number;
  /** Per attempt. @defaultValue 5000 */
  timeoutMs: number;
  /** Called when an event is given up. @defaultValue nothing */
  onDropped: (event: TmfEvent, url: string, reason: string) => void;
}

export const NOTIFIER_DEFAULTS: Readonly<NotifierOptions> = { retries: 3, retryDelayMs: 200, timeoutMs: 5000, onDropped: () => {} };

/** Kept-alive connections to the listeners. */
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** POSTs `body`; resolves with the status code, rejects when the listener cannot be reached. */
function post(url: string, body: string, inFlight: Set<ClientRequest>, timeoutMs: number): Promise<number> {
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

export class Notifier {
  private readonly options: NotifierOptions;
  /** The tail of each (hub, resource) delivery chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private abort = new AbortController();
  private readonly inFlight = new Set<ClientRequest>();

  constructor(options: Partial<NotifierOptions> = {}) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...NOTIFIER_DEFAULTS, ...given };
  }

  /** Queues `event` behind the earlier events of the same `chain` (hub and resource); returns at once. */
  send(chain: string, url: string, event: TmfEvent): void {
    const { signal } = this.abort;
    const previous = this.chains.get(chain) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(event, url, signal));
    this.chains.set(chain, next);
    void next.then(() => {
      if (this.chains.get(chain) === next) this.chains.delete(chain);
    });
  }

  /** Drops every queued and in-flight delivery. */
  cancelAll(): void {
    this.abort.abort();
    this.abort = new AbortController();
    for (const req of this.inFlight) req.destroy(new Error('cancelled'));
    this.inFlight.clear();
    this.chains.clear();
  }

  /** Number of chains with deliveries still under way. */
  get pending(): number {
    return this.chains.size;
  }

  private async deliver(event: TmfEvent, url: string, signal: AbortSignal): Promise<void> {
    const { retries, retryDelayMs, timeoutMs, onDropped } = this.options;
    const body = JSON.stringify(event);
    let reason = '';
    for (let attempt = 0; attempt <= retries && !signal.aborted; attempt++) {
      try {
        if (attempt > 0) await sleep(retryDelayMs * 2 ** (attempt - 1), undefined, { signal });
        const status = await post(url, body, this.inFlight, timeoutMs);
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
}
