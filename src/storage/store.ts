/**
 * The segment-log store: an append-only log of records in numbered segment files, an ordered
 * in-memory keydir, group commit of concurrent writes, a byte-bounded value cache.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { basename, join } from "node:path";
import { LRUCache } from "lru-cache";
import type { Logger } from "../log.ts";
import { type DirLock, lockDirectory } from "./dir_lock.ts";
import {
  BatchTooLargeError,
  ConditionFailedError,
  CorruptionError,
  DiskFullError,
  KeyInvalidError,
  QuotaExceededError,
  StoreClosedError,
  type StoreError,
  StoreIoError,
  ValueTooLargeError,
} from "./errors.ts";
import { encodeHint, type HintEntry, sortHintEntries } from "./hint.ts";
import { Entry, type Keydir, prefixEnd } from "./keydir.ts";
import { type MergeHost, reclaimableRatio, runMerge } from "./merge.ts";
import { type ResolvedOptions, resolveOptions } from "./options.ts";
import {
  FLAG_BATCH,
  HEADER_BYTES,
  headerPlausible,
  keyStringAt,
  keyToString,
  KIND_COMMIT,
  KIND_DELETE,
  KIND_PUT,
  KIND_SEQ_MARK,
  nodeBuffer,
  readHeader,
  recordBytes,
  recordCrcValid,
  stringToKey,
  writeRecord,
} from "./record.ts";
import { MERGE_MANIFEST, recover, type SegmentMeta } from "./recovery.ts";
import { writeAll, writeAllBounded, writeAllSync } from "./file_write.ts";
import { hintPath, segmentPath, syncDir } from "./segment_files.ts";
import { SegmentScanner } from "./segment_scanner.ts";
import type {
  BatchOp,
  Bytes,
  MergeResult,
  ScanEntry,
  ScanOptions,
  Store,
  StoreCheckpoint,
  StoreOptions,
  StoreStats,
  VersionedValue,
  WriteCondition,
  WriteOptions,
  WriteResult,
} from "./types.ts";

const yieldNow = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Most bytes written by one group commit (a single larger write goes alone). */
const GROUP_BYTES_MAX = 8 * 1024 * 1024;
/** Most writes sharing one group commit. */
const GROUP_WRITES_MAX = 8192;
/** Most writes waiting for their group; more are refused (back-pressure). */
const QUEUE_WRITES_MAX = 1_000_000;
/** A scan reads two records with one read when at most this many bytes lie between them. */
const SCAN_GAP_BYTES_MAX = 4096;
/** Largest single read of a scan. */
const SCAN_SPAN_BYTES_MAX = 1024 * 1024;
/** On close, the active segment gets a hint file when it holds at least this many bytes. */
const HINT_ON_CLOSE_BYTES_MIN = 1024 * 1024;

interface Op {
  kind: number;
  key: Uint8Array;
  keyStr: string;
  /** Value bytes inside the pending write's encoded buffer (puts only). */
  value?: Uint8Array;
  cond?: WriteCondition;
}

interface Pending {
  ops: Op[];
  batch: boolean;
  seq: number;
  /** The encoded records of this write. */
  buf: Uint8Array;
  existed: boolean;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

interface Active {
  meta: SegmentMeta;
  writer: Deno.FsFile;
}

class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(() => {}, () => {});
    return result;
  }
}

/** Fills `at.buf` from `fd` at `at.position` with positioned reads; returns the bytes read. */
function preadFull(fd: number, at: { buf: Uint8Array; position: number }): number {
  const { buf, position } = at;
  let done = 0;
  while (done < buf.byteLength) {
    const n = readSync(fd, buf, done, buf.byteLength - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function ioError(err: unknown, what: string): StoreError {
  const code = (err as { code?: string })?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DiskFullError(`${what}: the disk is full; free space and retry`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StoreIoError(`${what}: ${message}`, { cause: err });
}

function conditionHolds(cond: WriteCondition | undefined, current: number | undefined): boolean {
  if (cond === undefined) return true;
  if ("seq" in cond) return current === cond.seq;
  if ("absent" in cond) return current === undefined;
  return current !== undefined;
}

/** The Store implementation; use `open` from mod.ts. */
export class SegmentStore implements Store, MergeHost {
  readonly dir: string;
  readonly cfg: ResolvedOptions;
  readonly logger: Logger;
  keydir: Keydir;
  segments: Map<number, SegmentMeta>;
  active!: Active;
  maxId: number;
  #lock: DirLock;
  #lastSeq: number;
  #seqQueued: number;
  #queue: Pending[] = [];
  #flushing = false;
  #flushDone: Promise<void> = Promise.resolve();
  readonly ioMutex = new Mutex();
  #cache: LRUCache<string, Uint8Array> | undefined;
  #dirty = false;
  #truncateTo: number | undefined = undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #background = new Set<Promise<unknown>>();
  #merging: Promise<MergeResult> | undefined;
  #mergeDeclined = new Set<number>();
  mergeAbort = false;
  #counters = { merges: 0, hits: 0, misses: 0, syncs: 0, syncedWrites: 0 };

  private constructor(dir: string, cfg: ResolvedOptions, lock: DirLock, rec: {
    keydir: Keydir;
    segments: Map<number, SegmentMeta>;
    lastSeq: number;
    maxId: number;
  }) {
    this.dir = dir;
    this.cfg = cfg;
    this.logger = cfg.logger;
    this.#lock = lock;
    this.keydir = rec.keydir;
    this.segments = rec.segments;
    this.#lastSeq = rec.lastSeq;
    this.#seqQueued = rec.lastSeq;
    this.maxId = rec.maxId;
    if (cfg.cacheBytesMax > 0) {
      this.#cache = new LRUCache<string, Uint8Array>({
        maxSize: cfg.cacheBytesMax,
        sizeCalculation: (v) => v.byteLength + 64,
      });
    }
  }

  /** Opens (creating if needed) and locks `dir`, recovering its state. */
  static async open(dir: string, options: StoreOptions = {}): Promise<SegmentStore> {
    const cfg = resolveOptions(options);
    await Deno.mkdir(dir, { recursive: true });
    const lock = lockDirectory(dir);
    try {
      const t0 = performance.now();
      const rec = await recover(dir, cfg.logger);
      const store = new SegmentStore(dir, cfg, lock, rec);
      if (rec.activeId !== undefined) {
        const writer = await Deno.open(segmentPath(dir, rec.activeId), {
          write: true,
          append: true,
        });
        store.active = { meta: rec.segments.get(rec.activeId)!, writer };
      } else {
        store.active = await store.#createSegment(store.allocateId());
      }
      store.#startTimer();
      cfg.logger.info("store opened", {
        dir,
        keys: store.keydir.size,
        segments: store.segments.size,
        lastSeq: store.#lastSeq,
        ms: Math.round(performance.now() - t0),
      });
      store.maybeMerge();
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  // ---- reads ----

  get(key: Bytes): Promise<Bytes | undefined> {
    try {
      this.#checkOpen();
      this.#checkKey(key);
      const k = keyToString(key);
      // The cache always agrees with the keydir (writes update both at once), so a hit
      // needs no keydir lookup.
      const cached = this.#cache?.get(k);
      if (cached !== undefined) {
        this.#counters.hits++;
        return Promise.resolve(cached);
      }
      const e = this.keydir.get(k);
      return Promise.resolve(e === undefined ? undefined : this.#valueOf(k, e));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  getVersioned(key: Bytes): Promise<VersionedValue | undefined> {
    try {
      return Promise.resolve(this.#read(key));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The synchronous, memory-only read behind the HTTP GET fast path: no Promise, no Entry
   * snapshot, no disk read. Counts a cache hit when it answers with a value.
   */
  getCachedVersioned(key: Bytes): VersionedValue | null | undefined {
    this.#checkOpen();
    this.#checkKey(key);
    const k = keyToString(key);
    const seq = this.keydir.seqOf(k);
    if (seq === undefined) return null;
    // The cache always agrees with the keydir (writes update both at once).
    const value = this.#cache?.get(k);
    if (value === undefined) return undefined;
    this.#counters.hits++;
    return { value, seq };
  }

  has(key: Bytes): boolean {
    this.#checkOpen();
    return this.keydir.has(keyToString(key));
  }

  version(key: Bytes): number | undefined {
    this.#checkOpen();
    return this.keydir.seqOf(keyToString(key));
  }

  #read(key: Bytes): VersionedValue | undefined {
    this.#checkOpen();
    this.#checkKey(key);
    const k = keyToString(key);
    const e = this.keydir.get(k);
    if (e === undefined) return undefined;
    return { value: this.#valueOf(k, e), seq: e.seq };
  }

  #valueOf(k: string, e: Entry): Uint8Array {
    const cache = this.#cache;
    if (cache !== undefined) {
      const v = cache.get(k);
      if (v !== undefined) {
        this.#counters.hits++;
        return v;
      }
      this.#counters.misses++;
    }
    const value = this.readValue(k, e);
    cache?.set(k, value);
    return value;
  }

  /** Reads and checks the record of `e`; throws CorruptionError when it is damaged. */
  readValue(k: string, e: Entry): Uint8Array {
    return this.#checkRecord(this.#readSpan(e.segment, e), k, e);
  }

  /** The value of the record `buf` read for `e`; throws CorruptionError when it is damaged. */
  #checkRecord(buf: Uint8Array, k: string, e: Entry): Uint8Array {
    const h = readHeader(buf, 0);
    const ok = buf.byteLength === e.length && h !== undefined && headerPlausible(h) &&
      h.length === e.length && h.keyBytes === k.length && recordCrcValid(buf, h) &&
      keyMatches(buf, k);
    if (!ok) {
      const file = segmentPath(this.dir, e.segment);
      this.logger.error("corrupt record", { file, offset: e.offset });
      throw new CorruptionError(
        `the record of this key is damaged (${file} at offset ${e.offset}); restore it from a ` +
          `replica or backup`,
        file,
        e.offset,
      );
    }
    return buf.subarray(HEADER_BYTES + h.keyBytes);
  }

  /**
   * The values of many keys: cached ones from the cache, the rest read from disk with one
   * positioned read per run of nearby records (a scan's records usually lie together).
   * Scans do not fill the cache, so one big scan cannot evict the hot set.
   */
  #readValues(keys: string[], entries: Entry[]): Uint8Array[] {
    const values = new Array<Uint8Array>(keys.length);
    const misses: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const v = this.#cache?.get(keys[i]);
      if (v !== undefined) {
        this.#counters.hits++;
        values[i] = v;
      } else misses.push(i);
    }
    this.#counters.misses += misses.length;
    misses.sort((a, b) =>
      entries[a].segment - entries[b].segment || entries[a].offset - entries[b].offset
    );
    for (let i = 0; i < misses.length;) {
      // One span: records of one segment, each starting near where the previous one ended.
      const first = entries[misses[i]];
      let end = first.offset + first.length;
      let j = i + 1;
      while (j < misses.length) {
        const e = entries[misses[j]];
        if (e.segment !== first.segment || e.offset - end > SCAN_GAP_BYTES_MAX) break;
        if (e.offset + e.length - first.offset > SCAN_SPAN_BYTES_MAX) break;
        end = Math.max(end, e.offset + e.length);
        j++;
      }
      const span = this.#readSpan(first.segment, {
        offset: first.offset,
        length: end - first.offset,
      });
      for (let m = i; m < j; m++) {
        const e = entries[misses[m]];
        const rel = e.offset - first.offset;
        values[misses[m]] = this.#checkRecord(
          span.subarray(rel, rel + e.length),
          keys[misses[m]],
          e,
        );
      }
      i = j;
    }
    return values;
  }

  #readSpan(segment: number, at: { offset: number; length: number }): Uint8Array {
    const seg = this.segments.get(segment);
    if (seg === undefined) throw new Error(`keydir points at missing segment ${segment}`);
    seg.reader ??= openSync(segmentPath(this.dir, seg.id), "r");
    const buf = new Uint8Array(at.length);
    const n = preadFull(seg.reader, { buf, position: at.offset });
    return n === at.length ? buf : buf.subarray(0, n);
  }

  scan(options: ScanOptions = {}): Promise<ScanEntry[]> {
    try {
      return Promise.resolve(this.#scan(options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #scan(o: ScanOptions): ScanEntry[] {
    this.#checkOpen();
    if (o.prefix !== undefined && (o.start !== undefined || o.end !== undefined)) {
      throw new RangeError("scan takes either prefix or start/end, not both");
    }
    const limit = o.limit ?? Infinity;
    if (!(limit >= 0)) throw new RangeError(`scan limit must be >= 0, got ${limit}`);
    let low: string | undefined;
    let high: string | undefined;
    if (o.prefix !== undefined) {
      low = keyToString(o.prefix);
      high = prefixEnd(low);
    } else {
      low = o.start === undefined ? undefined : keyToString(o.start);
      high = o.end === undefined ? undefined : keyToString(o.end);
    }
    if (limit === 0 || (low !== undefined && high !== undefined && low >= high)) return [];
    const keys: string[] = [];
    const entries: Entry[] = [];
    const iter = o.reverse ? this.keydir.entriesBelow(high) : this.keydir.entries(low);
    for (const [k, e] of iter) {
      if (!o.reverse && high !== undefined && k >= high) break;
      if (o.reverse && low !== undefined && k < low) break;
      keys.push(k);
      entries.push(e);
      if (keys.length >= limit) break;
    }
    const values = o.keysOnly ? undefined : this.#readValues(keys, entries);
    const out: ScanEntry[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = stringToKey(keys[i]);
      out[i] = values === undefined
        ? { key, seq: entries[i].seq }
        : { key, value: values[i], seq: entries[i].seq };
    }
    return out;
  }

  // ---- writes ----

  put(key: Bytes, value: Bytes, options: WriteOptions = {}): Promise<WriteResult> {
    return this.#submit([{ type: "put", key, value, if: options.if }], false, options.seq);
  }

  delete(key: Bytes, options: WriteOptions = {}): Promise<WriteResult> {
    return this.#submit([{ type: "delete", key, if: options.if }], false, options.seq);
  }

  async batch(ops: BatchOp[], options: { seq?: number } = {}): Promise<{ seq: number }> {
    const r = await this.#submit(ops, true, options.seq);
    return { seq: r.seq };
  }

  #submit(batchOps: BatchOp[], batch: boolean, seqWanted?: number): Promise<WriteResult> {
    try {
      this.#checkOpen();
      if (this.#queue.length >= QUEUE_WRITES_MAX) {
        throw new StoreIoError("too many writes waiting; retry later");
      }
      const pending = this.#encode(batchOps, batch, seqWanted);
      return new Promise<WriteResult>((resolve, reject) => {
        pending.resolve = resolve;
        pending.reject = reject;
        this.#queue.push(pending);
        this.#kick();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #encode(batchOps: BatchOp[], batch: boolean, seqWanted?: number): Pending {
    if (batch && batchOps.length > this.cfg.batchOpsMax) {
      throw new BatchTooLargeError(
        `batch has ${batchOps.length} ops; at most batchOpsMax=${this.cfg.batchOpsMax}`,
      );
    }
    let size = batch ? HEADER_BYTES : 0;
    let payload = 0;
    for (const op of batchOps) {
      this.#checkKey(op.key);
      if (op.type === "put") {
        if (op.value.byteLength > this.cfg.valueBytesMax) {
          throw new ValueTooLargeError(
            `value has ${op.value.byteLength} bytes; at most valueBytesMax=${this.cfg.valueBytesMax}`,
          );
        }
        payload += op.value.byteLength;
      }
      payload += op.key.byteLength;
      size += recordBytes(op.key.byteLength, op.type === "put" ? op.value.byteLength : 0);
    }
    if (batch && payload > this.cfg.batchBytesMax) {
      throw new BatchTooLargeError(
        `batch has ${payload} key+value bytes; at most batchBytesMax=${this.cfg.batchBytesMax}`,
      );
    }
    let seq = this.#seqQueued + 1;
    if (seqWanted !== undefined) {
      if (!Number.isSafeInteger(seqWanted) || seqWanted <= this.#seqQueued) {
        throw new RangeError(
          `seq ${seqWanted} must be an integer greater than the last one (${this.#seqQueued})`,
        );
      }
      seq = seqWanted;
    }
    this.#seqQueued = seq;
    const buf = new Uint8Array(size);
    const ops: Op[] = [];
    let p = 0;
    const flag = batch ? FLAG_BATCH : 0;
    for (const op of batchOps) {
      const kind = op.type === "put" ? KIND_PUT : KIND_DELETE;
      const value = op.type === "put" ? op.value : undefined;
      const n = writeRecord(buf, { offset: p, seq, flags: kind | flag, key: op.key, value });
      const keyBytes = op.key.byteLength;
      ops.push({
        kind,
        key: buf.subarray(p + HEADER_BYTES, p + HEADER_BYTES + keyBytes),
        keyStr: keyToString(op.key),
        value: value === undefined ? undefined : buf.subarray(p + HEADER_BYTES + keyBytes, p + n),
        cond: op.if,
      });
      p += n;
    }
    if (batch) {
      p += writeRecord(buf, { offset: p, seq, flags: KIND_COMMIT, key: new Uint8Array(0) });
    }
    if (p !== size) throw new Error("encoded size mismatch");
    return { ops, batch, seq, buf, existed: false, resolve: () => {}, reject: () => {} };
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    // Started from a microtask so writes issued in the same tick share the first group.
    this.#flushDone = new Promise<void>((resolve) => queueMicrotask(resolve))
      .then(() => this.#flushLoop())
      .finally(() => {
        this.#flushing = false;
        if (this.#queue.length > 0) this.#kick();
      });
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      let bytes = 0;
      let n = 0;
      while (
        n < this.#queue.length && n < GROUP_WRITES_MAX &&
        (n === 0 || bytes + this.#queue[n].buf.byteLength <= GROUP_BYTES_MAX)
      ) {
        bytes += this.#queue[n].buf.byteLength;
        n++;
      }
      const group = this.#queue.splice(0, n);
      try {
        // A failed group fails the writes behind it too (see #failWrites).
        await this.ioMutex.run(() => this.#flushGroup(group));
      } catch (err) {
        this.logger.error("write group failed unexpectedly", { err });
        this.#failWrites(group, err);
      }
    }
  }

  /** Checks conditions and the quota in write order; returns the writes that go ahead. */
  #admit(group: Pending[]): Pending[] {
    const overlay = new Map<string, number | undefined>();
    const current = (k: string) => overlay.has(k) ? overlay.get(k) : this.keydir.seqOf(k);
    const accepted: Pending[] = [];
    let bytes = 0;
    const quota = this.cfg.diskBytesMax;
    const disk = quota > 0 ? this.#diskBytes() : 0;
    for (const p of group) {
      // A batch's ops see the ops before them in the same batch; a single write needs no map.
      const local = p.ops.length > 1 ? new Map<string, number | undefined>() : undefined;
      let failed: StoreError | undefined;
      for (let i = 0; i < p.ops.length && failed === undefined; i++) {
        const op = p.ops[i];
        const seq = local?.has(op.keyStr) ? local.get(op.keyStr) : current(op.keyStr);
        if (!conditionHolds(op.cond, seq)) {
          failed = new ConditionFailedError(
            `condition ${JSON.stringify(op.cond)} does not hold (current version ${seq ?? "none"})`,
            i,
            seq,
          );
        }
        if (i === 0) p.existed = seq !== undefined;
        local?.set(op.keyStr, op.kind === KIND_PUT ? p.seq : undefined);
      }
      if (failed === undefined && quota > 0 && disk + bytes + p.buf.byteLength > quota) {
        failed = new QuotaExceededError(
          `the data directory would pass diskBytesMax=${quota} bytes; delete data and merge, ` +
            `or raise the quota`,
        );
      }
      if (failed !== undefined) {
        p.reject(failed);
        continue;
      }
      if (local !== undefined) { for (const [k, v] of local) overlay.set(k, v); }
      else if (p.ops.length === 1) {
        overlay.set(p.ops[0].keyStr, p.ops[0].kind === KIND_PUT ? p.seq : undefined);
      }
      accepted.push(p);
      bytes += p.buf.byteLength;
    }
    return accepted;
  }

  /** Writes one group; on an I/O error fails it and the writes behind it (#failWrites). */
  async #flushGroup(group: Pending[]): Promise<void> {
    if (this.#truncateTo !== undefined) {
      try {
        await this.active.writer.truncate(this.#truncateTo);
        this.#truncateTo = undefined;
      } catch (err) {
        const e = ioError(err, "could not undo an earlier failed write");
        this.#failWrites(group, e);
        return;
      }
    }
    const accepted = this.#admit(group);
    if (accepted.length === 0) return;
    let bytes = 0;
    for (const p of accepted) bytes += p.buf.byteLength;
    const active = this.active;
    if (active.meta.sizeBytes + bytes > this.cfg.segmentBytesMax && this.#activeHasData()) {
      try {
        await this.#roll();
      } catch (err) {
        const e = ioError(err, "could not start a new segment");
        this.#failWrites(accepted, e);
        return;
      }
    }
    const buf = accepted.length === 1 ? accepted[0].buf : concat(accepted, bytes);
    const start = this.active.meta.sizeBytes;
    try {
      // A durable group's blocking append beats the thread-pool round trip before its
      // fdatasync (which follows before any write of the group is acknowledged).
      if (this.cfg.sync === "always") writeAllSync(this.active.writer, buf);
      else await writeAllBounded(this.active.writer, buf);
      if (this.cfg.sync === "always") await this.#syncActive(accepted.length);
    } catch (err) {
      await this.#undoAppend(start);
      const e = ioError(err, "write failed");
      this.logger.warn("write group failed; its writes were not applied", { err: e.message });
      this.#failWrites(accepted, e);
      return;
    }
    this.active.meta.sizeBytes = start + bytes;
    if (this.cfg.sync !== "always") this.#dirty = true;
    let offset = start;
    for (const p of accepted) {
      this.#apply(p, offset);
      offset += p.buf.byteLength;
    }
    for (const p of accepted) p.resolve({ seq: p.seq, existed: p.existed });
    if (this.active.meta.sizeBytes >= this.cfg.segmentBytesMax) {
      try {
        await this.#roll();
      } catch (err) {
        this.logger.warn("could not start a new segment; will retry", { err });
      }
    }
    this.maybeMerge();
  }

  /**
   * Fails `group` and every write queued behind it. Writes take effect in queue order or not
   * at all: no later write is applied after an earlier one failed (a replica applying its log
   * in order must never leave a gap). This runs before any caller hears of the failure: none
   * of these writes took effect, so their sequence numbers are free again (a replica applies
   * the same entries with the same seqs once the disk has room), and a write issued after the
   * failure is not failed with it.
   */
  #failWrites(group: Pending[], error: unknown): void {
    const behind = this.#queue.splice(0);
    this.#seqQueued = this.#lastSeq;
    for (const p of group) p.reject(error);
    for (const p of behind) p.reject(error);
  }

  async #syncActive(writes: number): Promise<void> {
    const delay = this.cfg.beforeSync?.();
    if (delay !== undefined) await delay;
    const t0 = performance.now();
    await this.active.writer.syncData();
    const seconds = (performance.now() - t0) / 1000;
    this.#counters.syncs++;
    this.#counters.syncedWrites += writes;
    this.cfg.observer.synced?.(seconds, writes);
  }

  async #undoAppend(start: number): Promise<void> {
    try {
      await this.active.writer.truncate(start);
    } catch (err) {
      this.#truncateTo = start;
      this.logger.error("could not truncate a failed write; will retry before the next write", {
        err,
        file: segmentPath(this.dir, this.active.meta.id),
        offset: start,
      });
    }
  }

  #apply(p: Pending, offset: number): void {
    const segId = this.active.meta.id;
    const meta = this.active.meta;
    let off = offset;
    for (const op of p.ops) {
      const len = recordBytes(op.key.byteLength, op.value?.byteLength ?? 0);
      const old = this.keydir.get(op.keyStr);
      if (old !== undefined) this.segments.get(old.segment)!.liveBytes -= old.length;
      if (op.kind === KIND_PUT) {
        this.keydir.set(op.keyStr, new Entry(segId, off, len, p.seq));
        meta.liveBytes += len;
        // Single writes go through the cache; batches (bulk loads) only drop stale values,
        // so they neither churn the hot set nor pin their whole buffer.
        if (p.batch) this.#cache?.delete(op.keyStr);
        else this.#cache?.set(op.keyStr, op.value!);
      } else {
        this.keydir.delete(op.keyStr);
        this.#cache?.delete(op.keyStr);
      }
      off += len;
    }
    if (p.ops.length > 0 && p.seq < meta.minSeq) meta.minSeq = p.seq;
    if (p.seq > meta.maxSeq) meta.maxSeq = p.seq;
    if (p.seq > this.#lastSeq) this.#lastSeq = p.seq;
  }

  #activeHasData(): boolean {
    return this.active.meta.sizeBytes > HEADER_BYTES;
  }

  // ---- segments ----

  async #createSegment(id: number): Promise<Active> {
    const path = segmentPath(this.dir, id);
    const writer = await Deno.open(path, { write: true, createNew: true, append: true });
    try {
      const marker = new Uint8Array(HEADER_BYTES);
      writeRecord(marker, {
        offset: 0,
        seq: this.#lastSeq,
        flags: KIND_SEQ_MARK,
        key: new Uint8Array(0),
      });
      await writeAll(writer, marker);
      await writer.syncData();
      await syncDir(this.dir);
    } catch (err) {
      writer.close();
      await Deno.remove(path).catch(() => {});
      throw err;
    }
    const meta: SegmentMeta = {
      id,
      sizeBytes: HEADER_BYTES,
      liveBytes: 0,
      hintBytes: 0,
      minSeq: Infinity,
      maxSeq: this.#lastSeq,
      keptTombstoneBytes: 0,
    };
    this.segments.set(id, meta);
    return { meta, writer };
  }

  /** Reserves the next segment id (synchronously, so writer and merge never share one). */
  allocateId(): number {
    this.maxId += 1;
    return this.maxId;
  }

  /** Closes the active segment and starts a new one. Call under ioMutex. */
  async #roll(): Promise<void> {
    const next = await this.#createSegment(this.allocateId());
    const old = this.active;
    try {
      if (this.#dirty) {
        await old.writer.syncData();
        this.#dirty = false;
      }
    } finally {
      old.writer.close();
      this.active = next;
    }
    this.#track(this.#writeHint(old.meta.id));
  }

  /**
   * Hard-links into `dir` (a new directory on the same file system) a consistent image of
   * this store as of now, without copying data: the active segment is synced, then every
   * segment and hint file is linked in one synchronous pass, so no write or merge step falls
   * in between. The image is each listed file's first `bytes` bytes: the active segment keeps
   * growing through its link, so a reader must stop at `bytes`. Resolves to undefined, having
   * made nothing, while a merge is between its commit and its cleanup or writes are queued
   * (try again later: this never waits on a merge).
   */
  checkpoint(dir: string): Promise<StoreCheckpoint | undefined> {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ioMutex.run(async () => {
      if (this.#busyForCheckpoint()) return undefined;
      if (this.#dirty) {
        this.#dirty = false;
        try {
          await this.#syncActive(0);
        } catch (err) {
          this.#dirty = true;
          throw ioError(err, "sync failed");
        }
      }
      await Deno.mkdir(dir);
      if (this.#busyForCheckpoint()) {
        await Deno.remove(dir);
        return undefined;
      }
      const files = this.#linkInto(dir);
      await syncDir(dir);
      return { lastSeq: this.#lastSeq, files };
    });
  }

  #busyForCheckpoint(): boolean {
    return this.#queue.length > 0 || existsSync(join(this.dir, MERGE_MANIFEST));
  }

  /** The synchronous pass of checkpoint(): links every live file into `dir`. */
  #linkInto(dir: string): { name: string; bytes: number }[] {
    const files: { name: string; bytes: number }[] = [];
    for (const meta of this.segments.values()) {
      const seg = segmentPath(this.dir, meta.id);
      Deno.linkSync(seg, join(dir, basename(seg)));
      files.push({ name: basename(seg), bytes: meta.sizeBytes });
      if (meta.id === this.active.meta.id || meta.hintBytes === 0) continue;
      const hint = hintPath(this.dir, meta.id);
      try {
        Deno.linkSync(hint, join(dir, basename(hint)));
        files.push({ name: basename(hint), bytes: Deno.statSync(hint).size });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return files;
  }

  /** Rolls the active segment if it holds anything (for merge: outputs get lower ids). */
  rollForMerge(): Promise<void> {
    return this.ioMutex.run(async () => {
      if (this.#activeHasData() || this.active.meta.id < this.maxId) await this.#roll();
    });
  }

  #track(p: Promise<unknown>): void {
    this.#background.add(p);
    p.finally(() => this.#background.delete(p));
  }

  /** Writes the hint file of a closed segment by reading it back. */
  async #writeHint(id: number): Promise<void> {
    try {
      const meta = this.segments.get(id);
      if (meta === undefined) return;
      const buf = await Deno.readFile(segmentPath(this.dir, id));
      const nb = nodeBuffer(buf);
      const entries: HintEntry[] = [];
      const scanner = new SegmentScanner(buf, { skipFramedCorruption: false });
      let minSeq = Infinity;
      while (
        scanner.step(10_000, (r) => {
          entries.push({
            key: keyStringAt(nb, r),
            seq: r.seq,
            kind: r.kind,
            offset: r.offset,
            length: r.length,
          });
          if (r.seq < minSeq) minSeq = r.seq;
        })
      ) await yieldNow();
      if (scanner.validEnd !== buf.byteLength) return; // damaged: recovery will scan it
      const hint = await encodeHint({
        coveredBytes: buf.byteLength,
        minSeq,
        maxSeq: scanner.lastSeq,
        entries: await sortHintEntries(entries, yieldNow),
      }, yieldNow);
      const path = hintPath(this.dir, id);
      await Deno.writeFile(path + ".tmp", hint);
      if (!this.segments.has(id)) {
        await Deno.remove(path + ".tmp");
        return;
      }
      await Deno.rename(path + ".tmp", path);
      const m = this.segments.get(id);
      if (m) m.hintBytes = hint.byteLength;
    } catch (err) {
      await Deno.remove(hintPath(this.dir, id) + ".tmp").catch(() => {});
      this.logger.warn("could not write a hint file; recovery will scan the segment", {
        segment: id,
        err,
      });
    }
  }

  // ---- merge ----

  merge(): Promise<MergeResult> {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#startMerge(false);
  }

  #startMerge(auto: boolean): Promise<MergeResult> {
    if (this.#merging) return this.#merging;
    const run = (async () => {
      await Promise.all([...this.#background]);
      const t0 = performance.now();
      const result = await runMerge(this, { auto, declined: this.#mergeDeclined });
      if (result.segmentsMerged > 0) {
        this.#counters.merges++;
        this.cfg.observer.merged?.(result, (performance.now() - t0) / 1000);
      }
      return result;
    })();
    this.#merging = run;
    run.finally(() => {
      if (this.#merging === run) this.#merging = undefined;
    }).catch(() => {});
    return run;
  }

  /** Starts a background merge when one is due (mergeAuto). */
  maybeMerge(): void {
    if (!this.cfg.mergeAuto || this.#merging || this.#closed) return;
    for (const meta of this.segments.values()) {
      if (meta.id === this.active.meta.id || this.#mergeDeclined.has(meta.id)) continue;
      if (reclaimableRatio(meta) >= this.cfg.mergeDeadRatioMin) {
        this.#startMerge(true).catch((err) => {
          this.logger.error("background merge failed", { err });
        });
        return;
      }
    }
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  // ---- lifecycle ----

  sync(): Promise<void> {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#syncNow();
  }

  #syncNow(): Promise<void> {
    return this.ioMutex.run(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      try {
        await this.#syncActive(0);
      } catch (err) {
        this.#dirty = true;
        throw ioError(err, "sync failed");
      }
    });
  }

  #startTimer(): void {
    if (this.cfg.sync !== "interval") return;
    this.#timer = setInterval(() => {
      if (this.#dirty && !this.#closed) {
        this.#syncNow().catch((err) => this.logger.error("background sync failed", { err }));
      }
    }, this.cfg.syncIntervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    while (this.#flushing || this.#queue.length > 0) await this.#flushDone;
    this.mergeAbort = true;
    await this.#merging?.catch(() => {});
    await Promise.all([...this.#background]);
    try {
      await this.ioMutex.run(async () => {
        if (this.#dirty) await this.active.writer.syncData();
        this.#dirty = false;
      });
      if (this.active.meta.sizeBytes >= HINT_ON_CLOSE_BYTES_MIN) {
        await this.#writeHint(this.active.meta.id);
      }
    } finally {
      this.active.writer.close();
      for (const meta of this.segments.values()) {
        if (meta.reader !== undefined) closeSync(meta.reader);
        meta.reader = undefined;
      }
      this.#cache?.clear();
      this.#lock.release();
    }
  }

  stats(): StoreStats {
    let live = 0;
    let total = 0;
    for (const m of this.segments.values()) {
      live += m.liveBytes;
      total += m.sizeBytes;
    }
    return {
      keys: this.keydir.size,
      liveBytes: live,
      deadBytes: total - live,
      diskBytes: this.#diskBytes(),
      segments: this.segments.size,
      lastSeq: this.#lastSeq,
      merges: this.#counters.merges,
      cacheHits: this.#counters.hits,
      cacheMisses: this.#counters.misses,
      cacheBytes: this.#cache?.calculatedSize ?? 0,
      syncs: this.#counters.syncs,
      syncedWrites: this.#counters.syncedWrites,
    };
  }

  #diskBytes(): number {
    let n = 0;
    for (const m of this.segments.values()) n += m.sizeBytes + m.hintBytes;
    return n;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #checkKey(key: Bytes): void {
    if (!(key instanceof Uint8Array)) throw new KeyInvalidError("a key must be a Uint8Array");
    if (key.byteLength === 0) throw new KeyInvalidError("a key must not be empty");
    if (key.byteLength > this.cfg.keyBytesMax) {
      throw new KeyInvalidError(
        `key has ${key.byteLength} bytes; at most keyBytesMax=${this.cfg.keyBytesMax}`,
      );
    }
  }
}

/** Whether the key stored in the record `buf` is `k` (a key string). */
function keyMatches(buf: Uint8Array, k: string): boolean {
  for (let i = 0; i < k.length; i++) if (buf[HEADER_BYTES + i] !== k.charCodeAt(i)) return false;
  return true;
}

function concat(group: Pending[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let p = 0;
  for (const w of group) {
    out.set(w.buf, p);
    p += w.buf.byteLength;
  }
  return out;
}
