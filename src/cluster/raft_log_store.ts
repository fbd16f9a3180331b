/**
 * One Raft group's view of the node's shared write-ahead log: the Raft core reads its
 * persisted log through this LogStorage, and the group host persists each Ready through it
 * (entries and hard state in one durable append, shared with every other group's appends).
 */
import {
  CompactedError,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type LogStorage,
  type Ready,
  type Snapshot,
  UnavailableError,
} from "../raft/mod.ts";
import {
  type GroupId,
  type Wal,
  WalCompactedError,
  type WalEntry,
  WalUnavailableError,
} from "../storage/wal/mod.ts";

const entryTypes: readonly EntryType[] = ["normal", "conf-change", "noop"];

function toWalEntry(entry: Entry): WalEntry {
  const type = entryTypes.indexOf(entry.type);
  if (type < 0) throw new RangeError(`unknown entry type ${entry.type}`);
  return { index: entry.index, term: entry.term, type, data: entry.data };
}

function fromWalEntry(entry: WalEntry): Entry {
  const type = entryTypes[entry.type];
  if (type === undefined) throw new RangeError(`WAL holds an unknown entry type ${entry.type}`);
  return { index: entry.index, term: entry.term, type, data: entry.data };
}

/** Maps the WAL's read errors to the ones the Raft core expects from its LogStorage. */
function readGuard<T>(index: number, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof WalCompactedError) throw new CompactedError(index);
    if (error instanceof WalUnavailableError) throw new UnavailableError(index);
    throw error;
  }
}

/** Where a RaftLogStore finds the group's snapshots (see group_snapshots.ts). */
export interface SnapshotSource {
  /** The latest snapshot as the core sends it, if any. */
  snapshot(): Snapshot | undefined;
  /** The metadata of the kept snapshot at `index`, if any. */
  metaAt(index: number): { conf: ConfState } | undefined;
}

/**
 * A group's Raft log kept in the shared WAL. Until the log is first compacted the membership
 * comes from the conf-change entries at its head (written by the bootstrap); after, from the
 * snapshot the log starts after.
 */
export class RaftLogStore implements LogStorage {
  /** Wraps `wal` for group `groupId`; `snapshots` is where compacted state is kept. */
  constructor(
    readonly wal: Wal,
    readonly groupId: GroupId,
    readonly snapshots?: SnapshotSource,
  ) {}

  /** True when this group has durable state: the node must restart, never bootstrap. */
  hasState(): boolean {
    const hs = this.wal.hardState(this.groupId);
    return this.wal.lastIndex(this.groupId) > 0 || hs.term > 0;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const hs = this.wal.hardState(this.groupId);
    const mark = this.wal.snapshotMark(this.groupId).index;
    let confState: ConfState = { voters: [], learners: [] };
    if (mark > 0) {
      const meta = this.snapshots?.metaAt(mark);
      if (meta === undefined) {
        throw new Error(
          `group ${this.groupId}: the log starts after index ${mark} but the snapshot there ` +
            `(and with it the membership) is missing from the data directory`,
        );
      }
      confState = meta.conf;
    }
    return { hardState: { term: hs.term, vote: hs.vote, commit: hs.commit }, confState };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return readGuard(lo, () => this.wal.entries(this.groupId, lo, hi, maxBytes).map(fromWalEntry));
  }

  term(index: number): number {
    return readGuard(index, () => this.wal.term(this.groupId, index));
  }

  firstIndex(): number {
    return this.wal.firstIndex(this.groupId);
  }

  lastIndex(): number {
    return this.wal.lastIndex(this.groupId);
  }

  snapshot(): Snapshot {
    const mark = this.wal.snapshotMark(this.groupId);
    const latest = this.snapshots?.snapshot();
    if (latest !== undefined && latest.metadata.index >= mark.index) return latest;
    return {
      metadata: { index: mark.index, term: mark.term, conf: { voters: [], learners: [] } },
      data: new Uint8Array(0),
    };
  }

  /**
   * Makes what `ready` asks to persist durable in one WAL append: entries (replacing any
   * conflicting tail) then the hard state. A hard state whose only change is the commit
   * index is not worth a sync alone (Raft persists commit lazily): it rides with the next
   * append. A snapshot (already installed in the store by the group host) is recorded as
   * the WAL's snapshot mark, in the same append.
   */
  async persist(ready: Ready): Promise<void> {
    if (ready.hardState !== undefined) this.#hardState = ready.hardState;
    const snap = ready.snapshot?.metadata;
    if (ready.entries.length === 0 && !ready.mustSync && snap === undefined) return;
    const hs = this.#hardState;
    this.#hardState = undefined;
    await this.wal.append(this.groupId, {
      snapshot: snap && { index: snap.index, term: snap.term },
      entries: ready.entries.map(toWalEntry),
      hardState: hs && { term: hs.term, vote: hs.vote, commit: hs.commit },
    });
  }

  /** The newest hard state not written yet (commit-only changes wait for the next append). */
  #hardState: HardState | undefined;
}
