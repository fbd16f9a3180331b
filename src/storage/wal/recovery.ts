/**
 * Rebuilds every group's log from the WAL files on open. A torn or corrupt tail of the newest
 * file is cut off (and logged with file and offset); a bad record in an older file is
 * corruption of acknowledged data and fails the open with CorruptionError.
 *
 * The first file replayed (the one WAL.START names, else the oldest) starts from its
 * checkpoint: garbage collection moves the start only once every group has released the
 * entries up to its checkpointed last index and no later record reaches back below it.
 */
import { CorruptionError } from "../errors.ts";
import type { Logger } from "../../log.ts";
import { FILE_MAGIC, hasMagic, listWalFiles, readStartId, walFilePath } from "./files.ts";
import { type EntryCache, GroupLog } from "./group_log.ts";
import {
  decodeRecord,
  KIND_CHECKPOINT,
  KIND_CHECKPOINT_END,
  KIND_ENTRY,
  KIND_HARD_STATE,
  KIND_SNAPSHOT,
  KIND_TRUNCATE,
} from "./record.ts";
import type { WalRecord } from "./record.ts";
import type { GroupId } from "./types.ts";

/** A group's log end as a file's checkpoint recorded it. */
export interface LogEnd {
  lastIndex: number;
  lastTerm: number;
}

/** Everything the WAL knows about its groups and files, rebuilt by recovery. */
export interface WalState {
  groups: Map<GroupId, GroupLog>;
  /** Per file, per group: the lowest log index its records reach back to. */
  refs: Map<number, Map<GroupId, number>>;
  /** Per file: each group's log end when the file was started. */
  checkpoints: Map<number, Map<GroupId, LogEnd>>;
  /** Files whose checkpoint is complete (its end record is there): only they can start a replay. */
  complete: Set<number>;
  /** Sizes of the files, by id. */
  fileBytes: Map<number, number>;
  cache: EntryCache;
}

/** Where a record sits and how to apply it. */
export interface RecordSite {
  fileId: number;
  offset: number;
  /** Entry data to keep in memory (the live path); recovery leaves it on disk. */
  data?: Uint8Array;
  /** True for the records of the first file replayed: its checkpoint starts each group. */
  first?: boolean;
}

/**
 * Applies one durable record; shared by recovery and the live write path so both build the
 * same state. Returns a description of the problem when the record does not fit the log.
 */
export function applyRecord(state: WalState, rec: WalRecord, at: RecordSite): string | undefined {
  if (rec.kind === KIND_CHECKPOINT_END) {
    // Not a group's record: it closes the file's checkpoint.
    const seen = state.checkpoints.get(at.fileId)?.size ?? 0;
    if (seen !== rec.records) {
      return `checkpoint end counts ${rec.records} records, the file has ${seen}`;
    }
    state.complete.add(at.fileId);
    return;
  }
  let log = state.groups.get(rec.group);
  if (log === undefined) {
    log = new GroupLog(rec.group, state.cache);
    state.groups.set(rec.group, log);
  }
  switch (rec.kind) {
    case KIND_ENTRY:
      noteRef(state, at.fileId, rec.group, rec.index);
      if (log.append(rec.index, rec.term, rec.type, at, rec.data.byteLength, at.data)) return;
      return `group ${rec.group} entry ${rec.index} follows ${log.lastIndex} (a gap)`;
    case KIND_HARD_STATE:
      log.hardState = { ...rec.hardState };
      return;
    case KIND_SNAPSHOT:
      if (log.applySnapshot(rec.index, rec.term)) {
        noteRef(state, at.fileId, rec.group, rec.index + 1);
      }
      return;
    case KIND_TRUNCATE:
      noteRef(state, at.fileId, rec.group, rec.fromIndex);
      log.truncateFrom(rec.fromIndex);
      return;
    case KIND_CHECKPOINT:
      if (state.complete.has(at.fileId)) {
        return `checkpoint record of group ${rec.group} after the checkpoint's end`;
      }
      return applyCheckpoint(state, log, rec, at);
  }
}

function applyCheckpoint(
  state: WalState,
  log: GroupLog,
  rec: Extract<WalRecord, { kind: typeof KIND_CHECKPOINT }>,
  at: RecordSite,
): string | undefined {
  let ends = state.checkpoints.get(at.fileId);
  if (ends === undefined) {
    ends = new Map();
    state.checkpoints.set(at.fileId, ends);
  }
  ends.set(rec.group, { lastIndex: rec.lastIndex, lastTerm: rec.lastTerm });
  if (at.first) {
    // The files before this one are gone: the group's log starts after its checkpointed end.
    log.applySnapshot(rec.snapIndex, rec.snapTerm);
    if (rec.lastIndex > rec.snapIndex) log.applySnapshot(rec.lastIndex, rec.lastTerm);
    return;
  }
  if (log.lastIndex !== rec.lastIndex || log.termAt(rec.lastIndex) !== rec.lastTerm) {
    return `group ${rec.group} checkpoint says last ${rec.lastIndex}/${rec.lastTerm}, replay has ${log.lastIndex}/${
      log.termAt(log.lastIndex)
    }`;
  }
}

function noteRef(state: WalState, fileId: number, group: GroupId, index: number): void {
  let m = state.refs.get(fileId);
  if (m === undefined) {
    m = new Map();
    state.refs.set(fileId, m);
  }
  const old = m.get(group);
  if (old === undefined || index < old) m.set(group, index);
}

/** Reads every WAL file in `dir` in order and rebuilds the state. */
export async function recoverWal(
  dir: string,
  options: { bodyBytesMax: number; logger: Logger; cache: EntryCache },
): Promise<{ state: WalState; maxFileId: number; truncatedBytes: number }> {
  const all = listWalFiles(dir);
  const startId = readStartId(dir);
  if (startId > 0 && !all.includes(startId)) {
    throw new CorruptionError(
      `WAL in ${dir}: the first file ${walFilePath(dir, startId)} is missing`,
      dir,
      0,
    );
  }
  for (const id of all.filter((id) => id < startId)) {
    // Garbage collection moved the start past these and was interrupted before deleting them.
    options.logger.info("removing a WAL file before the start", { file: walFilePath(dir, id) });
    await Deno.remove(walFilePath(dir, id));
  }
  const ids = all.filter((id) => id >= startId);
  const state: WalState = {
    groups: new Map(),
    refs: new Map(),
    checkpoints: new Map(),
    complete: new Set(),
    fileBytes: new Map(),
    cache: options.cache,
  };
  let truncatedBytes = 0;
  for (let i = 0; i < ids.length; i++) {
    const newest = i === ids.length - 1;
    truncatedBytes += await recoverFile(ids[i], { newest, first: i === 0, dir, ...options }, state);
  }
  return { state, maxFileId: all.length > 0 ? all[all.length - 1] : 0, truncatedBytes };
}

async function recoverFile(
  fileId: number,
  options: { newest: boolean; first: boolean; dir: string; bodyBytesMax: number; logger: Logger },
  state: WalState,
): Promise<number> {
  const path = walFilePath(options.dir, fileId);
  const buf = await Deno.readFile(path);
  if (!hasMagic(buf)) {
    if (options.newest && buf.byteLength < FILE_MAGIC.byteLength) {
      options.logger.warn("removing a WAL file torn before its header", {
        file: path,
        bytes: buf.byteLength,
      });
      await Deno.remove(path);
      return buf.byteLength;
    }
    throw new CorruptionError(`WAL file ${path} does not start with the WAL header`, path, 0);
  }
  let offset = FILE_MAGIC.byteLength;
  let cut = 0;
  while (offset < buf.byteLength) {
    const res = decodeRecord(buf, offset, options.bodyBytesMax);
    if (!res.ok) {
      if (!options.newest) {
        throw new CorruptionError(
          `WAL file ${path} is corrupt at offset ${offset} (${res.reason}); restore it or this node's data from a replica`,
          path,
          offset,
        );
      }
      cut = buf.byteLength - offset;
      options.logger.warn("truncating a torn WAL tail", {
        file: path,
        offset,
        reason: res.reason,
        bytes: cut,
      });
      await truncateDurably(path, offset);
      break;
    }
    const problem = applyRecord(state, res.record, { fileId, offset, first: options.first });
    if (problem !== undefined) {
      throw new CorruptionError(`WAL file ${path} offset ${offset}: ${problem}`, path, offset);
    }
    offset += res.bytes;
  }
  state.fileBytes.set(fileId, offset);
  return cut;
}

async function truncateDurably(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true });
  try {
    await file.truncate(size);
    await file.syncData();
  } finally {
    file.close();
  }
}
