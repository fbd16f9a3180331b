/**
 * The Raft log as the core sees it: stable entries in the host's LogStorage, followed by
 * unstable ones (appended but not yet persisted), plus the commit and applied indexes.
 */

import { CompactedError, invariant, RaftInvariantError, UnavailableError } from "./errors.ts";
import { entryBytes } from "./memory_storage.ts";
import type { Entry, LogStorage, Snapshot } from "./types.ts";

/** Entries and a snapshot not yet persisted by the host. */
class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0] (or where it would be). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  lastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.metadata.index;
    return null;
  }

  term(index: number): number | null {
    if (index < this.offset) {
      const snap = this.snapshot;
      if (snap !== null && snap.metadata.index === index) return snap.metadata.term;
      return null;
    }
    const last = this.lastIndex();
    if (last === null || index > last) return null;
    return this.entries[index - this.offset].term;
  }

  truncateAndAppend(entries: Entry[]): void {
    const first = entries[0].index;
    if (first === this.offset + this.entries.length) {
      for (const e of entries) this.entries.push(e);
    } else if (first <= this.offset) {
      // Raft rule (log matching): a conflicting suffix is replaced, here the whole of it.
      this.offset = first;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, first - this.offset).concat(entries);
    }
  }
}

/** Options of {@link RaftLog}. */
export interface RaftLogOptions {
  /** Bytes of committed entries handed out per Ready. */
  maxCommittedBytes: number;
}

/** The whole log of one node. */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  /** Highest index known committed. */
  committed: number;
  /** Highest index the host has applied (advanced past). */
  applied: number;
  /** Highest committed index handed out in a Ready. */
  handedOut: number;
  readonly #maxCommittedBytes: number;

  /** Builds the log over `storage`, committed and applied at the storage's snapshot. */
  constructor(storage: LogStorage, options: RaftLogOptions) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    const snapIndex = storage.firstIndex() - 1;
    this.committed = snapIndex;
    this.applied = snapIndex;
    this.handedOut = snapIndex;
    this.#maxCommittedBytes = options.maxCommittedBytes;
  }

  /** Index of the first entry still available. */
  firstIndex(): number {
    const snap = this.unstable.snapshot;
    if (snap !== null) return snap.metadata.index + 1;
    return this.storage.firstIndex();
  }

  /** Index of the last entry. */
  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** Term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term at `index`; throws CompactedError below the first index - 1, UnavailableError past the end. */
  term(index: number): number {
    const t = this.unstable.term(index);
    if (t !== null) return t;
    if (index < this.firstIndex() - 1) throw new CompactedError(index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    return this.storage.term(index);
  }

  /** Term at `index`, or null if compacted or not present. */
  termOrNull(index: number): number | null {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return null;
    return this.term(index);
  }

  /** True when the entry at `index` has term `term`. */
  matchTerm(index: number, term: number): boolean {
    return this.termOrNull(index) === term;
  }

  /** Raft rule (election restriction): a candidate's log must be at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Appends entries after the current last (or over a conflicting suffix); returns the last index. */
  append(entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0].index - 1;
    // Raft rule (state machine safety): committed entries are never overwritten.
    if (!(after >= this.committed)) {
      throw new RaftInvariantError(
        `append at ${after + 1} would overwrite committed ${this.committed}`,
      );
    }
    if (!(after <= this.lastIndex())) {
      throw new RaftInvariantError(`append at ${after + 1} leaves a gap after ${this.lastIndex()}`);
    }
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * AppendEntries receiver: if our entry at prevIndex has prevTerm, append the new entries
   * (dropping a conflicting suffix) and advance commit. Returns the last new index, or null
   * on mismatch.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    entries: Entry[],
  ): number | null {
    // Raft rule (log matching): reject unless our log holds prevIndex with prevTerm.
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.#findConflict(entries);
    if (conflict !== 0) {
      if (!(conflict > this.committed)) {
        throw new RaftInvariantError(`conflict at ${conflict} <= committed ${this.committed}`);
      }
      this.append(entries.slice(conflict - entries[0].index));
    }
    // Raft rule: follower commit = min(leaderCommit, index of last new entry).
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Index of the first entry that is new or conflicts with ours; 0 if all are present. */
  #findConflict(entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off: the largest index <= `index` whose term is <= `term` (or the first
   * index - 1 if none is held).
   */
  findConflictByTerm(index: number, term: number): number {
    const floor = this.firstIndex() - 1;
    let i = Math.min(index, this.lastIndex());
    while (i > floor) {
      const t = this.termOrNull(i);
      if (t === null || t <= term) return i;
      i--;
    }
    return floor;
  }

  /** Advances commit to `index` (never backwards). */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (!(index <= this.lastIndex())) {
      throw new RaftInvariantError(`commit ${index} past last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Leader commit: advance to `index` if it holds an entry of `term`. */
  maybeCommit(index: number, term: number | null): boolean {
    if (index <= this.committed) return false;
    if (term !== null && this.termOrNull(index) !== term) return false;
    this.commitTo(index);
    return true;
  }

  /**
   * Entries in [lo, hi) from storage and unstable together, at least one if lo < hi,
   * at most maxCount and about maxBytes.
   */
  slice(lo: number, hi: number, limits: { maxBytes: number; maxCount: number }): Entry[] {
    if (!(lo <= hi)) throw new RaftInvariantError(`slice: lo ${lo} > hi ${hi}`);
    if (lo === hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    hi = Math.min(hi, lo + limits.maxCount, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    const uOffset = this.unstable.offset;
    if (lo < uOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, uOffset), limits.maxBytes);
      for (const e of stored) {
        bytes += entryBytes(e);
        out.push(e);
      }
      if (lo + out.length < Math.min(hi, uOffset)) return out; // byte limit reached
    }
    const ents = this.unstable.entries;
    for (let i = Math.max(lo, uOffset); i < hi; i++) {
      const e = ents[i - uOffset];
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > limits.maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** True when committed entries wait to be handed out. */
  hasNextCommitted(): boolean {
    return this.committed > this.handedOut && this.handedOut + 1 >= this.firstIndex();
  }

  /** Committed entries not yet handed out, within the byte limit; marks them handed out. */
  takeNextCommitted(): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const ents = this.slice(this.handedOut + 1, this.committed + 1, {
      maxBytes: this.#maxCommittedBytes,
      maxCount: Number.MAX_SAFE_INTEGER,
    });
    if (ents.length > 0) this.handedOut = ents[ents.length - 1].index;
    return ents;
  }

  /** Unstable entries (to persist). */
  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** The host persisted entries up to (index, term): drop them from unstable. */
  stableTo(index: number, term: number): void {
    const t = this.unstable.term(index);
    if (t === null || t !== term || index < this.unstable.offset) return;
    this.unstable.entries = this.unstable.entries.slice(index + 1 - this.unstable.offset);
    this.unstable.offset = index + 1;
  }

  /** The host persisted the unstable snapshot at `index`. */
  stableSnapTo(index: number): void {
    const snap = this.unstable.snapshot;
    if (snap !== null && snap.metadata.index === index) this.unstable.snapshot = null;
  }

  /** Replaces the log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    invariant(index > this.committed, "restore: snapshot not past commit");
    this.committed = index;
    this.handedOut = Math.max(this.handedOut, index);
    this.unstable.snapshot = snapshot;
    this.unstable.entries = [];
    this.unstable.offset = index + 1;
  }

  /** The host applied up to `index`. */
  appliedTo(index: number): void {
    if (index <= this.applied) return;
    if (!(index <= this.committed)) {
      throw new RaftInvariantError(`applied ${index} past commit ${this.committed}`);
    }
    this.applied = index;
  }
}
