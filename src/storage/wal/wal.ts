/**
 * The shared write-ahead log of every Raft group on a node. All groups append to one file;
 * the appends waiting when a flush starts share one write and one syncData() (group commit).
 * Files roll at segmentBytesMax; each new file starts with a checkpoint of every group (hard
 * state, snapshot marker, log end), so a replay can start at any file whose checkpointed
 * entries every group has released. Garbage collection moves that start (WAL.START) forward
 * and deletes the files before it.
 */
import { DiskFullError, StoreClosedError, StoreError, StoreIoError } from "../errors.ts";
import { silentLogger } from "../../log.ts";
import type { Logger } from "../../log.ts";
import {
  WalCompactedError,
  WalInvalidAppendError,
  WalQueueFullError,
  WalRecordTooLargeError,
  WalUnavailableError,
} from "./errors.ts";
import { FILE_MAGIC, lockWalDir, syncDir, walFilePath, writeStartId } from "./files.ts";
import type { WalLock } from "./files.ts";
import { EntryCache, type GroupLog } from "./group_log.ts";
import { Projection } from "./projection.ts";
import {
  encodeRecord,
  ENTRY_HEADER_BYTES,
  KIND_CHECKPOINT,
  KIND_CHECKPOINT_END,
  KIND_ENTRY,
  KIND_HARD_STATE,
  KIND_SNAPSHOT,
  KIND_TRUNCATE,
  recordBytes,
  voteBytesOf,
} from "./record.ts";
import type { WalRecord } from "./record.ts";
import { applyRecord, recoverWal } from "./recovery.ts";
import type { WalState } from "./recovery.ts";
import { writeAll, writeAllBounded } from "../file_write.ts";
import type {
  GroupId,
  WalAppend,
  WalEntry,
  WalHardState,
  WalObserver,
  WalOptions,
  WalSnapshotMark,
  WalStats,
} from "./types.ts";

const MiB = 1024 * 1024;
const GROUP_ID_MAX = 0xffff_ffff;
/** Entries returned by one `entries` call at most, whatever bytesMax says. */
const ENTRIES_PER_READ_MAX = 65_536;

type Config = Required<Omit<WalOptions, "logger" | "beforeSync" | "observer">>;

const syncModes = ["always", "interval", "none"] as const;

function configOf(options: WalOptions): Config {
  const cfg: Config = {
    segmentBytesMax: options.segmentBytesMax ?? 64 * MiB,
    entryBytesMax: options.entryBytesMax ?? 8 * MiB,
    appendBytesMax: options.appendBytesMax ?? 16 * MiB,
    appendQueueMax: options.appendQueueMax ?? 8192,
    flushBytesMax: options.flushBytesMax ?? 4 * MiB,
    cacheBytesMax: options.cacheBytesMax ?? 64 * MiB,
    voteBytesMax: options.voteBytesMax ?? 1024,
    groupsMax: options.groupsMax ?? 65_536,
    sync: options.sync ?? "always",
    syncIntervalMs: options.syncIntervalMs ?? 100,
  };
  if (!syncModes.includes(cfg.sync)) {
    throw new RangeError(`WAL option sync must be one of ${syncModes.join(", ")}, got ${cfg.sync}`);
  }
  if (!(cfg.syncIntervalMs >= 1)) {
    throw new RangeError(`WAL option syncIntervalMs must be at least 1, got ${cfg.syncIntervalMs}`);
  }
  for (const [name, v] of Object.entries(cfg)) {
    if (typeof v === "string") continue;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`WAL option ${name} must be a non-negative integer, got ${v}`);
    }
  }
  if (cfg.voteBytesMax >= 0xffff) {
    throw new RangeError("WAL option voteBytesMax must be below 65535");
  }
  if (cfg.entryBytesMax + ENTRY_HEADER_BYTES > cfg.appendBytesMax) {
    throw new RangeError("WAL option appendBytesMax must hold at least one entry of entryBytesMax");
  }
  return cfg;
}

interface Encoded {
  rec: WalRecord;
  vote?: Uint8Array;
}

interface Pending {
  group: GroupId;
  req: WalAppend;
  records: Encoded[];
  bytes: number;
  /** performance.now() when `append` was called. */
  startMs: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ActiveFile {
  id: number;
  file: Deno.FsFile;
  sizeBytes: number;
}

function ioError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: string })?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DiskFullError(`${what}: the disk is full; free space and retry`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StoreIoError(`${what}: ${message}`, { cause: err });
}

function assertCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new WalInvalidAppendError(`${what} must be a non-negative integer, got ${n}`);
  }
}

/**
 * Opens (creating if needed) the WAL in `dir`: takes its lock, rebuilds every group from the
 * files and starts a new file. Throws DirectoryLockedError if another opener holds `dir`,
 * CorruptionError if a file other than the newest is damaged.
 */
export async function openWal(dir: string, options: WalOptions = {}): Promise<Wal> {
  const cfg = configOf(options);
  const logger = (options.logger ?? silentLogger).child({ component: "wal" });
  await Deno.mkdir(dir, { recursive: true });
  const lock = lockWalDir(dir);
  try {
    const t0 = performance.now();
    const cache = new EntryCache(cfg.cacheBytesMax);
    const bodyBytesMax = Math.max(cfg.appendBytesMax, cfg.entryBytesMax + ENTRY_HEADER_BYTES);
    const rec = await recoverWal(dir, { bodyBytesMax, logger, cache });
    const wal = new Wal(dir, cfg, logger, lock, rec.state);
    wal.beforeSync = options.beforeSync;
    wal.observer = options.observer ?? {};
    await wal.startFile(rec.maxFileId + 1);
    wal.startSyncTimer();
    wal.recoveryMs = performance.now() - t0;
    logger.info("WAL open", {
      dir,
      groups: rec.state.groups.size,
      files: rec.state.fileBytes.size + 1,
      truncatedBytes: rec.truncatedBytes,
      recoveryMs: Math.round(wal.recoveryMs),
    });
    return wal;
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** An open shared WAL; see openWal. Reads are synchronous and see only durable appends. */
export class Wal {
  /** Time open() spent rebuilding the groups. */
  recoveryMs = 0;
  /** WalOptions.beforeSync (set by openWal). */
  beforeSync: (() => Promise<void> | undefined) | undefined;
  /** WalOptions.observer (set by openWal). */
  observer: WalObserver = {};
  #state: WalState;
  #groups: Map<GroupId, GroupLog>;
  #fileBytes: Map<number, number>;
  #readers = new Map<number, Deno.FsFile>();
  #active: ActiveFile | undefined;
  #pending: Pending[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  #gcWanted = false;
  /** Set when a sync failed in a way that leaves the file's durability unknown. */
  #failed: StoreError | undefined;
  /** A failed write's bytes that could not be cut off yet: cut them before the next write. */
  #truncateTo: number | undefined;
  /** Bytes were written to the active file since its last sync (sync "interval" or "none"). */
  #unsynced = false;
  /** The interval timer asked for a sync of the active file. */
  #syncWanted = false;
  #syncTimer: ReturnType<typeof setInterval> | undefined;
  #counters = {
    appends: 0,
    records: 0,
    flushes: 0,
    syncs: 0,
    bytesWritten: 0,
    failedAppends: 0,
    filesDeleted: 0,
    fileReads: 0,
  };

  /** Use openWal. */
  constructor(
    readonly dir: string,
    private readonly cfg: Config,
    private readonly logger: Logger,
    private readonly lock: WalLock,
    state: WalState,
  ) {
    this.#state = state;
    this.#groups = state.groups;
    this.#fileBytes = state.fileBytes;
    this.#gcWanted = true;
  }

  // ---- writes ----

  /**
   * Persists, for `group`, a snapshot marker, a suffix truncation, entries and a hard state
   * (each optional, in that order). Resolves once they are durable; appends from many groups
   * waiting at the same time share one write and one sync. Rejects with
   * WalRecordTooLargeError, WalQueueFullError, WalInvalidAppendError (nothing written),
   * DiskFullError / StoreIoError (this flush failed; the WAL stays usable, except after a
   * failed sync other than disk full: then every later append fails until reopened) or
   * StoreClosedError.
   */
  append(group: GroupId, req: WalAppend): Promise<void> {
    try {
      if (this.#closed) throw new StoreClosedError();
      if (this.#failed !== undefined) throw this.#failed;
      const pending = this.#prepare(group, req);
      if (pending.records.length === 0) return Promise.resolve();
      if (this.#pending.length >= this.cfg.appendQueueMax) {
        throw new WalQueueFullError(
          `${this.#pending.length} appends are already waiting (appendQueueMax); retry after some finish`,
        );
      }
      return new Promise<void>((resolve, reject) => {
        pending.resolve = resolve;
        pending.reject = reject;
        this.#pending.push(pending);
        this.#kick();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Persists a snapshot marker for `group` (see WalAppend.snapshot); resolves when durable. */
  markSnapshot(group: GroupId, index: number, term: number): Promise<void> {
    return this.append(group, { snapshot: { index, term } });
  }

  /**
   * Tells the WAL that `group`'s store has synced every entry below `index`: those records are
   * no longer needed, and files holding only released records are deleted in the background.
   * Throws WalInvalidAppendError if `index` is beyond lastIndex + 1.
   */
  releaseBefore(group: GroupId, index: number): void {
    if (this.#closed) throw new StoreClosedError();
    assertCount(index, "release index");
    const log = this.#groups.get(group);
    const last = log?.lastIndex ?? 0;
    if (index > last + 1) {
      throw new WalInvalidAppendError(
        `group ${group}: cannot release before ${index}, beyond lastIndex ${last} + 1`,
      );
    }
    if (log === undefined || index <= log.releaseBefore) return;
    log.releaseBefore = index;
    this.#gcWanted = true;
    this.#kick();
  }

  #prepare(group: GroupId, req: WalAppend): Pending {
    if (!Number.isInteger(group) || group < 0 || group > GROUP_ID_MAX) {
      throw new WalInvalidAppendError(
        `group id must be an integer in [0, ${GROUP_ID_MAX}], got ${group}`,
      );
    }
    const records: Encoded[] = [];
    if (req.snapshot !== undefined) {
      assertCount(req.snapshot.index, "snapshot index");
      assertCount(req.snapshot.term, "snapshot term");
      records.push({ rec: { kind: KIND_SNAPSHOT, group, ...req.snapshot } });
    }
    if (req.truncateFrom !== undefined) {
      assertCount(req.truncateFrom, "truncateFrom");
      if (req.truncateFrom < 1) throw new WalInvalidAppendError("truncateFrom must be >= 1");
      records.push({ rec: { kind: KIND_TRUNCATE, group, fromIndex: req.truncateFrom } });
    }
    this.#prepareEntries(group, req.entries ?? [], records);
    if (req.hardState !== undefined) {
      const hs = req.hardState;
      assertCount(hs.term, "hard state term");
      assertCount(hs.commit, "hard state commit");
      const vote = voteBytesOf(hs);
      if (vote.byteLength > this.cfg.voteBytesMax) {
        throw new WalRecordTooLargeError(
          `vote of ${vote.byteLength} bytes exceeds voteBytesMax ${this.cfg.voteBytesMax}`,
        );
      }
      records.push({ rec: { kind: KIND_HARD_STATE, group, hardState: { ...hs } }, vote });
    }
    let bytes = 0;
    for (const r of records) bytes += recordBytes(r.rec, r.vote);
    if (bytes > this.cfg.appendBytesMax) {
      throw new WalRecordTooLargeError(
        `an append of ${bytes} bytes exceeds appendBytesMax ${this.cfg.appendBytesMax}; split it`,
      );
    }
    const startMs = performance.now();
    return { group, req, records, bytes, startMs, resolve: () => {}, reject: () => {} };
  }

  #prepareEntries(group: GroupId, entries: readonly WalEntry[], records: Encoded[]): void {
    let prev: WalEntry | undefined;
    for (const e of entries) {
      assertCount(e.index, "entry index");
      assertCount(e.term, "entry term");
      if (e.index < 1) throw new WalInvalidAppendError("entry index must be >= 1");
      if (!Number.isInteger(e.type) || e.type < 0 || e.type > 255) {
        throw new WalInvalidAppendError(`entry type must be a byte, got ${e.type}`);
      }
      if (e.data.byteLength > this.cfg.entryBytesMax) {
        throw new WalRecordTooLargeError(
          `entry ${e.index} of ${e.data.byteLength} bytes exceeds entryBytesMax ${this.cfg.entryBytesMax}`,
        );
      }
      if (prev !== undefined && (e.index !== prev.index + 1 || e.term < prev.term)) {
        throw new WalInvalidAppendError(
          `group ${group}: entries must be contiguous with non-decreasing terms (${prev.index}/${prev.term} then ${e.index}/${e.term})`,
        );
      }
      records.push({
        rec: { kind: KIND_ENTRY, group, index: e.index, term: e.term, type: e.type, data: e.data },
      });
      prev = e;
    }
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0 || this.#syncWanted || (this.#gcWanted && !this.#closed)) {
        this.#kick();
      }
    });
  }

  async #run(): Promise<void> {
    // Let every append issued in this tick join the first flush.
    await Promise.resolve();
    // Bounded; #kick starts a new loop if work remains, so timers get a turn in between.
    for (let rounds = 0; rounds < 1024; rounds++) {
      // Between flushes, so file deletion keeps up under constant load.
      if (this.#gcWanted && !this.#closed) {
        this.#gcWanted = false;
        await this.#collect();
      }
      if (this.#syncWanted) await this.#syncActive();
      if (this.#pending.length === 0) return;
      await this.#flush(this.#takeBatch());
    }
  }

  /** With sync "interval": asks the flush loop for a sync of what was written since the last. */
  startSyncTimer(): void {
    if (this.cfg.sync !== "interval" || this.#syncTimer !== undefined) return;
    this.#syncTimer = setInterval(() => {
      if (!this.#unsynced || this.#closed) return;
      this.#syncWanted = true;
      this.#kick();
    }, this.cfg.syncIntervalMs);
    Deno.unrefTimer(this.#syncTimer);
  }

  /**
   * Syncs the active file if writes since its last sync were acknowledged unsynced. Runs in
   * the flush loop (or at close), never beside a flush. A failed sync fails the WAL as a
   * failed flush sync does (what those writes hold can no longer be trusted), except for a
   * full disk, which is tried again.
   */
  async #syncActive(): Promise<void> {
    this.#syncWanted = false;
    const active = this.#active;
    if (!this.#unsynced || active === undefined || this.#failed !== undefined) return;
    this.#unsynced = false;
    const startMs = performance.now();
    try {
      await this.#syncData(active.file);
    } catch (err) {
      const failure = ioError(err, `WAL sync of ${walFilePath(this.dir, active.id)}`);
      if (failure instanceof DiskFullError) {
        this.#unsynced = true; // nothing was lost: the next interval tries again
        this.logger.warn("WAL sync failed: the disk is full; will retry", { err: failure });
        return;
      }
      this.#failed = failure;
      this.logger.error("WAL sync failed; refusing further appends until reopened", {
        err: failure,
      });
      return;
    }
    this.#counters.syncs++;
    this.observer.synced?.((performance.now() - startMs) / 1000, 0);
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#pending.length) {
      const next = this.#pending[n].bytes;
      if (n > 0 && bytes + next > this.cfg.flushBytesMax) break;
      bytes += next;
      n++;
    }
    return this.#pending.splice(0, n);
  }

  /** Writes and syncs the accepted appends of `batch`, then applies and resolves them. */
  async #flush(batch: Pending[]): Promise<void> {
    if (this.#failed !== undefined) {
      for (const p of batch) p.reject(this.#failed);
      return;
    }
    const accepted = this.#validate(batch);
    if (accepted.length === 0) return;
    const active = this.#active!;
    let bytes = 0;
    for (const p of accepted) bytes += p.bytes;
    const buf = new Uint8Array(bytes);
    const offsets: number[] = [];
    let at = 0;
    for (const p of accepted) {
      for (const r of p.records) {
        offsets.push(at);
        at = encodeRecord(buf, at, r.rec, r.vote);
      }
    }
    if (at !== bytes) throw new Error(`WAL flush encoded ${at} bytes, expected ${bytes}`);
    const start = active.sizeBytes;
    let stage = "write";
    let syncMs = 0;
    try {
      await this.#cutFailedTail();
      await writeAllBounded(active.file, buf);
      this.#counters.bytesWritten += bytes;
      this.#counters.flushes++;
      if (this.cfg.sync === "always") {
        stage = "sync";
        const syncStartMs = performance.now();
        await this.#syncData(active.file);
        syncMs = performance.now() - syncStartMs;
        this.#counters.syncs++;
      } else {
        this.#unsynced = true;
      }
    } catch (err) {
      await this.#undoWrite(active, start);
      const failure = ioError(err, `WAL ${stage} of ${walFilePath(this.dir, active.id)}`);
      if (stage === "sync" && !(failure instanceof DiskFullError)) {
        // After a failed fsync the kernel may have dropped dirty pages while a retry reports
        // success: nothing written since can be trusted, so the WAL refuses further writes.
        this.#failed = failure;
        this.logger.error("WAL sync failed; refusing further appends until reopened", {
          err: failure,
        });
      }
      this.#counters.failedAppends += accepted.length;
      this.logger.warn("WAL flush failed", { err: failure, appends: accepted.length, bytes });
      for (const p of accepted) p.reject(failure);
      return;
    }
    active.sizeBytes = start + bytes;
    this.#fileBytes.set(active.id, active.sizeBytes);
    this.#applyWritten(accepted, buf, offsets, active.id, start);
    this.#observeFlush(accepted, syncMs);
    for (const p of accepted) p.resolve();
    if (active.sizeBytes >= this.cfg.segmentBytesMax) {
      try {
        await this.startFile(active.id + 1);
      } catch (err) {
        this.logger.warn("could not start a new WAL file; will retry after the next flush", {
          err,
        });
      }
    }
  }

  #observeFlush(accepted: Pending[], syncMs: number): void {
    const observer = this.observer;
    if (observer.synced !== undefined) {
      let entries = 0;
      for (const p of accepted) entries += p.req.entries?.length ?? 0;
      observer.synced(syncMs / 1000, entries);
    }
    if (observer.appended === undefined) return;
    const nowMs = performance.now();
    for (const p of accepted) observer.appended(p.group, (nowMs - p.startMs) / 1000);
  }

  async #syncData(file: Deno.FsFile): Promise<void> {
    const delay = this.beforeSync?.();
    if (delay !== undefined) await delay;
    await file.syncData();
  }

  #validate(batch: Pending[]): Pending[] {
    const projections = new Map<GroupId, Projection>();
    const accepted: Pending[] = [];
    let newGroups = 0;
    for (const p of batch) {
      let proj = projections.get(p.group);
      try {
        if (proj === undefined) {
          const base = this.#groups.get(p.group);
          if (base === undefined && this.#groups.size + newGroups >= this.cfg.groupsMax) {
            throw new WalInvalidAppendError(
              `the WAL already tracks groupsMax ${this.cfg.groupsMax} groups`,
            );
          }
          proj = new Projection(base);
          if (base === undefined) newGroups++;
          projections.set(p.group, proj);
        }
        proj.accept(p.group, p.req);
        accepted.push(p);
      } catch (err) {
        p.reject(err);
      }
    }
    return accepted;
  }

  #applyWritten(
    accepted: Pending[],
    buf: Uint8Array,
    offsets: number[],
    fileId: number,
    start: number,
  ): void {
    let i = 0;
    for (const p of accepted) {
      for (const r of p.records) {
        const offset = start + offsets[i];
        const data = r.rec.kind === KIND_ENTRY
          ? buf.subarray(
            offsets[i] + ENTRY_HEADER_BYTES,
            offsets[i] + ENTRY_HEADER_BYTES + r.rec.data.byteLength,
          )
          : undefined;
        const problem = applyRecord(this.#state, r.rec, { fileId, offset, data });
        if (problem !== undefined) {
          throw new Error(`WAL invariant: file ${fileId} offset ${offset}: ${problem}`);
        }
        i++;
      }
      this.#counters.records += p.records.length;
      this.#counters.appends++;
    }
  }

  async #cutFailedTail(): Promise<void> {
    if (this.#truncateTo === undefined) return;
    await this.#active!.file.truncate(this.#truncateTo);
    this.#truncateTo = undefined;
  }

  async #undoWrite(active: ActiveFile, start: number): Promise<void> {
    try {
      await active.file.truncate(start);
      this.#truncateTo = undefined;
    } catch (err) {
      this.#truncateTo = start;
      this.logger.error("could not cut a failed WAL write; will retry before the next write", {
        err,
        file: walFilePath(this.dir, active.id),
        offset: start,
      });
    }
  }

  /**
   * Starts file `id` with the header and a checkpoint of every group (snapshot marker, log
   * end, hard state), makes it durable, and makes it the active file. Internal (open, roll).
   */
  async startFile(id: number): Promise<void> {
    const records = this.#checkpointRecords();
    let size = FILE_MAGIC.byteLength;
    for (const r of records) size += recordBytes(r.rec, r.vote);
    const buf = new Uint8Array(size);
    buf.set(FILE_MAGIC, 0);
    const offsets: number[] = [];
    let at = FILE_MAGIC.byteLength;
    for (const r of records) {
      offsets.push(at);
      at = encodeRecord(buf, at, r.rec, r.vote);
    }
    // The file being closed must be durable before a newer one can be.
    await this.#syncActive();
    const path = walFilePath(this.dir, id);
    const file = await Deno.open(path, { write: true, createNew: true, append: true });
    try {
      await writeAll(file, buf);
      await this.#syncData(file);
      await syncDir(this.dir);
    } catch (err) {
      file.close();
      await Deno.remove(path).catch(() => {});
      throw ioError(err, `starting WAL file ${path}`);
    }
    for (let i = 0; i < records.length; i++) {
      const problem = applyRecord(this.#state, records[i].rec, { fileId: id, offset: offsets[i] });
      if (problem !== undefined) {
        throw new Error(`WAL invariant: checkpoint of file ${id}: ${problem}`);
      }
    }
    const old = this.#active;
    this.#active = { id, file, sizeBytes: size };
    this.#fileBytes.set(id, size);
    this.#counters.records += records.length;
    this.#counters.bytesWritten += size;
    this.#truncateTo = undefined;
    old?.file.close();
    this.#gcWanted = true;
  }

  #checkpointRecords(): Encoded[] {
    const records: Encoded[] = [];
    for (const log of this.#groups.values()) {
      if (!log.hasState()) continue;
      const last = log.lastIndex;
      records.push({
        rec: {
          kind: KIND_CHECKPOINT,
          group: log.group,
          snapIndex: log.snapIndex,
          snapTerm: log.snapTerm,
          lastIndex: last,
          lastTerm: log.termAt(last)!,
        },
      });
      const hs = log.hardState;
      records.push({
        rec: { kind: KIND_HARD_STATE, group: log.group, hardState: hs },
        vote: voteBytesOf(hs),
      });
    }
    // The end record tells recovery the checkpoint is whole (a file torn inside it is no start).
    records.push({ rec: { kind: KIND_CHECKPOINT_END, group: 0, records: records.length / 2 } });
    return records;
  }

  // ---- garbage collection ----

  /**
   * Moves the replay start to the newest file that can start a replay on its own (for every
   * group its checkpoint names, the entries up to the checkpointed last index are released or
   * below the snapshot marker, and no record from that file on reaches back below it), then
   * deletes the files before it. The start is recorded durably first, so a crash part-way
   * leaves files that the next open removes.
   */
  async #collect(): Promise<void> {
    const ids = [...this.#fileBytes.keys()].sort((a, b) => a - b);
    const startOk = this.#replayStarts(ids);
    const cut = startOk.lastIndexOf(true);
    if (cut <= 0) return;
    const first = ids[cut];
    try {
      await writeStartId(this.dir, first);
    } catch (err) {
      this.logger.warn("could not move the WAL start; files stay until the next roll or release", {
        err,
      });
      return;
    }
    for (const [group, end] of this.#state.checkpoints.get(first) ?? new Map()) {
      const log = this.#groups.get(group)!;
      if (end.lastIndex <= log.snapIndex) continue;
      // The same compaction a replay starting at `first` performs.
      if (log.applySnapshot(end.lastIndex, end.lastTerm)) {
        throw new Error(
          `WAL invariant: group ${group} changed below its checkpoint ${end.lastIndex}`,
        );
      }
    }
    const doomed = ids.slice(0, cut);
    for (const id of doomed) {
      this.#readers.get(id)?.close();
      this.#readers.delete(id);
      // Once the start has moved, a file left behind is removed by the next open.
      await Deno.remove(walFilePath(this.dir, id)).catch((err) =>
        this.logger.warn("could not delete a WAL file before the start", { err, id })
      );
      this.#fileBytes.delete(id);
      this.#state.refs.delete(id);
      this.#state.checkpoints.delete(id);
      this.#state.complete.delete(id);
      this.#counters.filesDeleted++;
    }
    await syncDir(this.dir).catch((err) =>
      this.logger.warn("could not sync the WAL directory", { err })
    );
    this.logger.debug("WAL files deleted", { files: doomed });
  }

  /** For each file (ascending ids), whether a replay could start at it. */
  #replayStarts(ids: number[]): boolean[] {
    const ok: boolean[] = new Array(ids.length).fill(false);
    const reach = new Map<GroupId, number>(); // lowest index reached from file j on
    for (let j = ids.length - 1; j >= 0; j--) {
      for (const [group, index] of this.#state.refs.get(ids[j]) ?? new Map<GroupId, number>()) {
        reach.set(group, Math.min(reach.get(group) ?? Infinity, index));
      }
      let fine = this.#state.complete.has(ids[j]);
      for (const [group, end] of this.#state.checkpoints.get(ids[j]) ?? new Map()) {
        const log = this.#groups.get(group)!;
        const bound = Math.max(log.releaseBefore, log.snapIndex + 1);
        if (end.lastIndex >= bound || (reach.get(group) ?? Infinity) <= end.lastIndex) fine = false;
      }
      ok[j] = fine;
    }
    return ok;
  }

  // ---- reads ----

  /**
   * Entries [lo, hi) of `group`: at least one when lo < hi, then as many as fit in `bytesMax`
   * bytes of data. Throws WalCompactedError if lo < firstIndex, WalUnavailableError if
   * hi > lastIndex + 1, StoreIoError / CorruptionError if a file read fails.
   */
  entries(group: GroupId, lo: number, hi: number, bytesMax = Infinity): WalEntry[] {
    const log = this.#groups.get(group);
    const first = log?.firstIndex ?? 1;
    const last = log?.lastIndex ?? 0;
    if (lo < first) {
      throw new WalCompactedError(`group ${group}: index ${lo} is compacted (firstIndex ${first})`);
    }
    if (hi > last + 1) {
      throw new WalUnavailableError(`group ${group}: index ${hi - 1} is beyond lastIndex ${last}`);
    }
    const out: WalEntry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < ENTRIES_PER_READ_MAX; i++) {
      const pos = i - first;
      const size = log!.sizes[pos];
      if (out.length > 0 && bytes + size > bytesMax) break;
      const data = log!.data[pos] ?? this.#readData(log!.fileIds[pos], log!.offsets[pos], size);
      out.push({ index: i, term: log!.terms[pos], type: log!.types[pos], data });
      bytes += size;
    }
    return out;
  }

  #readData(fileId: number, offset: number, size: number): Uint8Array {
    let reader = this.#readers.get(fileId);
    if (reader === undefined) {
      reader = Deno.openSync(walFilePath(this.dir, fileId), { read: true });
      this.#readers.set(fileId, reader);
    }
    const out = new Uint8Array(size);
    reader.seekSync(offset + ENTRY_HEADER_BYTES, Deno.SeekMode.Start);
    let done = 0;
    while (done < size) {
      const n = reader.readSync(out.subarray(done));
      if (n === null || n === 0) {
        throw new StoreIoError(
          `WAL file ${walFilePath(this.dir, fileId)} ended inside the entry at offset ${offset}`,
        );
      }
      done += n;
    }
    this.#counters.fileReads++;
    return out;
  }

  /** Term of `group`'s entry at `index` (firstIndex - 1 gives the marker's term; 0 at index 0). Throws WalCompactedError / WalUnavailableError. */
  term(group: GroupId, index: number): number {
    const log = this.#groups.get(group);
    if (log === undefined) {
      if (index === 0) return 0;
      throw new WalUnavailableError(`group ${group} has no entries (index ${index})`);
    }
    const t = log.termAt(index);
    if (t !== undefined) return t;
    if (index < log.snapIndex) {
      throw new WalCompactedError(
        `group ${group}: index ${index} is compacted (firstIndex ${log.firstIndex})`,
      );
    }
    throw new WalUnavailableError(
      `group ${group}: index ${index} is beyond lastIndex ${log.lastIndex}`,
    );
  }

  /** Index of `group`'s first held entry (its snapshot marker + 1; 1 for a new group). */
  firstIndex(group: GroupId): number {
    return this.#groups.get(group)?.firstIndex ?? 1;
  }

  /** Index of `group`'s last entry (its snapshot marker's index when it holds none). */
  lastIndex(group: GroupId): number {
    return this.#groups.get(group)?.lastIndex ?? 0;
  }

  /** `group`'s durable hard state (all zero and no vote for a group never written). */
  hardState(group: GroupId): WalHardState {
    const hs = this.#groups.get(group)?.hardState;
    return hs === undefined ? { term: 0, vote: null, commit: 0 } : { ...hs };
  }

  /** `group`'s latest snapshot marker ({0, 0} if none). */
  snapshotMark(group: GroupId): WalSnapshotMark {
    const log = this.#groups.get(group);
    return { index: log?.snapIndex ?? 0, term: log?.snapTerm ?? 0 };
  }

  /** Ids of the groups with any durable state, ascending. */
  groups(): GroupId[] {
    return [...this.#groups.keys()].sort((a, b) => a - b);
  }

  /** Counters and sizes; cheap enough to call per request. */
  stats(): WalStats {
    let entries = 0;
    for (const log of this.#groups.values()) entries += log.terms.length;
    let fileBytes = 0;
    for (const b of this.#fileBytes.values()) fileBytes += b;
    return {
      ...this.#counters,
      files: this.#fileBytes.size,
      fileBytes,
      groups: this.#groups.size,
      entries,
      cachedBytes: this.#state.cache.bytes,
      pending: this.#pending.length,
      recoveryMs: this.recoveryMs,
    };
  }

  /** Resolves once queued appends, rolls and background file deletion have all finished. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000 && this.#running !== undefined; i++) await this.#running;
    if (this.#running !== undefined) throw new Error("WAL settle: the flush loop did not stop");
  }

  /** Waits for queued appends and background file deletion, then closes the files and frees the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#syncTimer);
    await this.settle();
    await this.#syncActive();
    this.#active?.file.close();
    this.#active = undefined;
    for (const r of this.#readers.values()) r.close();
    this.#readers.clear();
    this.lock.release();
  }
}
