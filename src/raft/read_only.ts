/**
 * ReadIndex: linearizable reads confirmed by a heartbeat round. Reads that arrive between
 * two flushes share one round; an acknowledged round also confirms every earlier round.
 */

import { invariant, ProposalDroppedError } from "./errors.ts";
import { hasQuorum } from "./quorum.ts";
import type { NodeId, ReadState } from "./types.ts";

interface PendingRead {
  index: number;
  requestCtx: Uint8Array;
  seq: number;
}

/** Pending read requests on a leader and their confirmation rounds. */
export class ReadOnly {
  #pending: PendingRead[] = [];
  #acks = new Map<number, Set<NodeId>>();
  /** Highest round whose heartbeat was broadcast. */
  #sentSeq = 0;
  readonly #maxPending: number;

  /** Builds an empty queue that holds at most `maxPending` reads. */
  constructor(maxPending: number) {
    this.#maxPending = maxPending;
  }

  /** Number of reads waiting for confirmation. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Queues a read at `index`; it joins the next round to be broadcast. */
  add(index: number, requestCtx: Uint8Array): void {
    if (this.#pending.length >= this.#maxPending) {
      throw new ProposalDroppedError("too-many-pending-reads");
    }
    this.#pending.push({ index, requestCtx, seq: this.#sentSeq + 1 });
  }

  /** True when queued reads wait for a round that was not broadcast yet. */
  needsRound(): boolean {
    const n = this.#pending.length;
    return n > 0 && this.#pending[n - 1].seq > this.#sentSeq;
  }

  /** Starts the next round (the caller broadcasts heartbeats carrying it); returns its seq. */
  startRound(self: NodeId): number {
    invariant(this.needsRound(), "read round started with nothing to confirm");
    this.#sentSeq++;
    this.#acks.set(this.#sentSeq, new Set([self]));
    return this.#sentSeq;
  }

  /** The round heartbeats should carry now (0 when no read waits). */
  currentSeq(): number {
    return this.#pending.length > 0 ? this.#sentSeq : 0;
  }

  /**
   * Records `from`'s acknowledgement of round `seq`. When a quorum of `voters` acknowledged
   * it, returns the reads it releases (those of rounds <= seq), in request order.
   */
  ack(seq: number, from: NodeId, voters: readonly NodeId[]): ReadState[] {
    const acks = this.#acks.get(seq);
    if (acks === undefined) return [];
    acks.add(from);
    // Raft rule (ReadIndex): serve only after a quorum confirmed leadership after the read arrived.
    if (!hasQuorum(voters, (id) => acks.has(id))) return [];
    let n = 0;
    while (n < this.#pending.length && this.#pending[n].seq <= seq) n++;
    const released = this.#pending.splice(0, n);
    for (const s of [...this.#acks.keys()]) if (s <= seq) this.#acks.delete(s);
    return released.map((r) => ({ index: r.index, requestCtx: r.requestCtx }));
  }

  /** Re-evaluates every open round against `voters` (after a membership change). */
  recheck(voters: readonly NodeId[]): ReadState[] {
    let out: ReadState[] = [];
    for (const [seq, acks] of [...this.#acks]) {
      const first = [...acks][0];
      if (first !== undefined) out = out.concat(this.ack(seq, first, voters));
    }
    return out;
  }

  /** Drops every pending read (on losing leadership); returns how many were dropped. */
  reset(): number {
    const n = this.#pending.length;
    this.#pending = [];
    this.#acks.clear();
    return n;
  }
}
