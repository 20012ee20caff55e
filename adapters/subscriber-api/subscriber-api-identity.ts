import http from 'node:http';
import https from 'node:https';
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
  private readonly base: URL;
  private readonly transport: typeof http | typeof https;
  /** The base URL's path, without a trailing slash, that every lookup's path follows. */
  private readonly prefix: string;
  /** Kept-alive connections: a lookup is on the path of every call that names a device. */
  private readonly agent: http.Agent;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 3000,
  ) {
    this.base = new URL(baseUrl);
    const secure = this.base.protocol === 'https:';
    this.transport = secure ? https : http;
    this.prefix = this.base.pathname.replace(/\/$/, '');
    this.agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 64 });
  }

  /** GET a JSON document; undefined on 404, IdentityUnavailableError when the API cannot answer. */
  private getJson<T>(path: string): Promise<T | undefined> {
    const { transport, prefix } = this;
    return new Promise((resolve, reject) => {
      const unavailable = (why: string, cause?: unknown) => reject(new IdentityUnavailableError(`subscriber API ${why}`, { cause }));
      const req = transport.get(
        { host: this.base.hostname, port: this.base.port, path: `${prefix}${path}`, agent: this.agent, timeout: this.timeoutMs, headers: { accept: 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => unavailable(`unreachable: ${err.message}`, err));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 404) return resolve(undefined);
            if (status < 200 || status >= 300) return unavailable(`answered ${status}`);
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
            } catch (err) {
              unavailable('answered with a body that is not JSON', err);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => unavailable(`unreachable: ${err.message}`, err));
    });
  }

  private async get(path: string): Promise<Subscriber | undefined> {
    const doc = await this.getJson<SubscriberDocument>(path);
    return doc && { msisdn: doc.msisdn, ipv4: doc.ipv4, ipv6Prefix: doc.ipv6Prefix, qosEligible: doc.qosEligible, attached: doc.attached };
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
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
