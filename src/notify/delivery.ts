import http from 'node:http';
import https from 'node:https';
import { X_CORRELATOR_PATTERN } from '../http/middleware/x-correlator.ts';
import type { StoredEvent } from './types.ts';

/** A CloudEvents 1.0 event in structured JSON mode (CAMARA Event Subscription and Notification guide §3). */
export interface CloudEvent {
  id: string;
  source: string;
  type: string;
  specversion: '1.0';
  time: string;
  datacontenttype: 'application/json';
  data: unknown;
}

export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** What one attempt came to. */
export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  /** 410: the client asked us to stop sending to this sink (CAMARA: "410 GONE means stop sending"). */
  | { kind: 'gone'; status: number }
  /** Worth another attempt later; `retryAfterMs` when the sink said when (429/503 `Retry-After`). */
  | { kind: 'retry'; error: string; status?: number; retryAfterMs?: number }
  /** Retrying cannot help (the token expired, the sink is no longer allowed): straight to dead letter. */
  | { kind: 'fatal'; error: string };

export function cloudEvent(e: StoredEvent): CloudEvent {
  return { id: e.id, source: e.source, type: e.type, specversion: '1.0', time: e.time, datacontenttype: 'application/json', data: e.data };
}

/**
 * The delay a `Retry-After` header asks for (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or
 * undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Exponential back-off with jitter: attempt n waits `base × 2^(n-1)`, capped, of which a `jitter`
 * share is random so that many events failing together do not retry together.
 */
export function backoffMs(attempt: number, o: { baseDelayMs: number; maxDelayMs: number; jitter: number }, random = Math.random): number {
  const full = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full * (1 - o.jitter) + full * o.jitter * random());
}

/** Why a request failed, without anything secret (no headers, no bodies). */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no response within ${timeoutMs} ms`;
  if (e?.name === 'AbortError') return 'aborted (worker stopping)';
  return e?.cause?.code ?? e?.cause?.message ?? e?.code ?? e?.message ?? String(err);
}

/** Runs `fetch` bounded by a timeout and the job's signal, never following redirects. */
export async function boundedFetch(url: string, init: RequestInit, timeoutMs: number, signal: AbortSignal): Promise<Response> {
  return await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
}

/** Kept-alive connections to sinks (a client's events usually go to one endpoint). */
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };

/**
 * One POST over node:http(s), bounded by `timeoutMs` and `signal`; resolves with the status and the
 * Retry-After header, never follows redirects, reads and drops the body.
 */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<{ status: number; retryAfter: string | null }> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const req = (secure ? https : http).request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      agent: secure ? agents.https : agents.http,
    });
    const onAbort = () => req.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        done();
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
      });
      res.on('error', (err) => {
        done();
        reject(err);
      });
    });
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.end(body);
  });
}

/**
 * POSTs one CloudEvent to a sink and classifies the answer: 2xx delivered, 410 gone, anything else
 * (3xx included: redirects are never followed) worth retrying, honouring `Retry-After` on 429 and 503.
 */
export async function postEvent(
  event: StoredEvent,
  authorization: string | undefined,
  o: { timeoutMs: number; signal: AbortSignal },
): Promise<AttemptOutcome> {
  const headers: Record<string, string> = {
    'content-type': CLOUDEVENTS_JSON,
    // Standard Webhooks: the id stays the same on every retry so receivers can de-duplicate.
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
  };
  // Commonalities: notifications carry the x-correlator too; one that breaks its pattern is left out, not sent broken.
  if (event.correlator && X_CORRELATOR_PATTERN.test(event.correlator)) headers['x-correlator'] = event.correlator;
  if (authorization) headers.authorization = authorization;
  let res: { status: number; retryAfter: string | null };
  try {
    res = await post(event.sink, headers, JSON.stringify(cloudEvent(event)), o.timeoutMs, o.signal);
  } catch (err) {
    return { kind: 'retry', error: describeFetchError(err, o.timeoutMs) };
  }
  if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
  if (res.status === 410) return { kind: 'gone', status: 410 };
  const retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.retryAfter) : undefined;
  const error = res.status >= 300 && res.status < 400 ? `sink answered ${res.status} (redirects are not followed)` : `sink answered ${res.status}`;
  return { kind: 'retry', error, status: res.status, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
}
