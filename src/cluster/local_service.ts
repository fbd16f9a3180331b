/**
 * The single-node KvService: every call goes straight to one storage engine, whose own
 * durability setting (group-committed fdatasync by default) decides when a write is acked.
 */
import type { BatchOp, Store, WriteCondition } from "../storage/types.ts";
import { listStore, storeStatus } from "./store_view.ts";
import type {
  Bytes,
  KvBatchOp,
  KvCondition,
  KvListOptions,
  KvListPage,
  KvPutResult,
  KvReadOptions,
  KvService,
  KvStatus,
  KvValue,
  KvWriteOptions,
  ReplicaFreshness,
  Version,
} from "./kv_service.ts";

function toStoreCondition(condition: KvCondition | undefined): WriteCondition | undefined {
  if (condition === undefined) return undefined;
  if ("version" in condition) return { seq: condition.version };
  if ("absent" in condition) return { absent: true };
  return { present: true };
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** A KvService backed by one local store; closing the service closes the store. */
export class LocalKvService implements KvService {
  #store: Store;
  #closing = false;

  /** Wraps an open store; the service owns it from now on. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Every consistency level is met by the one local store: `_read` changes nothing. */
  async get(key: Bytes, _read?: KvReadOptions): Promise<KvValue | undefined> {
    const found = await this.#store.getVersioned(key);
    if (found === undefined) return undefined;
    return { value: found.value, version: found.seq };
  }

  getCached(key: Bytes): KvValue | null | undefined {
    const found = this.#store.getCachedVersioned?.(key);
    if (found === undefined || found === null) return found;
    return { value: found.value, version: found.seq };
  }

  async put(key: Bytes, value: Bytes, options: KvWriteOptions = {}): Promise<KvPutResult> {
    const result = await this.#store.put(key, value, { if: toStoreCondition(options.condition) });
    return { version: result.seq, created: !result.existed };
  }

  async delete(key: Bytes, options: KvWriteOptions = {}): Promise<Version | undefined> {
    const condition = toStoreCondition(options.condition);
    try {
      // Without a condition, require presence so a missing key writes no tombstone.
      const result = await this.#store.delete(key, { if: condition ?? { present: true } });
      return result.seq;
    } catch (error) {
      if (condition === undefined && hasCode(error, "condition_failed")) return undefined;
      throw error;
    }
  }

  async list(options: KvListOptions, _read?: KvReadOptions): Promise<KvListPage> {
    return await listStore(this.#store, options);
  }

  async batch(ops: KvBatchOp[]): Promise<{ version: Version }> {
    const storeOps: BatchOp[] = ops.map((op) =>
      op.type === "put"
        ? { type: "put", key: op.key, value: op.value, if: toStoreCondition(op.condition) }
        : { type: "delete", key: op.key, if: toStoreCondition(op.condition) }
    );
    const result = await this.#store.batch(storeOps);
    return { version: result.seq };
  }

  /** A single node is its own leader: its state is never behind. */
  replicaFreshness(): ReplicaFreshness {
    return { appliedIndex: this.#store.stats().lastSeq, leaderContactAgoMs: 0 };
  }

  status(): KvStatus {
    return storeStatus(this.#store);
  }

  ready(): boolean {
    return !this.#closing;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#store.close();
  }
}
