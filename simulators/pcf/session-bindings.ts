/**
 * The PCF's session binding data (TS 29.513 §6.1.1.2): which subscriber holds a UE address. A real
 * PCF learns each binding when the SMF creates the PDU session's SM policy; this one asks the
 * bearer controller's Subscriber API (`GET /subscribers?ipv4=`) and keeps the answers while the
 * controller's change feed (`GET /subscribers/changes`, NDJSON) is open, dropping a UE's as soon as
 * the feed says the UE changed. With the feed closed (not served, or the controller gone), every
 * lookup asks the API, so an answer is never older than the feed says it may be.
 */
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { Subscriber } from './bearer-client.ts';
import type { SubscriberChange } from '../bearer-controller/types.ts';

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
    const req = http.request(`${this.o.baseUrl}/subscribers/changes`, { method: 'GET', agent: false, headers: { accept: 'application/x-ndjson' } });
    this.req = req;
    req.setTimeout(IDLE_MS, () => req.destroy(new Error('the feed went silent')));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy(new Error(`the feed answered ${res.statusCode}`));
        return;
      }
      // A broken response also ends the request, whose 'close' reopens the feed.
      createInterface({ input: res, crlfDelay: Infinity })
        .on('line', (line) => {
          if (line.trim() && !this.line(line)) req.destroy(new Error('the feed sent a line that is not JSON'));
        })
        .on('error', () => {});
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

  /** One line of the feed; false when it is not the feed's (the stream is then dropped). */
  private line(text: string): boolean {
    let change: SubscriberChange;
    try {
      change = JSON.parse(text) as SubscriberChange;
    } catch {
      return false;
    }
    if (change?.type === 'heartbeat') return true;
    if (change?.type === 'changed') {
      this.drop(change.msisdn, change.ipv4);
      return true;
    }
    // `subscribed` (the feed opened: anything may have changed while it was closed), `reset`, or a
    // kind of line this reader does not know: nothing kept can be trusted.
    this.forget();
    if (change?.type === 'subscribed') {
      this.retryMs = this.o.retryMs ?? 500;
      this.open = true;
    }
    return true;
  }

  /** A UE changed: whatever is kept under its address, or under the address its number had. */
  private drop(msisdn: unknown, ipv4: unknown): void {
    this.generation++;
    if (typeof ipv4 === 'string') this.byIpv4.delete(ipv4);
    if (typeof msisdn !== 'string') return;
    const before = this.byMsisdn.get(msisdn);
    if (before !== undefined) this.byIpv4.delete(before);
    this.byMsisdn.delete(msisdn);
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
