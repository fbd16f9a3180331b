/**
 * One group's durable log as the WAL knows it: hard state, snapshot marker, and an index of
 * its entries (term, type, file, offset, size) with the data of recent ones kept in memory.
 * Recovery and the live write path change it through the same methods, so a restart rebuilds
 * exactly the state the process had.
 */
import type { GroupId, WalHardState } from "./types.ts";

/** Where an entry lives: its record's file and offset. */
export interface EntryLocation {
  fileId: number;
  offset: number;
}

interface CacheRef {
  log: GroupLog;
  index: number;
  fileId: number;
  offset: number;
}

/** A byte-bounded first-in first-out cache of entry data across all groups. */
export class EntryCache {
  bytes = 0;
  #refs: CacheRef[] = [];
  #head = 0;

  constructor(readonly bytesMax: number) {
    if (!(bytesMax >= 0)) throw new Error(`cacheBytesMax must be >= 0, got ${bytesMax}`);
  }

  /** Records that `log` now holds `size` cached bytes at `index`; evicts the oldest past the limit. */
  added(log: GroupLog, index: number, loc: EntryLocation, size: number): void {
    this.bytes += size;
    this.#refs.push({ log, index, fileId: loc.fileId, offset: loc.offset });
    let steps = 0;
    while (this.bytes > this.bytesMax && this.#head < this.#refs.length) {
      const ref = this.#refs[this.#head++];
      ref.log.evict(ref.index, ref.fileId, ref.offset);
      steps++;
      if (steps > 1_000_000) throw new Error("EntryCache: eviction did not converge");
    }
    if (this.#head > 4096 && this.#head * 2 > this.#refs.length) {
      this.#refs = this.#refs.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Records that `size` cached bytes were dropped (evicted, truncated or compacted). */
  removed(size: number): void {
    this.bytes -= size;
    if (this.bytes < 0) throw new Error("EntryCache: negative byte count");
  }
}

/** A group's log state. Index `i` is at array position `i - firstIndex`. */
export class GroupLog {
  hardState: WalHardState = { term: 0, vote: null, commit: 0 };
  /** The snapshot marker: entries up to here are dropped; firstIndex = snapIndex + 1. */
  snapIndex = 0;
  snapTerm = 0;
  /** Entries below this may be deleted with their files (the group's store has them). Not persisted. */
  releaseBefore = 0;
  terms: number[] = [];
  types: number[] = [];
  fileIds: number[] = [];
  offsets: number[] = [];
  sizes: number[] = [];
  data: (Uint8Array | undefined)[] = [];

  constructor(readonly group: GroupId, readonly cache: EntryCache) {}

  get firstIndex(): number {
    return this.snapIndex + 1;
  }

  get lastIndex(): number {
    return this.snapIndex + this.terms.length;
  }

  /** Term at `index`, or undefined outside [firstIndex - 1, lastIndex]. */
  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.firstIndex || index > this.lastIndex) return undefined;
    return this.terms[index - this.firstIndex];
  }

  /** Drops the entries at and after `from` (clamped to the held range). */
  truncateFrom(from: number): void {
    const pos = Math.max(0, from - this.firstIndex);
    if (pos >= this.terms.length) return;
    this.#dropCached(pos, this.terms.length);
    for (const arr of this.#arrays()) arr.length = pos;
  }

  /**
   * Appends one entry. An index at or below lastIndex replaces the tail from it; one at or
   * below the snapshot marker is ignored (it was compacted). Returns false on a gap.
   */
  append(
    index: number,
    term: number,
    type: number,
    loc: EntryLocation,
    size: number,
    data?: Uint8Array,
  ): boolean {
    if (index <= this.snapIndex) return true;
    if (index > this.lastIndex + 1) return false;
    if (index <= this.lastIndex) this.truncateFrom(index);
    this.terms.push(term);
    this.types.push(type);
    this.fileIds.push(loc.fileId);
    this.offsets.push(loc.offset);
    this.sizes.push(size);
    this.data.push(data);
    if (data !== undefined) this.cache.added(this, index, loc, size);
    return true;
  }

  /**
   * Installs a snapshot marker (Raft's rule): if the log holds `index` with `term`, the
   * entries after it stay; otherwise the whole log is dropped and ends at `index`. A marker
   * older than the current one is ignored. Returns true when the whole log was dropped.
   */
  applySnapshot(index: number, term: number): boolean {
    if (index < this.snapIndex) return false;
    if (index === this.snapIndex && term === this.snapTerm) return false;
    const keep = index <= this.lastIndex && this.termAt(index) === term;
    const cut = keep ? index - this.firstIndex + 1 : this.terms.length;
    this.#dropCached(0, cut);
    for (const arr of this.#arrays()) arr.splice(0, cut);
    this.snapIndex = index;
    this.snapTerm = term;
    return !keep;
  }

  /** True when the group has any state worth a checkpoint record. */
  hasState(): boolean {
    const hs = this.hardState;
    return this.lastIndex > 0 || this.snapTerm > 0 || hs.term > 0 || hs.commit > 0 ||
      hs.vote !== null;
  }

  /** Forgets the cached data of `index` if it still is the entry written at that location. */
  evict(index: number, fileId: number, offset: number): void {
    const pos = index - this.firstIndex;
    if (pos < 0 || pos >= this.terms.length) return;
    if (this.fileIds[pos] !== fileId || this.offsets[pos] !== offset) return;
    if (this.data[pos] === undefined) return;
    this.data[pos] = undefined;
    this.cache.removed(this.sizes[pos]);
  }

  #dropCached(from: number, to: number): void {
    let bytes = 0;
    for (let p = from; p < to; p++) if (this.data[p] !== undefined) bytes += this.sizes[p];
    if (bytes > 0) this.cache.removed(bytes);
  }

  #arrays(): unknown[][] {
    return [this.terms, this.types, this.fileIds, this.offsets, this.sizes, this.data];
  }
}
