import type { AddressResolver } from '../../adapters/ports.ts';

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
