/** Seeded randomness for the load generator: a PRNG and uniform / Zipf key choosers. */

import { seededRandom } from "../src/seeded_random.ts";

/** A seeded generator of floats in [0, 1) (mulberry32: small, fast, good enough for load). */
export { seededRandom };

/** Picks a key index in [0, keys). */
export type KeyChooser = () => number;

/** Every index equally likely. */
export function uniformChooser(keys: number, random: () => number): KeyChooser {
  if (!(keys >= 1)) throw new RangeError("keys must be >= 1");
  return () => Math.floor(random() * keys);
}

/** Largest key space the Zipf chooser precomputes its constant for. */
export const zipfKeysMax = 50_000_000;

/**
 * Zipf-distributed ranks (rank r has weight 1/(r+1)^theta), by Gray et al.'s method as used by
 * YCSB, then scattered over the key space by a fixed permutation so hot keys are not
 * neighbours in key order.
 */
export function zipfChooser(
  keys: number,
  random: () => number,
  options: { theta?: number } = {},
): KeyChooser {
  const theta = options.theta ?? 0.99;
  if (!(keys >= 1 && keys <= zipfKeysMax)) throw new RangeError(`keys must be 1..${zipfKeysMax}`);
  if (!(theta > 0 && theta < 1)) throw new RangeError("zipf theta must be in (0, 1)");
  let zetaN = 0;
  for (let i = 1; i <= keys; i++) zetaN += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / keys, 1 - theta)) / (1 - zeta2 / zetaN);
  const half = Math.pow(0.5, theta);
  const stride = scatterStride(keys);
  return () => {
    const u = random();
    const uz = u * zetaN;
    let rank: number;
    if (uz < 1) rank = 0;
    else if (uz < 1 + half) rank = 1;
    else rank = Math.floor(keys * Math.pow(eta * u - eta + 1, alpha));
    rank = Math.min(keys - 1, Math.max(0, rank));
    return (rank * stride) % keys; // < 2^53: both factors are below zipfKeysMax
  };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A multiplier coprime with `keys`, so rank -> rank * stride mod keys is a permutation. */
function scatterStride(keys: number): number {
  for (let stride = 2654435761 % keys; stride < keys + 1_000_000; stride++) {
    if (stride > 0 && gcd(stride, keys) === 1) return stride;
  }
  return 1;
}
