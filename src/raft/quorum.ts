/** Majority counting over a set of voters. */

import { invariant } from "./errors.ts";
import type { NodeId } from "./types.ts";

/** How many votes out of `voterCount` make a majority. */
export function quorumSize(voterCount: number): number {
  invariant(voterCount > 0, "quorum of an empty voter set");
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters have matched: the `quorumSize`-th largest
 * match index. Voters without an entry in `matchOf` count as 0.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf);
  matches.sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1];
}

/** Outcome of a vote count. */
export type VoteResult = "won" | "lost" | "pending";

/** Counts votes (true = granted) of `voters`; missing voters are still pending. */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return "won";
  if (voters.length - rejected < q) return "lost";
  return "pending";
}

/** True when members of `acked` form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acked: (id: NodeId) => boolean): boolean {
  if (voters.length === 0) return false;
  let count = 0;
  for (const id of voters) if (acked(id)) count++;
  return count >= quorumSize(voters.length);
}
