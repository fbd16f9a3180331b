/** Errors thrown by ringkv's Raft core and its storage. */

import type { NodeId } from "./types.ts";

/** Thrown by propose, proposeConfChange, readIndex and transferLeadership off the leader. */
export class NotLeaderError extends Error {
  /** The leader this node knows of (the host forwards there), or null if none is known. */
  readonly leader: NodeId | null;

  /** Builds the error for a node that knows `leader` (or null). */
  constructor(leader: NodeId | null) {
    super(
      leader === null ? "not the leader; no leader known" : `not the leader; leader is ${leader}`,
    );
    this.name = "NotLeaderError";
    this.leader = leader;
  }
}

/** Why a proposal was refused on a leader. */
export type ProposalDroppedReason =
  | "uncommitted-bytes-limit"
  | "transfer-in-progress"
  | "conf-change-pending"
  | "invalid-conf-change"
  | "too-many-pending-reads";

/** Thrown when the leader refuses a proposal it could otherwise take; retry later. */
export class ProposalDroppedError extends Error {
  /** Which limit or rule refused the proposal. */
  readonly reason: ProposalDroppedReason;

  /** Builds the error for `reason`. */
  constructor(reason: ProposalDroppedReason) {
    super(`proposal dropped: ${reason}`);
    this.name = "ProposalDroppedError";
    this.reason = reason;
  }
}

/** Thrown by LogStorage when the requested index was compacted into a snapshot. */
export class CompactedError extends Error {
  /** Builds the error for `index`. */
  constructor(index: number) {
    super(`log index ${index} is compacted`);
    this.name = "CompactedError";
  }
}

/** Thrown by LogStorage when the requested index is past the last entry held. */
export class UnavailableError extends Error {
  /** Builds the error for `index`. */
  constructor(index: number) {
    super(`log index ${index} is not available`);
    this.name = "UnavailableError";
  }
}

/** Thrown when a Raft invariant does not hold: a bug, never a condition to handle. */
export class RaftInvariantError extends Error {
  /** Builds the error with a message naming the broken invariant. */
  constructor(message: string) {
    super(message);
    this.name = "RaftInvariantError";
  }
}

/** Throws RaftInvariantError with `message` unless `condition` holds. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
