/** The client workload: which operation a simulated client issues next. */

import type { Rng } from "./rng.ts";
import type { Versioned } from "./kv_state_machine.ts";

/** An operation a client sends to a node. "stale-get" may be served by any replica. */
export type ClientRequest =
  | { kind: "get"; key: string }
  | { kind: "stale-get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "delete"; key: string }
  | { kind: "cas"; key: string; value: string; expectVersion?: number; expectValue?: string }
  | { kind: "create"; key: string; value: string };

/** Shape of the workload. */
export interface WorkloadOptions {
  keys: string[];
  /** Relative weights of get, stale-get, put, delete, cas, create. */
  weights: [number, number, number, number, number, number];
}

/** The default mix: mostly reads and writes on three keys. */
export const defaultWorkload: WorkloadOptions = {
  keys: ["a", "b", "c"],
  weights: [30, 8, 30, 6, 18, 8],
};

/**
 * Picks the next request of a client. `seen` is what the client last observed per key;
 * `valueSerial` makes every written value unique in the run ("c2.17").
 */
export function nextRequest(
  rng: Rng,
  ctx: { clientId: number; valueSerial: number; seen: Map<string, Versioned | null> },
  options: WorkloadOptions = defaultWorkload,
): ClientRequest {
  const key = rng.pick(options.keys);
  const value = `c${ctx.clientId}.${ctx.valueSerial}`;
  const total = options.weights.reduce((a, b) => a + b, 0);
  let r = rng.int(total);
  let kind = 0;
  while (r >= options.weights[kind]) r -= options.weights[kind++];
  switch (kind) {
    case 0:
      return { kind: "get", key };
    case 1:
      return { kind: "stale-get", key };
    case 2:
      return { kind: "put", key, value };
    case 3:
      return { kind: "delete", key };
    case 4: {
      const last = ctx.seen.get(key);
      if (last == null || rng.chance(0.15)) {
        // A guess that is usually wrong: exercises failed conditions.
        return { kind: "cas", key, value, expectVersion: 1 + rng.int(50) };
      }
      return rng.chance(0.5)
        ? { kind: "cas", key, value, expectVersion: last.version }
        : { kind: "cas", key, value, expectValue: last.value };
    }
    default:
      return { kind: "create", key, value };
  }
}
