/** Redial delays: capped exponential backoff with jitter. */

/** Options of {@link backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry. */
  delayMsMin: number;
  /** Cap of the delay ceiling. */
  delayMsMax: number;
  /** Uniform source in [0, 1). */
  random: () => number;
}

/**
 * Delay before retry number `attempt` (0 for the first): a uniform draw from the upper half
 * of min(delayMsMax, delayMsMin * 2^attempt), so retries of many nodes do not line up.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError("attempt must be >= 0");
  const { delayMsMin, delayMsMax } = options;
  if (!(delayMsMin > 0 && delayMsMax >= delayMsMin)) throw new RangeError("bad backoff bounds");
  const ceiling = Math.min(delayMsMax, delayMsMin * 2 ** Math.min(attempt, 30));
  const delayMs = Math.round(ceiling / 2 + (options.random() * ceiling) / 2);
  return Math.min(delayMs, delayMsMax);
}
