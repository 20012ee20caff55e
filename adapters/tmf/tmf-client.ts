import { Pool } from 'undici';
import { DependencyUnavailableError } from '../ports.ts';

/** The OSS could not be reached, did not answer in time, or answered with a server error. */
export class OssUnavailableError extends DependencyUnavailableError {}

export interface TmfResponse {
  status: number;
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
}

/** Statuses that say "not now" rather than "no": the caller may try again later. */
const isTransient = (status: number) => status >= 500 || status === 429 || status === 408;

/**
 * JSON over kept-alive HTTP connections (undici) to the OSS's TM Forum APIs. Every request is
 * bounded by `timeoutMs` as a whole; transport failures and server errors become
 * OssUnavailableError, other statuses are returned for the caller to judge.
 */
export class TmfClient {
  /** The base URL's path, without a trailing slash, that every request's path follows. */
  private readonly prefix: string;
  private readonly pool: Pool;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    const base = new URL(baseUrl);
    this.prefix = base.pathname.replace(/\/$/, '');
    this.pool = new Pool(base.origin, { connections: 16, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
  }

  /** Sends a request; a caller's `signal` that fires rejects with its reason. */
  async request(method: 'GET' | 'POST' | 'DELETE', path: string, options: { body?: unknown; signal?: AbortSignal } = {}): Promise<TmfResponse> {
    const { body, signal } = options;
    signal?.throwIfAborted();
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const unavailable = (why: string, cause?: unknown) => {
      if (signal?.aborted) return signal.reason as Error;
      return new OssUnavailableError(`OSS ${method} ${path} ${deadline.aborted ? `timed out after ${this.timeoutMs} ms` : why}`, { cause });
    };
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({
        path: `${this.prefix}${path}`,
        method,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw unavailable(`failed: ${(err as Error).message}`, err);
    }
    if (isTransient(status)) throw unavailable(`answered ${status}`);
    if (text.trim() === '') return { status, body: undefined };
    try {
      return { status, body: JSON.parse(text) };
    } catch (err) {
      throw unavailable(`answered ${status} with a body that is not JSON`, err);
    }
  }

  /** Closes the kept-alive connections, cutting requests still under way. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
