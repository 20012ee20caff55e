/**
 * The PCF's session binding data (TS 29.513 §6.1.1.2): which subscriber holds a UE address. A real
 * PCF learns each binding when the SMF creates the PDU session's SM policy; this one asks the
 * bearer controller's Subscriber API (`GET /subscribers?ipv4=`) and keeps the answers while the
 * controller's change feed (`GET /subscribers/changes`, NDJSON) is open, dropping a UE's as soon as
 * the feed says the UE changed. With the feed closed (not served, or the controller gone), every
 * lookup asks the API, so an answer is never older than the feed says it may be.
 */
import { ChangeFeedReader, type FeedChange } from '../../adapters/subscriber-api/change-feed.ts';
import type { Subscriber } from './bearer-client.ts';

export interface SessionBindingsOptions {
  /** The bearer controller's base URL. */
  baseUrl: string;
  /** Asks the Subscriber API (a miss, or the feed closed). */
  lookup: (ipv4: string) => Promise<Subscriber | undefined>;
  /** First wait before reopening the feed; doubles up to 30 s. @defaultValue 500 ms */
  retryMs?: number;
}

/** The binding data, kept while the change feed (read as the gateway reads it) is open. */
export class SessionBindings {
  private readonly byIpv4 = new Map<string, Subscriber>();
  /** The address each kept number was kept under. */
  private readonly byMsisdn = new Map<string, string>();
  /** Bumped by every change the feed reports: an answer asked for before a change is not kept. */
  private generation = 0;
  private open = false;
  private readonly feed: ChangeFeedReader;

  constructor(private readonly o: SessionBindingsOptions) {
    this.feed = new ChangeFeedReader({
      url: new URL(`${o.baseUrl}/subscribers/changes`),
      retryMs: o.retryMs,
      onChange: (change) => this.changed(change),
      onState: (open) => {
        this.open = open;
        this.forget();
      },
    });
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
    this.feed.start();
  }

  close(): void {
    this.feed.close();
    this.open = false;
    this.forget();
  }

  /** A UE changed: whatever is kept under its address, or under the address its number had. */
  private changed(change: FeedChange): void {
    if (change === 'all') return this.forget();
    this.generation++;
    if (change.ipv4 !== undefined) this.byIpv4.delete(change.ipv4);
    const before = this.byMsisdn.get(change.msisdn);
    if (before !== undefined) this.byIpv4.delete(before);
    this.byMsisdn.delete(change.msisdn);
  }

  private forget(): void {
    this.generation++;
    this.byIpv4.clear();
    this.byMsisdn.clear();
  }
}
