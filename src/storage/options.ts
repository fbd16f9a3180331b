/** StoreOptions with defaults applied and ranges checked. */
import { silentLogger } from "../log.ts";
import type { Logger } from "../log.ts";
import { RECORD_KEY_BYTES_MAX, RECORD_VALUE_BYTES_MAX } from "./record.ts";
import type { StoreObserver, StoreOptions, SyncMode } from "./types.ts";

const MIB = 1024 * 1024;

/** Every option of the store, resolved. */
export interface ResolvedOptions {
  segmentBytesMax: number;
  keyBytesMax: number;
  valueBytesMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
  cacheBytesMax: number;
  sync: SyncMode;
  syncIntervalMs: number;
  diskBytesMax: number;
  mergeDeadRatioMin: number;
  mergeAuto: boolean;
  logger: Logger;
  observer: StoreObserver;
  beforeSync: (() => Promise<void> | undefined) | undefined;
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/** Applies defaults; throws RangeError for a value out of its range. */
export function resolveOptions(o: StoreOptions = {}): ResolvedOptions {
  const sync = o.sync ?? "always";
  if (sync !== "always" && sync !== "interval" && sync !== "none") {
    throw new RangeError(`sync must be "always", "interval" or "none", got ${sync}`);
  }
  const ratio = o.mergeDeadRatioMin ?? 0.5;
  if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`mergeDeadRatioMin must be in (0, 1]`);
  return {
    segmentBytesMax: checkInt("segmentBytesMax", o.segmentBytesMax ?? 64 * MIB, 256, 1024 * MIB),
    keyBytesMax: checkInt("keyBytesMax", o.keyBytesMax ?? 1024, 1, RECORD_KEY_BYTES_MAX),
    valueBytesMax: checkInt("valueBytesMax", o.valueBytesMax ?? MIB, 0, RECORD_VALUE_BYTES_MAX),
    batchOpsMax: checkInt("batchOpsMax", o.batchOpsMax ?? 10_000, 1, 1_000_000),
    batchBytesMax: checkInt("batchBytesMax", o.batchBytesMax ?? 64 * MIB, 1, 256 * MIB),
    cacheBytesMax: checkInt("cacheBytesMax", o.cacheBytesMax ?? 64 * MIB, 0, 2 ** 40),
    sync,
    syncIntervalMs: checkInt("syncIntervalMs", o.syncIntervalMs ?? 100, 1, 3_600_000),
    diskBytesMax: checkInt("diskBytesMax", o.diskBytesMax ?? 0, 0, Number.MAX_SAFE_INTEGER),
    mergeDeadRatioMin: ratio,
    mergeAuto: o.mergeAuto ?? true,
    logger: o.logger ?? silentLogger,
    observer: o.observer ?? {},
    beforeSync: o.beforeSync,
  };
}
