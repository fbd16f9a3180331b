/** A small seeded PRNG (mulberry32) so a simulation run is fully determined by its seed. */

/** A deterministic source of random numbers. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n); n must be a positive integer. */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** An element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A 32-bit integer, for seeding another generator. */
  u32(): number;
}

/** Creates a mulberry32 generator from a 32-bit seed (any number; it is truncated). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const u32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = () => u32() / 4294967296;
  return {
    next,
    u32,
    int(n: number): number {
      if (!(n > 0 && Number.isInteger(n))) {
        throw new Error(`rng.int needs a positive integer, got ${n}`);
      }
      return Math.floor(next() * n);
    },
    chance: (p: number) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error("rng.pick on an empty array");
      return items[Math.floor(next() * items.length)];
    },
  };
}
