/** A small seeded PRNG (mulberry32) so a simulation run is fully determined by its seed. */

import { seededUint32 } from "../../src/seeded_random.ts";

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
  const u32 = seededUint32(seed);
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
