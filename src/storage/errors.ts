/** Errors the storage engine throws; `code` is stable and what callers branch on. */

/** Stable machine-readable reasons a storage operation failed. */
export type StoreErrorCode =
  | "key_invalid"
  | "value_too_large"
  | "batch_too_large"
  | "condition_failed"
  | "disk_full"
  | "quota_exceeded"
  | "io_error"
  | "corruption"
  | "locked"
  | "closed";

/** Base of every storage error. */
export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** A key is empty or longer than keyBytesMax. */
export class KeyInvalidError extends StoreError {
  constructor(message: string) {
    super("key_invalid", message);
  }
}

/** A value is longer than valueBytesMax. */
export class ValueTooLargeError extends StoreError {
  constructor(message: string) {
    super("value_too_large", message);
  }
}

/** A batch has more ops than batchOpsMax or more bytes than batchBytesMax. */
export class BatchTooLargeError extends StoreError {
  constructor(message: string) {
    super("batch_too_large", message);
  }
}

/** A write's condition did not hold; nothing was written. `opIndex` names the batch op. */
export class ConditionFailedError extends StoreError {
  constructor(message: string, readonly opIndex = 0, readonly currentSeq?: number) {
    super("condition_failed", message);
  }
}

/** The disk has no space left (ENOSPC); the write failed, the store stays usable. */
export class DiskFullError extends StoreError {
  constructor(message: string, options?: ErrorOptions) {
    super("disk_full", message, options);
  }
}

/** The write would take the data directory past diskBytesMax. */
export class QuotaExceededError extends StoreError {
  constructor(message: string) {
    super("quota_exceeded", message);
  }
}

/** Another I/O error (EIO ...) failed the write; the store stays usable for reads. */
export class StoreIoError extends StoreError {
  constructor(message: string, options?: ErrorOptions) {
    super("io_error", message, options);
  }
}

/** A record failed its CRC or framing check; `file` and `offset` say where. */
export class CorruptionError extends StoreError {
  constructor(message: string, readonly file: string, readonly offset: number) {
    super("corruption", message);
  }
}

/** The data directory is locked by another process (named in the message). */
export class DirectoryLockedError extends StoreError {
  constructor(message: string) {
    super("locked", message);
  }
}

/** The store was closed. */
export class StoreClosedError extends StoreError {
  constructor() {
    super("closed", "the store is closed");
  }
}
