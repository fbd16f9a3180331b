/** The simulated network: per-message delay, loss, duplication and directed link cuts. */

import type { Rng } from "./rng.ts";

/** Fault rates and delays of the simulated network. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Least one-way delay. */
  delayMinMs: number;
  /** Greatest ordinary one-way delay; random delays reorder messages. */
  delayMaxMs: number;
  /** Probability that a message is much slower than usual (up to slowDelayMaxMs). */
  slowRate: number;
  slowDelayMaxMs: number;
}

/** A network with no faults and small delays. */
export const calmNetwork: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  delayMinMs: 1,
  delayMaxMs: 5,
  slowRate: 0,
  slowDelayMaxMs: 5,
};

/**
 * Decides the fate of each message between nodes. Links are directed: cutting a->b leaves
 * b->a working, which is how asymmetric partitions are made.
 */
export class SimNetwork {
  #cut = new Set<string>();
  #rng: Rng;
  faults: NetworkFaults;

  /** Creates a network drawing its randomness from `rng`. */
  constructor(rng: Rng, faults: NetworkFaults) {
    this.#rng = rng;
    this.faults = faults;
  }

  /** Cuts the directed link from -> to. */
  cut(from: string, to: string): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** True when from -> to is cut. */
  isCut(from: string, to: string): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  /** Cuts every link between the two sides; `oneWay` cuts only side a -> side b. */
  partition(a: string[], b: string[], options: { oneWay?: boolean } = {}): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.cut(x, y);
        if (!options.oneWay) this.cut(y, x);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /** Number of cut directed links (for traces). */
  get cutCount(): number {
    return this.#cut.size;
  }

  /** Describes the cut links, e.g. "n1>n2 n2>n1". */
  describeCuts(): string {
    return [...this.#cut].sort().join(" ") || "none";
  }

  /**
   * The delays after which copies of one message from -> to arrive: empty when the message
   * is lost or the link is cut, two entries when it is duplicated.
   */
  route(from: string, to: string): number[] {
    if (this.isCut(from, to)) return [];
    const f = this.faults;
    if (this.#rng.chance(f.dropRate)) return [];
    const copies = this.#rng.chance(f.duplicateRate) ? 2 : 1;
    const delays: number[] = [];
    for (let i = 0; i < copies; i++) {
      const slow = this.#rng.chance(f.slowRate);
      const max = slow ? f.slowDelayMaxMs : f.delayMaxMs;
      delays.push(f.delayMinMs + this.#rng.int(Math.max(1, max - f.delayMinMs + 1)));
    }
    return delays;
  }
}
