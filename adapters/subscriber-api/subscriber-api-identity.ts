import { DependencyUnavailableError, type Subscriber, type SubscriberIdentity } from '../ports.ts';

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
export class SubscriberApiIdentity implements SubscriberIdentity {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 3000,
  ) {}

  private async get(path: string): Promise<Subscriber | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new IdentityUnavailableError(`subscriber API unreachable: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) return undefined;
    if (!res.ok) throw new IdentityUnavailableError(`subscriber API answered ${res.status}`);
    const doc = (await res.json()) as SubscriberDocument;
    return { msisdn: doc.msisdn, ipv4: doc.ipv4, ipv6Prefix: doc.ipv6Prefix, qosEligible: doc.qosEligible, attached: doc.attached };
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
}
