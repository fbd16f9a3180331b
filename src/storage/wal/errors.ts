/**
 * Errors specific to the write-ahead log. I/O, corruption, lock and closed errors reuse the
 * storage engine's classes (src/storage/errors.ts) so callers branch on one set of codes.
 */

/** Stable machine-readable reasons a WAL call was refused. */
export type WalErrorCode =
  | "record_too_large"
  | "queue_full"
  | "invalid_append"
  | "compacted"
  | "unavailable";

/** Base of the WAL's own errors; `code` is what callers branch on. */
export class WalError extends Error {
  constructor(readonly code: WalErrorCode, message: string) {
    super(message);
    this.name = "WalError";
  }
}

/** An entry, a vote or a whole append is larger than the configured limit; nothing was written. */
export class WalRecordTooLargeError extends WalError {
  constructor(message: string) {
    super("record_too_large", message);
  }
}

/** More appends are waiting than appendQueueMax; nothing was written, retry after some finish. */
export class WalQueueFullError extends WalError {
  constructor(message: string) {
    super("queue_full", message);
  }
}

/** An append breaks the log's shape (a gap, an index below the compacted prefix ...); nothing of it was written. */
export class WalInvalidAppendError extends WalError {
  constructor(message: string) {
    super("invalid_append", message);
  }
}

/** The requested index lies at or below the group's compacted prefix (snapshot marker). */
export class WalCompactedError extends WalError {
  constructor(message: string) {
    super("compacted", message);
  }
}

/** The requested index lies beyond the group's last entry. */
export class WalUnavailableError extends WalError {
  constructor(message: string) {
    super("unavailable", message);
  }
}
