import type { AddressResolver } from '../../adapters/ports.ts';

/**
 * Resolvers in order of precedence (RADIUS accounting first, then the UE table): the first that
 * knows the address answers. All are asked at once, so a lookup costs the slowest round trip
 * rather than the sum of them; it is on the path of every token issuance and exchange. A later
 * resolver's answer, or its failure, counts only when every earlier one knows nothing.
 */
export class ChainedAddresses implements AddressResolver {
  constructor(private readonly resolvers: readonly AddressResolver[]) {}

  async msisdnAt(address: string, port?: number): Promise<string | undefined> {
    const asked = this.resolvers.map((r) => r.msisdnAt(address, port));
    // Answers that will not be looked at must not surface as unhandled rejections.
    for (const p of asked) p.catch(() => {});
    for (const answer of asked) {
      const msisdn = await answer;
      if (msisdn) return msisdn;
    }
    return undefined;
  }
}
