import { Pool, type Dispatcher } from 'undici';
import { ChangeFeedReader, type FeedChange } from './change-feed.ts';
import { DependencyUnavailableError, type AddressResolver, type SimHistory, type SimInfo, type Subscriber, type SubscriberIdentity } from '../ports.ts';

interface SubscriberDocument {
  msisdn: string;
  ipv4?: string;
  ipv6Prefix?: string;
  qosEligible: boolean;
  attached: boolean;
}

/** The subscriber API could not be reached, or answered with a server error. */
export class IdentityUnavailableError extends DependencyUnavailableError {}

export interface SubscriberApiOptions {
  /** @defaultValue 3000 */
  timeoutMs?: number;
  /**
   * Keep the API's answers while its change feed (`GET /subscribers/changes`) is open and says
   * nothing changed them. @defaultValue true
   */
  changeFeed?: boolean;
  /** Answers kept at most (the oldest go first). @defaultValue 100 000 */
  maxCached?: number;
  /** Hears when the feed opens and closes. */
  onFeedState?(open: boolean, why?: string): void;
}

/** A 404 kept in the cache: nobody holds that number or address. */
const NOBODY = null;

/**
 * Subscriber identity from the network's subscriber API (`GET /subscribers/{msisdn}`,
 * `GET /subscribers?ipv4=`): the UE table of the packet core, as the simulated network serves it.
 *
 * While the API's change feed is open, answers are kept and served from memory until the feed
 * says the subscriber changed: the devices' lookups (one-click login identifies the device at
 * issuance and checks it again at exchange; QoD resolves the same numbers again and again) then
 * cost no round trip. A kept answer is exactly as fresh as the feed, which announces a change
 * before the network acknowledges what caused it; an answer that was under way while anything
 * changed is not kept; without an open feed nothing is kept and every lookup asks the API.
 */
export class SubscriberApiIdentity implements SubscriberIdentity, AddressResolver, SimHistory {
  /** The base URL's path, without a trailing slash, that every lookup's path follows. */
  private readonly prefix: string;
  /**
   * Kept-alive connections (undici): a lookup is on the path of every call that names or
   * identifies a device, and undici's client costs a fraction of node:http's per request.
   */
  private readonly pool: Pool;
  private readonly feed?: ChangeFeedReader;
  private feedOpen = false;
  /** Kept answers by request path: a document, or {@link NOBODY} for a 404. */
  private readonly cache = new Map<string, unknown>();
  /** Counts changes heard: an answer is kept only if none came while it was under way. */
  private generation = 0;
  private readonly maxCached: number;
  /** Lookups answered from memory and from the API, since start. */
  readonly stats = { cached: 0, asked: 0 };

  constructor(baseUrl: string, options: SubscriberApiOptions = {}) {
    const base = new URL(baseUrl);
    const timeoutMs = options.timeoutMs ?? 3000;
    this.prefix = base.pathname.replace(/\/$/, '');
    this.pool = new Pool(base.origin, { connections: 64, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
    this.maxCached = options.maxCached ?? 100_000;
    if (options.changeFeed !== false) {
      this.feed = new ChangeFeedReader({
        url: new URL(`${base.origin}${this.prefix}/subscribers/changes`),
        onChange: (change) => this.forget(change),
        onState: (open, why) => {
          this.feedOpen = open;
          this.forget('all');
          options.onFeedState?.(open, why);
        },
      });
      this.feed.start();
    }
  }

  /** Whether answers are being kept (the change feed is open). */
  get cachingAnswers(): boolean {
    return this.feedOpen;
  }

  private forget(change: FeedChange): void {
    this.generation++;
    if (change === 'all') {
      this.cache.clear();
      return;
    }
    const number = encodeURIComponent(change.msisdn);
    this.cache.delete(`/subscribers/${number}`);
    this.cache.delete(`/subscribers/${number}/sim`);
    if (change.ipv4) this.cache.delete(`/subscribers?ipv4=${encodeURIComponent(change.ipv4)}`);
  }

  /** A kept answer (undefined for a 404), or the API's, kept if the feed was open throughout. */
  private async lookup<T>(path: string, keep = true): Promise<T | undefined> {
    if (keep && this.feedOpen && this.cache.has(path)) {
      this.stats.cached++;
      return (this.cache.get(path) ?? undefined) as T | undefined;
    }
    this.stats.asked++;
    const generation = this.generation;
    const open = this.feedOpen;
    const doc = await this.getJson<T>(path);
    if (keep && open && this.feedOpen && generation === this.generation) {
      if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(path, doc ?? NOBODY);
    }
    return doc;
  }

  /** GET a JSON document; undefined on 404, IdentityUnavailableError when the API cannot answer. */
  private async getJson<T>(path: string): Promise<T | undefined> {
    const unavailable = (why: string, cause?: unknown) => new IdentityUnavailableError(`subscriber API ${why}`, { cause });
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({ path: `${this.prefix}${path}`, method: 'GET', headers: { accept: 'application/json' } });
    } catch (err) {
      throw unavailable(`unreachable: ${(err as Error).message}`, err);
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw unavailable(`answered ${res.statusCode}`);
    }
    try {
      return (await res.body.json()) as T;
    } catch (err) {
      throw unavailable('answered with a body that is not JSON', err);
    }
  }

  private async get(path: string, keep = true): Promise<Subscriber | undefined> {
    const doc = await this.lookup<SubscriberDocument>(path, keep);
    return doc && { msisdn: doc.msisdn, ipv4: doc.ipv4, ipv6Prefix: doc.ipv6Prefix, qosEligible: doc.qosEligible, attached: doc.attached };
  }

  /** Closes the change feed and the kept-alive connections. */
  close(): void {
    this.feed?.close();
    this.feedOpen = false;
    this.cache.clear();
    void this.pool.destroy();
  }

  byMsisdn(msisdn: string): Promise<Subscriber | undefined> {
    return this.get(`/subscribers/${encodeURIComponent(msisdn)}`);
  }

  byIpv4(address: string): Promise<Subscriber | undefined> {
    return this.get(`/subscribers?ipv4=${encodeURIComponent(address)}`);
  }

  async byIpv6(address: string): Promise<Subscriber | undefined> {
    // Not kept: the feed names a subscriber's IPv4 address only, so it could not say when this went stale.
    return this.get(`/subscribers?ipv6=${encodeURIComponent(address)}`, false);
  }

  /** The UE table knows an address only while the UE's data session holds it (no NAT: the port does not matter). */
  async msisdnAt(address: string): Promise<string | undefined> {
    const subscriber = address.includes(':') ? await this.byIpv6(address) : await this.byIpv4(address);
    return subscriber?.attached ? subscriber.msisdn : undefined;
  }

  /** `GET /subscribers/{msisdn}/sim`: the current SIM's pairing date and whether it replaced another. */
  async simInfo(msisdn: string): Promise<SimInfo | undefined> {
    const doc = await this.lookup<{ latestSimChange: string; swapped: boolean }>(`/subscribers/${encodeURIComponent(msisdn)}/sim`);
    return doc && { latestSimChange: doc.latestSimChange, swapped: doc.swapped };
  }
}
