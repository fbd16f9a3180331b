/**
 * ringkv's storage engine: an append-only segment log with an in-memory keydir, durable group
 * commit, hint files and background merge. A library: it knows nothing of HTTP, Raft or the
 * network.
 *
 * On disk, a data directory holds:
 * - `NNNNNN.seg`: segments of records (`crc32 | seq | flags | key length | value length | key |
 *   value`, see record.ts). Only the newest is appended to; it is closed past
 *   `segmentBytesMax`. A batch is its op records plus a commit record, all or nothing.
 * - `NNNNNN.hint`: the keydir entries of a closed segment, sorted by key, with a CRC, so an
 *   open reads hints instead of whole segments.
 * - `MERGE`: present only between a merge's commit and its cleanup (see merge.ts).
 * - `LOCK`: held by the process that has the directory open (pid and host inside).
 *
 * Durability (`sync`): "always" (default) acknowledges a write after fdatasync, shared by all
 * writes waiting at that moment. "interval" and "none" trade durability for speed: a crash of
 * the machine can lose the writes of the last interval, or any recent write.
 *
 * Values returned by get, getVersioned and scan may be shared with the value cache: treat
 * them as read-only.
 */
import { SegmentStore } from "./store.ts";
import type { Store, StoreOptions } from "./types.ts";

export type * from "./types.ts";
export * from "./errors.ts";

/**
 * Opens (creating it if needed) the data directory `dir` and recovers its state.
 * Throws DirectoryLockedError when another opener holds it, CorruptionError when a closed
 * segment is damaged beyond what recovery can skip, RangeError for an option out of range.
 */
export function open(dir: string, options?: StoreOptions): Promise<Store> {
  return SegmentStore.open(dir, options);
}
