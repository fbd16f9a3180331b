/** An in-memory LogStorage (etcd's MemoryStorage), for tests, the simulator and benchmarks. */

import { CompactedError, invariant, RaftInvariantError, UnavailableError } from "./errors.ts";
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from "./types.ts";

/** Size in bytes of an entry as counted by every byte limit of the core. */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength;
}

/**
 * Holds a hard state, a snapshot and the entries after it, in memory. The host writes it
 * from each Ready (append, setHardState, applySnapshot) and compacts it after taking
 * snapshots (createSnapshot, compact).
 */
export class MemoryStorage implements LogStorage {
  #hardState: HardState = { term: 0, vote: null, commit: 0 };
  #snapshot: Snapshot = {
    metadata: { index: 0, term: 0, conf: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  // #entries[0] is a placeholder holding the snapshot's index and term.
  #entries: Entry[] = [{ term: 0, index: 0, type: "noop", data: new Uint8Array(0) }];

  /** The persisted hard state and the membership of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState } {
    return {
      hardState: { ...this.#hardState },
      confState: cloneConf(this.#snapshot.metadata.conf),
    };
  }

  /** The persisted hard state. */
  hardState(): HardState {
    return { ...this.#hardState };
  }

  /** Replaces the persisted hard state. */
  setHardState(hardState: HardState): void {
    this.#hardState = { ...hardState };
  }

  /** Entries in [lo, hi), at least one if lo < hi, within about maxBytes. */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const offset = this.#entries[0].index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (!(lo <= hi)) throw new RaftInvariantError(`entries: lo ${lo} > hi ${hi}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - offset];
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Term of the entry at index (the snapshot index gives the snapshot's term). */
  term(index: number): number {
    const offset = this.#entries[0].index;
    if (index < offset) throw new CompactedError(index);
    if (index - offset >= this.#entries.length) throw new UnavailableError(index);
    return this.#entries[index - offset].term;
  }

  /** Index of the first entry held. */
  firstIndex(): number {
    return this.#entries[0].index + 1;
  }

  /** Index of the last entry held. */
  lastIndex(): number {
    return this.#entries[0].index + this.#entries.length - 1;
  }

  /** The latest snapshot. */
  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Appends entries, first dropping any held entries at or after entries[0].index. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    const offset = this.#entries[0].index;
    if (first + entries.length - 1 <= offset) return; // all compacted already
    const skip = Math.max(0, offset + 1 - first);
    if (!(first + skip <= this.lastIndex() + 1)) {
      throw new RaftInvariantError(`append: gap before index ${first + skip}`);
    }
    const keep = first + skip - offset;
    if (keep < this.#entries.length) this.#entries.length = keep; // drop a conflicting suffix
    for (let i = skip; i < entries.length; i++) {
      const e = entries[i];
      if (e.index !== first + i) throw new RaftInvariantError("append: entries not contiguous");
      this.#entries.push(e);
    }
  }

  /** Replaces everything with a snapshot received from a leader. Older snapshots are ignored. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.#snapshot.metadata.index) return;
    this.#snapshot = snapshot;
    const { index, term } = snapshot.metadata;
    this.#entries = [{ term, index, type: "noop", data: new Uint8Array(0) }];
  }

  /** Records a snapshot the host took at an index it holds (entries are kept; see compact). */
  createSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.#snapshot.metadata.index) return;
    if (!(index <= this.lastIndex())) {
      throw new RaftInvariantError(`createSnapshot: index ${index} past last index`);
    }
    if (!(this.term(index) === term)) {
      throw new RaftInvariantError(`createSnapshot: term mismatch at ${index}`);
    }
    this.#snapshot = snapshot;
  }

  /** Discards entries up to and including `index`, which must be covered by the snapshot. */
  compact(index: number): void {
    const offset = this.#entries[0].index;
    if (index <= offset) return;
    invariant(index <= this.#snapshot.metadata.index, "compact: index past the snapshot");
    invariant(index <= this.lastIndex(), "compact: index past last index");
    const head = this.#entries[index - offset];
    const dummy: Entry = { term: head.term, index, type: "noop", data: new Uint8Array(0) };
    this.#entries = [dummy, ...this.#entries.slice(index - offset + 1)];
  }
}

function cloneConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}
