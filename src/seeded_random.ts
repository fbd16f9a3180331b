/**
 * A small seeded PRNG (mulberry32): the same seed always gives the same sequence, so a
 * randomized test, simulation, fault schedule or benchmark can be replayed from its seed.
 * A leaf module: it imports nothing.
 */

/** 2^32, to turn a 32-bit unsigned integer into a float in [0, 1). */
const uint32Range = 4294967296;

/**
 * Returns a mulberry32 generator of unsigned 32-bit integers seeded with `seed` (any number;
 * only its low 32 bits, after truncation toward zero, are used).
 */
export function seededUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Returns a mulberry32 generator of floats in [0, 1) seeded with `seed` (see seededUint32). */
export function seededRandom(seed: number): () => number {
  const next = seededUint32(seed);
  return () => next() / uint32Range;
}
