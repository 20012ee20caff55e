/**
 * The PCF's session binding data (TS 29.513 §6.1.1.2): which subscriber holds a UE address. A real
 * PCF learns each binding when the SMF creates the PDU session's SM policy; this one asks the
 * bearer controller's Subscriber API (`GET /subscribers?ipv4=`) and keeps the answers while the
 * controller's change feed (`GET /subscribers/changes`, NDJSON) is open, dropping a UE's as soon as
 * the feed says the UE changed. With the feed closed (not served, or the controller gone), every
 * lookup asks the API, so an answer is never older than the feed says it may be.
 */
import http from 'node:http';
import type { Subscriber } from './bearer-client.ts';

/** Lines longer than this are not the feed's: the stream is dropped. */
const MAX_LINE = 16 * 1024;
/** A feed silent this long is taken for dead (the controller's heartbeat is every 15 s). */
const IDLE_MS = 45_000;

export interface SessionBindingsOptions {
  /** The bearer controller's base URL. */
  baseUrl: string;
  /** Asks the Subscriber API (a miss, or the feed closed). */
  lookup: (ipv4: string) => Promise<Subscriber | undefined>;
  /** First wait before reopening the feed; doubles up to 30 s. @defaultValue 500 ms */
  retryMs?: number;
}

export class SessionBindings {
  private readonly byIpv4 = new Map<string, Subscriber>();
  /** The address each kept number was kept under. */
  private readonly byMsisdn = new Map<string, string>();
  /** Bumped by every change the feed reports: an answer asked for before a change is not kept. */
  private generation = 0;
  private open = false;
  private closed = false;
  private req?: http.ClientRequest;
  private retryTimer?: NodeJS.Timeout;
  private retryMs: number;

  constructor(private readonly o: SessionBindingsOptions) {
    this.retryMs = o.retryMs ?? 500;
  }

  /** True while answers are kept (the feed is open). */
  get following(): boolean {
    return this.open;
  }

  /** The subscriber holding `ipv4`, or undefined when the controller knows none. */
  async subscriberByIpv4(ipv4: string): Promise<Subscriber | undefined> {
    if (this.open) {
      const kept = this.byIpv4.get(ipv4);
      if (kept) return kept;
    }
    const generation = this.generation;
    const subscriber = await this.o.lookup(ipv4);
    if (subscriber && this.open && generation === this.generation) {
      this.byIpv4.set(ipv4, subscriber);
      this.byMsisdn.set(subscriber.msisdn, ipv4);
    }
    return subscriber;
  }

  /** Opens the feed (and keeps reopening it until {@link close}). */
  start(): void {
    if (this.closed || this.req) return;
    let buffered = '';
    const req = http.request(`${this.o.baseUrl}/subscribers/changes`, { method: 'GET', agent: false, headers: { accept: 'application/x-ndjson' } });
    this.req = req;
    req.setTimeout(IDLE_MS, () => req.destroy(new Error('the feed went silent')));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy(new Error(`the feed answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) this.line(line, req);
        }
        if (buffered.length > MAX_LINE) req.destroy(new Error('the feed sent a line too long'));
      });
      res.on('end', () => req.destroy(new Error('the feed ended')));
    });
    req.on('error', () => this.lost(req));
    req.on('close', () => this.lost(req));
    req.end();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.req?.destroy();
    this.forget();
  }

  private line(text: string, req: http.ClientRequest): void {
    let change: { type?: unknown; msisdn?: unknown; ipv4?: unknown };
    try {
      change = JSON.parse(text);
    } catch {
      req.destroy(new Error('the feed sent a line that is not JSON'));
      return;
    }
    switch (change?.type) {
      case 'subscribed':
        // Anything may have changed while the feed was closed.
        this.forget();
        this.retryMs = this.o.retryMs ?? 500;
        this.open = true;
        return;
      case 'changed':
        this.generation++;
        if (typeof change.ipv4 === 'string') this.byIpv4.delete(change.ipv4);
        // The number may have been kept under another address.
        if (typeof change.msisdn === 'string') {
          const before = this.byMsisdn.get(change.msisdn);
          if (before !== undefined) this.byIpv4.delete(before);
          this.byMsisdn.delete(change.msisdn);
        }
        return;
      case 'heartbeat':
        return;
      default:
        // `reset`, or a kind of line this reader does not know: anything may have changed.
        this.forget();
    }
  }

  private forget(): void {
    this.generation++;
    this.byIpv4.clear();
    this.byMsisdn.clear();
  }

  private lost(req: http.ClientRequest): void {
    if (this.req !== req) return;
    this.req = undefined;
    this.open = false;
    this.forget();
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.start(), this.retryMs).unref();
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }
}
