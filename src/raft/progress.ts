/** The leader's view of each follower: match/next indexes, state, and the in-flight window. */

import { invariant, RaftInvariantError } from "./errors.ts";
import type { ProgressState, ProgressStatus, Snapshot } from "./types.ts";

/** A bounded window of in-flight appends, each remembered by its last entry index. */
export class Inflights {
  readonly capacity: number;
  #buffer: number[];
  #start = 0;
  #count = 0;

  /** Builds a window that holds at most `capacity` appends. */
  constructor(capacity: number) {
    invariant(capacity > 0, "inflight capacity must be positive");
    this.capacity = capacity;
    this.#buffer = new Array(capacity).fill(0);
  }

  /** Number of appends in flight. */
  get count(): number {
    return this.#count;
  }

  /** True when no more appends may be sent. */
  full(): boolean {
    return this.#count === this.capacity;
  }

  /** Records an append whose last entry is `index`; indexes must increase. */
  add(index: number): void {
    invariant(!this.full(), "inflights: add to a full window");
    if (this.#count > 0) {
      const last = this.#buffer[(this.#start + this.#count - 1) % this.capacity];
      if (!(index > last)) {
        throw new RaftInvariantError(`inflights: index ${index} not after ${last}`);
      }
    }
    this.#buffer[(this.#start + this.#count) % this.capacity] = index;
    this.#count++;
  }

  /** Frees every append whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.#count > 0 && this.#buffer[this.#start] <= index) {
      this.#start = (this.#start + 1) % this.capacity;
      this.#count--;
    }
  }

  /** Frees the oldest append (used when its answer was probably lost). */
  freeFirst(): void {
    if (this.#count === 0) return;
    this.#start = (this.#start + 1) % this.capacity;
    this.#count--;
  }

  /** Frees everything. */
  reset(): void {
    this.#start = 0;
    this.#count = 0;
  }
}

/** Replication progress of one member, kept by the leader. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe state: an append was sent and no answer came yet. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  isLearner: boolean;
  /** Last commit index sent, so a commit advance can be propagated once. */
  sentCommit = 0;
  readonly inflights: Inflights;
  /** Snapshot state: the snapshot being streamed and how many bytes were acknowledged. */
  snapshot: Snapshot | null = null;
  snapshotOffset = 0;

  /** Builds the progress of a member whose next index is `next`. */
  constructor(next: number, options: { maxInflight: number; isLearner: boolean }) {
    this.next = next;
    this.isLearner = options.isLearner;
    this.inflights = new Inflights(options.maxInflight);
  }

  /** True when no append may be sent now. */
  paused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Enters probe state: one append at a time, from next. */
  becomeProbe(): void {
    if (this.state === "snapshot" && this.snapshot !== null) {
      this.next = Math.max(this.match + 1, this.snapshot.metadata.index + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.#resetState();
  }

  /** Enters replicate state: pipelined appends within the inflight window. */
  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.#resetState();
  }

  /** Enters snapshot state: streams `snapshot` before any further append. */
  becomeSnapshot(snapshot: Snapshot): void {
    this.state = "snapshot";
    this.#resetState();
    this.snapshot = snapshot;
    this.snapshotOffset = 0;
  }

  #resetState(): void {
    this.probeSent = false;
    this.snapshot = null;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  /** Records an acknowledged match at `index`; returns false if it is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    invariant(this.next > this.match, "progress: next must be past match");
    return updated;
  }

  /**
   * Handles a rejected append of prevLogIndex `rejected`, moving next back toward
   * `hintNext`. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, hintNext: number): boolean {
    if (this.state === "replicate") {
      // A rejection at or below match is stale: that prefix is known to agree.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the outstanding probe counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hintNext), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** A read-only view for status reports. */
  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.count,
      recentActive: this.recentActive,
      isLearner: this.isLearner,
      snapshotIndex: this.snapshot?.metadata.index ?? 0,
    };
  }
}
