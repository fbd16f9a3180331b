/**
 * The shared Raft write-ahead log: every group's entries, hard state and snapshot markers in
 * one append-only, segmented log with group commit. Entries are opaque bytes with numbers;
 * this module knows nothing of Raft's messages.
 */
export { openWal, Wal } from "./wal.ts";
export type {
  GroupId,
  WalAppend,
  WalEntry,
  WalHardState,
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
