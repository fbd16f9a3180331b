/**
 * The shared Raft write-ahead log: every group's entries, hard state and snapshot markers in
 * one append-only, segmented log with group commit. Entries are opaque bytes with numbers;
 * this module knows nothing of Raft's messages.
 *
 * - `append(group, {snapshot?, truncateFrom?, entries?, hardState?})` resolves when durable;
 *   appends of many groups waiting together share one write and one syncData().
 * - Reads (`entries`, `term`, `firstIndex`, `lastIndex`, `hardState`) are synchronous and see
 *   only durable state. Entries are indexed in memory (term, file, offset); the data of recent
 *   ones is kept up to cacheBytesMax, older data is read from the files.
 * - `releaseBefore(group, index)` says the group's store has synced below `index`; a file is
 *   deleted once every group has released (or snapshotted past) what a replay would need it for.
 * - Open rebuilds every group; a torn tail of the newest file is cut off and logged, damage in
 *   an older file fails the open with CorruptionError. One opener per directory (WAL.LOCK).
 */
export { openWal, Wal } from "./wal.ts";
export type {
  GroupId,
  WalAppend,
  WalEntry,
  WalHardState,
  WalObserver,
  WalOptions,
  WalSnapshotMark,
  WalStats,
} from "./types.ts";
export {
  WalCompactedError,
  WalError,
  WalInvalidAppendError,
  WalQueueFullError,
  WalRecordTooLargeError,
  WalUnavailableError,
} from "./errors.ts";
export type { WalErrorCode } from "./errors.ts";
export {
  CorruptionError,
  DirectoryLockedError,
  DiskFullError,
  StoreClosedError,
  StoreIoError,
} from "../errors.ts";
