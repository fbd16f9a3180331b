/**
 * The storage engine's public contract. Everything above storage (the Raft state machine,
 * the snapshots, the benchmarks) depends on these types only, never on the files.
 */
import type { Logger } from "../log.ts";

/** Raw bytes: keys and values are bytes; strings are a convenience at the edge. */
export type Bytes = Uint8Array;

/**
 * When a write is acknowledged.
 * - "always": after its bytes are fdatasync'ed (group commit shares one sync). The default.
 * - "interval": after the write(2); synced every `syncIntervalMs`. A crash loses up to that window.
 * - "none": after the write(2); never synced by the store. A crash may lose any recent write.
 */
export type SyncMode = "always" | "interval" | "none";

/** Options of `open(dir, options)`; every field has a default. */
export interface StoreOptions {
  /** A segment is closed and a new one opened past this size. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Longest key accepted, in bytes. Default 1024. Keys are at least 1 byte. */
  keyBytesMax?: number;
  /** Largest value accepted, in bytes. Default 1 MiB; at most 64 MiB. */
  valueBytesMax?: number;
  /** Most operations in one batch. Default 10_000. */
  batchOpsMax?: number;
  /** Most key+value bytes in one batch. Default 64 MiB. */
  batchBytesMax?: number;
  /** Bytes of values kept by the LRU value cache. Default 64 MiB; 0 disables it. */
  cacheBytesMax?: number;
  /** Durability of acknowledged writes. Default "always". */
  sync?: SyncMode;
  /** Period of background syncs when `sync` is "interval". Default 100 ms. */
  syncIntervalMs?: number;
  /** Writes that would grow the data directory past this are refused. Default 0 = no quota. */
  diskBytesMax?: number;
  /** A closed segment whose dead bytes / total bytes pass this is merged. Default 0.5. */
  mergeDeadRatioMin?: number;
  /** Run merges in the background when segments pass the threshold. Default true. */
  mergeAuto?: boolean;
  /** Where recovery and merge report what they did. Default: silent. */
  logger?: Logger;
  /** Hooks for metrics; storage itself imports no metrics library. */
  observer?: StoreObserver;
  /**
   * Awaited before every fdatasync of written data when it returns a promise (fault
   * injection in tests slows the disk with it). Default none: no call, no cost.
   */
  beforeSync?: () => Promise<void> | undefined;
}

/** Callbacks the store makes as it works, so a host can export metrics. All optional. */
export interface StoreObserver {
  /** One fdatasync finished; `writes` acknowledged writes shared it (the group-commit size). */
  synced?(durationSeconds: number, writes: number): void;
  /** One merge pass finished. */
  merged?(result: MergeResult, durationSeconds: number): void;
}

/** A stored value with its version. */
export interface VersionedValue {
  value: Bytes;
  /** Sequence number of the record that wrote this value: the key's version. */
  seq: number;
}

/** A key with its version and (unless keysOnly) its value, as returned by scan. */
export interface ScanEntry {
  key: Bytes;
  /** Absent when the scan asked for keys only. */
  value?: Bytes;
  seq: number;
}

/**
 * Condition on the current state of a key, checked atomically with the write.
 * - `{ seq: n }`: the key exists with version n (compare-and-set).
 * - `{ absent: true }`: the key does not exist (create only).
 * - `{ present: true }`: the key exists, whatever its version.
 */
export type WriteCondition = { seq: number } | { absent: true } | { present: true };

/** One operation of a batch. */
export type BatchOp =
  | { type: "put"; key: Bytes; value: Bytes; if?: WriteCondition }
  | { type: "delete"; key: Bytes; if?: WriteCondition };

/** Options of a single write. */
export interface WriteOptions {
  /** The write happens only if this holds; otherwise it fails with ConditionFailedError. */
  if?: WriteCondition;
  /**
   * Sequence number to write with (a Raft index when the store is a state machine); it must be
   * greater than every sequence number already written. Default: the last one + 1.
   */
  seq?: number;
}

/** Result of a successful write: the version it created (for a delete, of the tombstone). */
export interface WriteResult {
  seq: number;
  /** For put: whether the key existed before. For delete: whether anything was deleted. */
  existed: boolean;
}

/** Options of scan. `prefix` and `start`/`end` are exclusive of each other. */
export interface ScanOptions {
  /** Only keys starting with these bytes. */
  prefix?: Bytes;
  /** First key (inclusive). */
  start?: Bytes;
  /** Last key (exclusive). */
  end?: Bytes;
  /** Most entries returned. Default: all. */
  limit?: number;
  /** Descending key order. */
  reverse?: boolean;
  /** Do not read values. */
  keysOnly?: boolean;
}

/** What the store reports about itself (for /status and metrics). */
export interface StoreStats {
  keys: number;
  /** Bytes of records that are the current version of a key. */
  liveBytes: number;
  /** Bytes of overwritten or deleted records that a merge would reclaim. */
  deadBytes: number;
  /** Bytes of all segment and hint files. */
  diskBytes: number;
  segments: number;
  /** Last sequence number written. */
  lastSeq: number;
  merges: number;
  cacheHits: number;
  cacheMisses: number;
  cacheBytes: number;
  syncs: number;
  /** Writes acknowledged by those syncs (writes / syncs is the mean group-commit size). */
  syncedWrites: number;
}

/** Result of one merge pass. */
export interface MergeResult {
  segmentsMerged: number;
  bytesReclaimed: number;
}

/** A consistent image of a store made by `checkpoint`: its files and the last seq it holds. */
export interface StoreCheckpoint {
  lastSeq: number;
  /** File names in the image directory, with their sizes in bytes. */
  files: { name: string; bytes: number }[];
}

/** An open data directory. All methods throw StoreClosedError after close(). */
export interface Store {
  /** The current value of key, or undefined. Throws CorruptionError for a damaged record. */
  get(key: Bytes): Promise<Bytes | undefined>;
  /** The current value of key with its version, or undefined. */
  getVersioned(key: Bytes): Promise<VersionedValue | undefined>;
  /**
   * The value and version of key answered from memory only, without a Promise: the value
   * when it is cached, null when the key does not exist, undefined when it exists but its
   * value is not cached (use getVersioned). Throws like getVersioned for a bad key or a
   * closed store. Optional: stores without a cache may leave it out.
   */
  getCachedVersioned?(key: Bytes): VersionedValue | null | undefined;
  /** Whether key currently exists (no disk read). */
  has(key: Bytes): boolean;
  /** The version of key, or undefined when missing (no disk read). */
  version(key: Bytes): number | undefined;
  /** Writes key=value; resolves when durable as `sync` says. */
  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult>;
  /** Deletes key (writes a tombstone); `existed` false when it was missing. */
  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Applies all ops atomically, all or nothing, across crashes too. Every op's condition is
   * checked first; if one fails nothing is written (ConditionFailedError names its index).
   */
  batch(ops: BatchOp[], options?: { seq?: number }): Promise<{ seq: number }>;
  /** Entries in key order (or reverse), at most `limit`. */
  scan(options?: ScanOptions): Promise<ScanEntry[]>;
  /** Makes every acknowledged write durable now. */
  sync(): Promise<void>;
  /**
   * Hard-links a consistent image of the store into the new directory `dir` (same file
   * system); undefined when it cannot be made at this moment (try again later). Optional.
   */
  checkpoint?(dir: string): Promise<StoreCheckpoint | undefined>;
  /** Merges the closed segments past the dead-bytes threshold now. */
  merge(): Promise<MergeResult>;
  /** Finishes pending writes, syncs, releases the directory lock. Idempotent. */
  close(): Promise<void>;
  stats(): StoreStats;
}
