/**
 * Seeded randomness. Nothing in a simulator may use Math.random: a run is reproduced by its seed.
 */

/** A source of uniform numbers in [0, 1). */
export type Prng = () => number;

const TWO_32 = 4294967296;

/** mulberry32: a 32-bit state generator, small and good enough for simulation (not for crypto). */
export function mulberry32(seed: number): Prng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_32;
  };
}

/**
 * A uniform number in [0, 1) that depends only on `seed` and `key`. Lazily derived state (a UE's
 * initial RRC state) uses it, so looking a UE up never shifts the main stream of draws.
 */
export function hashUnit(seed: number, key: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((key >>> 0) + 1, 0x85ebca77)) >>> 0;
  // murmur3 finaliser: spreads every input bit over the output.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / TWO_32;
}

/** A uniform integer in [min, max]. */
export function between(prng: Prng, min: number, max: number): number {
  return min + Math.floor(prng() * (max - min + 1));
}
