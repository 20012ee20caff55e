import type { AddressResolver } from '../../adapters/ports.ts';
import { clientAddress, type ClientAddress, type TrustedProxies } from './client-address.ts';

/** The device behind a device-facing request, as the data path identifies it. */
export interface Identified {
  /** Where the request came from (the socket, or a trusted proxy's forwarding header). */
  address: ClientAddress;
  /** The subscriber holding that address; undefined on Wi-Fi, for a detached UE or an unknown address. */
  msisdn?: string;
}

/** Tries each resolver in turn (RADIUS accounting first, then the UE table): the first that knows the address answers. */
export class ChainedAddresses implements AddressResolver {
  constructor(private readonly resolvers: readonly AddressResolver[]) {}

  async msisdnAt(address: string, port?: number): Promise<string | undefined> {
    for (const r of this.resolvers) {
      const msisdn = await r.msisdnAt(address, port);
      if (msisdn) return msisdn;
    }
    return undefined;
  }
}

/**
 * Identifies the subscriber behind a request by its source address. Only the socket peer, or a
 * trusted proxy's forwarding header, counts: a header sent by anyone else is ignored.
 */
export async function identifyDevice(
  peer: { address?: string; port?: number },
  headers: Record<string, string | string[] | undefined>,
  deps: { trustedProxies: TrustedProxies; addresses?: AddressResolver },
): Promise<Identified> {
  const address = clientAddress(peer, headers, deps.trustedProxies);
  if (!deps.addresses || !address.address) return { address };
  return { address, msisdn: await deps.addresses.msisdnAt(address.address, address.port) };
}
