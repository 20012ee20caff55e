import { Pool, type Dispatcher } from 'undici';
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

/**
 * Subscriber identity from the network's subscriber API (`GET /subscribers/{msisdn}`,
 * `GET /subscribers?ipv4=`): the UE table of the packet core, as the simulated network serves it.
 */
export class SubscriberApiIdentity implements SubscriberIdentity, AddressResolver, SimHistory {
  /** The base URL's path, without a trailing slash, that every lookup's path follows. */
  private readonly prefix: string;
  /**
   * Kept-alive connections (undici): a lookup is on the path of every call that names or
   * identifies a device, and undici's client costs a fraction of node:http's per request.
   */
  private readonly pool: Pool;

  constructor(
    baseUrl: string,
    timeoutMs = 3000,
  ) {
    const base = new URL(baseUrl);
    this.prefix = base.pathname.replace(/\/$/, '');
    this.pool = new Pool(base.origin, { connections: 64, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
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

  private async get(path: string): Promise<Subscriber | undefined> {
    const doc = await this.getJson<SubscriberDocument>(path);
    return doc && { msisdn: doc.msisdn, ipv4: doc.ipv4, ipv6Prefix: doc.ipv6Prefix, qosEligible: doc.qosEligible, attached: doc.attached };
  }

  /** Closes the kept-alive connections. */
  close(): void {
    void this.pool.destroy();
  }

  byMsisdn(msisdn: string): Promise<Subscriber | undefined> {
    return this.get(`/subscribers/${encodeURIComponent(msisdn)}`);
  }

  byIpv4(address: string): Promise<Subscriber | undefined> {
    return this.get(`/subscribers?ipv4=${encodeURIComponent(address)}`);
  }

  async byIpv6(address: string): Promise<Subscriber | undefined> {
    return this.get(`/subscribers?ipv6=${encodeURIComponent(address)}`);
  }

  /** The UE table knows an address only while the UE's data session holds it (no NAT: the port does not matter). */
  async msisdnAt(address: string): Promise<string | undefined> {
    const subscriber = address.includes(':') ? await this.byIpv6(address) : await this.byIpv4(address);
    return subscriber?.attached ? subscriber.msisdn : undefined;
  }

  /** `GET /subscribers/{msisdn}/sim`: the current SIM's pairing date and whether it replaced another. */
  async simInfo(msisdn: string): Promise<SimInfo | undefined> {
    const doc = await this.getJson<{ latestSimChange: string; swapped: boolean }>(`/subscribers/${encodeURIComponent(msisdn)}/sim`);
    return doc && { latestSimChange: doc.latestSimChange, swapped: doc.swapped };
  }
}
