/**
 * Rebuilds every group's log from the WAL files on open. A torn or corrupt tail of the newest
 * file is cut off (and logged with file and offset); a bad record in an older file is
 * corruption of acknowledged data and fails the open with CorruptionError.
 */
import { CorruptionError } from "../errors.ts";
import type { Logger } from "../../log.ts";
import { FILE_MAGIC, hasMagic, listWalFiles, walFilePath } from "./files.ts";
import { type EntryCache, GroupLog } from "./group_log.ts";
import {
  decodeRecord,
  KIND_ENTRY,
  KIND_HARD_STATE,
  KIND_SNAPSHOT,
  KIND_TRUNCATE,
} from "./record.ts";
import type { WalRecord } from "./record.ts";
import type { GroupId } from "./types.ts";

/** For each file, for each group with entry or truncate records in it, the highest index they name. */
export type FileNeeds = Map<number, Map<GroupId, number>>;

/** What recovery found. */
export interface Recovered {
  groups: Map<GroupId, GroupLog>;
  needs: FileNeeds;
  /** Sizes of the files kept, by id. */
  fileBytes: Map<number, number>;
  /** Highest file id seen (0 if none), so new files never reuse an id. */
  maxFileId: number;
  /** Bytes cut from the newest file's tail. */
  truncatedBytes: number;
}

/** Applies one durable record to the groups; shared by recovery and the live write path. */
export function applyRecord(
  groups: Map<GroupId, GroupLog>,
  needs: FileNeeds,
  rec: WalRecord,
  at: { fileId: number; offset: number; data?: Uint8Array; allowGap?: boolean },
  cache: EntryCache,
): boolean {
  let log = groups.get(rec.group);
  if (log === undefined) {
    log = new GroupLog(rec.group, cache);
    groups.set(rec.group, log);
  }
  switch (rec.kind) {
    case KIND_ENTRY:
      noteNeed(needs, at.fileId, rec.group, rec.index);
      if (log.append(rec.index, rec.term, rec.type, at, rec.data.byteLength, at.data)) return true;
      if (!at.allowGap) return false;
      log.restartAt(rec.index);
      return log.append(rec.index, rec.term, rec.type, at, rec.data.byteLength, at.data);
    case KIND_HARD_STATE:
      log.hardState = { ...rec.hardState };
      return true;
    case KIND_SNAPSHOT:
      log.applySnapshot(rec.index, rec.term);
      return true;
    case KIND_TRUNCATE:
      noteNeed(needs, at.fileId, rec.group, rec.fromIndex);
      log.truncateFrom(rec.fromIndex);
      return true;
  }
}

function noteNeed(needs: FileNeeds, fileId: number, group: GroupId, index: number): void {
  let m = needs.get(fileId);
  if (m === undefined) {
    m = new Map();
    needs.set(fileId, m);
  }
  const old = m.get(group);
  if (old === undefined || index > old) m.set(group, index);
}

/** Reads every WAL file in `dir` in order and rebuilds the groups. */
export async function recoverWal(
  dir: string,
  options: { bodyBytesMax: number; logger: Logger; cache: EntryCache },
): Promise<Recovered> {
  const ids = listWalFiles(dir);
  const out: Recovered = {
    groups: new Map(),
    needs: new Map(),
    fileBytes: new Map(),
    maxFileId: ids.length > 0 ? ids[ids.length - 1] : 0,
    truncatedBytes: 0,
  };
  for (let i = 0; i < ids.length; i++) {
    await recoverFile(ids[i], i === ids.length - 1, dir, options, out);
  }
  for (const log of out.groups.values()) {
    if (Number.isNaN(log.snapTerm)) {
      throw new CorruptionError(
        `WAL in ${dir}: group ${log.group}'s entries before ${log.firstIndex} are missing with no snapshot marker covering them (a WAL file was lost)`,
        dir,
        0,
      );
    }
  }
  return out;
}

async function recoverFile(
  fileId: number,
  newest: boolean,
  dir: string,
  options: { bodyBytesMax: number; logger: Logger; cache: EntryCache },
  out: Recovered,
): Promise<void> {
  const path = walFilePath(dir, fileId);
  const buf = await Deno.readFile(path);
  if (!hasMagic(buf)) {
    if (newest && buf.byteLength < FILE_MAGIC.byteLength) {
      options.logger.warn("removing a WAL file torn before its header", {
        file: path,
        bytes: buf.byteLength,
      });
      await Deno.remove(path);
      out.truncatedBytes += buf.byteLength;
      return;
    }
    throw new CorruptionError(`WAL file ${path} does not start with the WAL header`, path, 0);
  }
  let offset = FILE_MAGIC.byteLength;
  while (offset < buf.byteLength) {
    const res = decodeRecord(buf, offset, options.bodyBytesMax);
    if (!res.ok) {
      if (!newest) {
        throw new CorruptionError(
          `WAL file ${path} is corrupt at offset ${offset} (${res.reason}); restore it or this node's data from a replica`,
          path,
          offset,
        );
      }
      options.logger.warn("truncating a torn WAL tail", {
        file: path,
        offset,
        reason: res.reason,
        bytes: buf.byteLength - offset,
      });
      await truncateDurably(path, offset);
      out.truncatedBytes += buf.byteLength - offset;
      break;
    }
    const at = { fileId, offset, allowGap: true };
    if (!applyRecord(out.groups, out.needs, res.record, at, options.cache)) {
      throw new Error(`WAL recovery: record at ${path} offset ${offset} was not applied`);
    }
    offset += res.bytes;
  }
  out.fileBytes.set(fileId, Math.min(offset, buf.byteLength));
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
