/** Public types of the shared Raft write-ahead log. */
import type { Logger } from "../../log.ts";

/** A Raft group's id on this node: an unsigned 32-bit integer. */
export type GroupId = number;

/** One log entry as the WAL stores it: opaque bytes with numbers. */
export interface WalEntry {
  /** Position in the group's log, from 1. */
  index: number;
  /** Term of the leader that created the entry. */
  term: number;
  /** An opaque entry kind byte (0..255); the WAL does not interpret it. */
  type: number;
  /** The entry's bytes. Entries handed out by the WAL must not be mutated. */
  data: Uint8Array;
}

/** A group's Raft hard state. */
export interface WalHardState {
  term: number;
  /** The member voted for in `term`, or null. */
  vote: string | null;
  commit: number;
}

/** A snapshot marker: the group's log up to and including `index` (of `term`) may be dropped. */
export interface WalSnapshotMark {
  index: number;
  term: number;
}

/**
 * What one `append` persists for one group, applied in this order: snapshot marker, suffix
 * truncation, entries, hard state.
 */
export interface WalAppend {
  /** Install a snapshot marker (Raft's rule: keep the suffix after it if it matches, else drop all). */
  snapshot?: WalSnapshotMark;
  /** Drop the entries at and after this index (Raft overwrote a conflicting tail). */
  truncateFrom?: number;
  /** Contiguous entries; if the first one is at or below lastIndex, the tail from it is replaced. */
  entries?: readonly WalEntry[];
  hardState?: WalHardState;
}

/** Options of `openWal`; every limit has a default. */
export interface WalOptions {
  /** A file is closed and a new one started once it reaches this size. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Largest entry data accepted. Default 8 MiB. */
  entryBytesMax?: number;
  /** Largest encoded size of one append (all its records). Default 16 MiB. */
  appendBytesMax?: number;
  /** Appends waiting for a flush beyond this are refused with WalQueueFullError. Default 8192. */
  appendQueueMax?: number;
  /** One flush writes at most about this many bytes (one append may exceed it alone). Default 4 MiB. */
  flushBytesMax?: number;
  /** Entry bytes kept in memory after appending (older ones are read from the files). Default 64 MiB. */
  cacheBytesMax?: number;
  /** Longest vote (member id) in UTF-8 bytes. Default 1024. */
  voteBytesMax?: number;
  /** Groups tracked at most. Default 65536. */
  groupsMax?: number;
  /**
   * When an append counts as durable: "always" (default) after syncData(); "interval" once
   * written, with a sync every syncIntervalMs; "none" once written, synced only when a file
   * is closed. Only a node alone in its groups may use the last two: a Raft voter that
   * forgets what it acknowledged can lose a committed entry.
   */
  sync?: "always" | "interval" | "none";
  /** Period of the background sync with sync "interval". Default 100 ms. */
  syncIntervalMs?: number;
  /** Structured logger; default silent. */
  logger?: Logger;
  /**
   * Awaited before every fsync when it returns a promise (fault injection in tests slows
   * the disk with it). Default none: no call, no cost.
   */
  beforeSync?: () => Promise<void> | undefined;
  /** Hooks for metrics; the WAL itself imports no metrics library. */
  observer?: WalObserver;
}

/** Callbacks the WAL makes as it works, so a host can export metrics. All optional. */
export interface WalObserver {
  /** One flush's syncData() finished; `entries` log entries became durable with it. */
  synced?(durationSeconds: number, entries: number): void;
  /** An append of `group` became durable `durationSeconds` after `append` (queue, write, sync). */
  appended?(group: GroupId, durationSeconds: number): void;
}

/** Counters and sizes of an open WAL. */
export interface WalStats {
  /** `append` calls that became durable. */
  appends: number;
  /** Records written (entries, hard states, markers, truncations, file checkpoints). */
  records: number;
  /** Writes to the active file (one per flush). */
  flushes: number;
  /** syncData() calls that completed. */
  syncs: number;
  bytesWritten: number;
  /** Appends failed by an I/O error (disk full ...). */
  failedAppends: number;
  /** WAL files now on disk, and their total size. */
  files: number;
  fileBytes: number;
  /** Files deleted by garbage collection since open. */
  filesDeleted: number;
  groups: number;
  /** Entries held across groups, and their data bytes kept in memory. */
  entries: number;
  cachedBytes: number;
  /** Entry reads that had to go to a file. */
  fileReads: number;
  /** Appends waiting for a flush. */
  pending: number;
  /** Time open() spent rebuilding the groups from the files. */
  recoveryMs: number;
}
