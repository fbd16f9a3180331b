/**
 * The key-value service the HTTP API calls. The API does not know how a write becomes
 * durable: the replicated service implements this over the Raft group, also for a node
 * alone (a cluster of one). Keys and values are bytes; versions are integers.
 */
import type { StoreErrorCode } from "../storage/errors.ts";

/** Raw bytes of a key or a value. */
export type Bytes = Uint8Array;

/** A key's version: the Raft log index of the entry that wrote it (the store's record sequence). */
export type Version = number;

/**
 * Condition on the current state of a key, checked atomically with the write.
 * - `{ version: n }`: the key exists with version n (compare-and-set).
 * - `{ absent: true }`: the key does not exist (create only).
 * - `{ present: true }`: the key exists, whatever its version.
 */
export type KvCondition = { version: Version } | { absent: true } | { present: true };

/**
 * How fresh a read must be:
 * - "linearizable" (default): sees every write acknowledged before the read began (ReadIndex:
 *   the leader confirms its leadership with a quorum round).
 * - "lease": the same guarantee, served by the leader from its lease without a quorum round;
 *   it assumes clocks that drift within bounds.
 * - "stale": this replica's local state at once, with no leader needed; it may lag behind
 *   (see {@link ReplicaFreshness}).
 */
export type ReadConsistency = "linearizable" | "lease" | "stale";

/** Every {@link ReadConsistency}, in the order documented. */
export const readConsistencies: readonly ReadConsistency[] = ["linearizable", "lease", "stale"];

/** Options of a read (get, list). */
export interface KvReadOptions {
  /** Default "linearizable". */
  consistency?: ReadConsistency;
}

/** How far behind a stale read of this replica may be. */
export interface ReplicaFreshness {
  /** Highest log index (version) applied to this replica's state. */
  appliedIndex: number;
  /**
   * Milliseconds since this replica last heard from a leader (0 on the leader itself), or
   * null when it has not heard from one since it started.
   */
  leaderContactAgoMs: number | null;
}

/** A value with its version. */
export interface KvValue {
  value: Bytes;
  version: Version;
}

/** Result of a put. */
export interface KvPutResult {
  version: Version;
  /** True when the key did not exist before this put. */
  created: boolean;
}

/** Options of a single write. */
export interface KvWriteOptions {
  /** The write happens only if this holds; otherwise it fails with code "condition_failed". */
  condition?: KvCondition;
}

/** One operation of a batch. */
export type KvBatchOp =
  | { type: "put"; key: Bytes; value: Bytes; condition?: KvCondition }
  | { type: "delete"; key: Bytes; condition?: KvCondition };

/**
 * Options of list. `prefix` and `start`/`end` exclude each other. `after` continues a listing:
 * only keys strictly after it in the listing's direction are returned.
 */
export interface KvListOptions {
  prefix?: Bytes;
  /** First key, inclusive. */
  start?: Bytes;
  /** Last key, exclusive. */
  end?: Bytes;
  /** Continuation point: the last key of the previous page. */
  after?: Bytes;
  /** Most entries returned; at least 1. */
  limit: number;
  reverse?: boolean;
  keysOnly?: boolean;
}

/** One listed key. `value` is absent when the listing asked for keys only. */
export interface KvListEntry {
  key: Bytes;
  value?: Bytes;
  version: Version;
}

/** A page of a listing; `more` says whether keys remain past the last entry. */
export interface KvListPage {
  entries: KvListEntry[];
  more: boolean;
}

/** What the service reports about itself (for /status and metrics). */
export interface KvStatus {
  /** Highest version written so far. */
  version: Version;
  keys: number;
  liveBytes: number;
  deadBytes: number;
  diskBytes: number;
  segments: number;
  merges: number;
  cacheHits: number;
  cacheMisses: number;
  cacheBytes: number;
}

/**
 * Stable reasons a service call fails, carried as `code` on the thrown error. The storage
 * engine's codes pass through unchanged; the service adds its own.
 */
export type KvErrorCode =
  | StoreErrorCode
  | "unavailable"
  /** No leader or quorum: the write certainly was not applied; retry later. */
  | "no_leader"
  /** The leader was lost after proposing: the write may or may not have been applied. */
  | "outcome_unknown";

/**
 * An error with a stable `code` raised by the service itself (not passed from storage);
 * `opIndex` names the failing op of a batch.
 */
export class KvServiceError extends Error {
  readonly opIndex?: number;

  constructor(readonly code: KvErrorCode, message: string, options: { opIndex?: number } = {}) {
    super(message);
    this.name = "KvServiceError";
    this.opIndex = options.opIndex;
  }
}

/**
 * The operations behind the HTTP API. Every method may throw an error with a `code` from
 * {@link KvErrorCode}; callers branch on that code, never on the error's class.
 */
export interface KvService {
  /**
   * The value and version of key, or undefined when it does not exist, as fresh as
   * `options.consistency` asks (default linearizable).
   */
  get(key: Bytes, options?: KvReadOptions): Promise<KvValue | undefined>;
  /**
   * Optional synchronous read from memory, for the HTTP GET fast path: the value when it is
   * at hand now, null when the key certainly does not exist, undefined when unknown without
   * waiting (then call get). Only services whose get is a local read may offer it.
   */
  getCached?(key: Bytes): KvValue | null | undefined;
  /**
   * Optional: false when getCached would answer undefined for every key now (a replica that
   * must confirm a read point first), so the caller can skip trying it.
   */
  servesCachedNow?(): boolean;
  /** Writes key=value when the condition (if any) holds. */
  put(key: Bytes, value: Bytes, options?: KvWriteOptions): Promise<KvPutResult>;
  /**
   * Deletes key when the condition (if any) holds. Resolves to the deletion's version, or to
   * undefined when the key did not exist and no condition was given.
   */
  delete(key: Bytes, options?: KvWriteOptions): Promise<Version | undefined>;
  /** One page of keys in order (or reverse order), as fresh as `read.consistency` asks. */
  list(options: KvListOptions, read?: KvReadOptions): Promise<KvListPage>;
  /**
   * Optional: how far behind this replica's local state may be, sampled now. Call it just
   * before a stale read: the read reflects at least `appliedIndex`.
   */
  replicaFreshness?(): ReplicaFreshness;
  /** Applies every op or none; resolves to the batch's version. */
  batch(ops: KvBatchOp[]): Promise<{ version: Version }>;
  /** Current figures. */
  status(): KvStatus;
  /** Whether writes can be served now. */
  ready(): boolean;
  /** Makes every acknowledged write durable, then releases resources. Idempotent. */
  close(): Promise<void>;
}
