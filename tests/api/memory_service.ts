/** An in-memory KvService for handler tests: the same semantics as a standalone node's service. */
import {
  type Bytes,
  compareBytes,
  type KvBatchOp,
  type KvCondition,
  type KvListOptions,
  type KvListPage,
  type KvPutResult,
  type KvService,
  KvServiceError,
  type KvStatus,
  type KvValue,
  type KvWriteOptions,
  prefixEnd,
} from "../../src/cluster/mod.ts";

function hex(key: Bytes): string {
  return Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Keys and values in a Map; versions count from 1 like the store's sequence numbers. */
export class MemoryKvService implements KvService {
  readonly entries = new Map<string, { key: Bytes; value: Bytes; version: number }>();
  lastVersion = 0;
  isReady = true;
  /** When set, every write fails with an error carrying this code. */
  failWritesWith: string | undefined;

  check(key: Bytes, at: { condition?: KvCondition; opIndex: number }): void {
    const { condition, opIndex } = at;
    if (condition === undefined) return;
    const current = this.entries.get(hex(key));
    const ok = "version" in condition
      ? current?.version === condition.version
      : "absent" in condition
      ? current === undefined
      : current !== undefined;
    if (!ok) throw new KvServiceError("condition_failed", "condition failed", { opIndex });
  }

  failIfAsked(): void {
    if (this.failWritesWith !== undefined) {
      const error = new Error("injected failure") as Error & { code: string };
      error.code = this.failWritesWith;
      throw error;
    }
  }

  get(key: Bytes): Promise<KvValue | undefined> {
    const found = this.entries.get(hex(key));
    return Promise.resolve(found && { value: found.value, version: found.version });
  }

  put(key: Bytes, value: Bytes, options: KvWriteOptions = {}): Promise<KvPutResult> {
    this.failIfAsked();
    this.check(key, { condition: options.condition, opIndex: 0 });
    const created = !this.entries.has(hex(key));
    const version = ++this.lastVersion;
    this.entries.set(hex(key), { key: key.slice(), value: value.slice(), version });
    return Promise.resolve({ version, created });
  }

  delete(key: Bytes, options: KvWriteOptions = {}): Promise<number | undefined> {
    this.failIfAsked();
    this.check(key, { condition: options.condition, opIndex: 0 });
    if (!this.entries.delete(hex(key))) return Promise.resolve(undefined);
    return Promise.resolve(++this.lastVersion);
  }

  list(options: KvListOptions): Promise<KvListPage> {
    let start = options.prefix ?? options.start;
    let end = options.prefix !== undefined ? prefixEnd(options.prefix) : options.end;
    if (options.after !== undefined) {
      if (options.reverse) end = options.after;
      else start = new Uint8Array([...options.after, 0]);
    }
    const sorted = [...this.entries.values()].sort((a, b) => compareBytes(a.key, b.key))
      .filter((e) =>
        (start === undefined || compareBytes(e.key, start) >= 0) &&
        (end === undefined || compareBytes(e.key, end) < 0)
      );
    if (options.reverse) sorted.reverse();
    const page = sorted.slice(0, options.limit).map((e) => ({
      key: e.key,
      value: options.keysOnly ? undefined : e.value,
      version: e.version,
    }));
    return Promise.resolve({ entries: page, more: sorted.length > options.limit });
  }

  batch(ops: KvBatchOp[]): Promise<{ version: number }> {
    this.failIfAsked();
    ops.forEach((op, i) => this.check(op.key, { condition: op.condition, opIndex: i }));
    const version = ++this.lastVersion;
    for (const op of ops) {
      if (op.type === "put") {
        this.entries.set(hex(op.key), { key: op.key, value: op.value, version });
      } else {
        this.entries.delete(hex(op.key));
      }
    }
    return Promise.resolve({ version });
  }

  status(): KvStatus {
    return {
      version: this.lastVersion,
      keys: this.entries.size,
      liveBytes: 0,
      deadBytes: 0,
      diskBytes: 0,
      segments: 1,
      merges: 0,
      cacheHits: 3,
      cacheMisses: 1,
      cacheBytes: 0,
    };
  }

  ready(): boolean {
    return this.isReady;
  }

  close(): Promise<void> {
    this.isReady = false;
    return Promise.resolve();
  }
}
