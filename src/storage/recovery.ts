/**
 * Opening a data directory: finish or undo an interrupted merge, load hint files, scan the
 * other segments, truncate a torn tail of the newest one, and rebuild the keydir.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { CorruptionError } from "./errors.ts";
import { readHint } from "./hint.ts";
import { type Keydir, KeydirBuilder } from "./keydir.ts";
import {
  type ColumnRun,
  columnRunSorted,
  forEachMerged,
  newColumnRun,
  pushColumn,
  sortColumnRun,
} from "./key_runs.ts";
import { keyStringAt, KIND_DELETE, nodeBuffer } from "./record.ts";
import { type ScannedRecord, SegmentScanner } from "./segment_scanner.ts";
import {
  hintName,
  hintPath,
  isTempName,
  parseFileName,
  segmentName,
  segmentPath,
  syncDir,
} from "./segment_files.ts";

/** What the store knows about one segment file. */
export interface SegmentMeta {
  id: number;
  /** File size in bytes. */
  sizeBytes: number;
  /** Bytes of records the keydir points at. */
  liveBytes: number;
  /** Size of its hint file (0 when none). */
  hintBytes: number;
  /** Smallest seq of a put/delete record in it (Infinity when none). */
  minSeq: number;
  /** Largest seq of any record in it. */
  maxSeq: number;
  /** Bytes of tombstones a merge had to keep in it; a merge cannot reclaim them yet. */
  keptTombstoneBytes: number;
  /** File descriptor for positioned reads (one pread per read), opened on first read. */
  reader?: number;
}

/** The state rebuilt from a directory. */
export interface Recovered {
  keydir: Keydir;
  segments: Map<number, SegmentMeta>;
  lastSeq: number;
  /** The segment to keep appending to, if the newest one is writable. */
  activeId: number | undefined;
  /** Highest segment id in use. */
  maxId: number;
}

/** Name of the file that commits a merge (see merge.ts). */
export const MERGE_MANIFEST = "MERGE";

/** The content of a merge manifest. */
export interface MergeManifest {
  inputs: number[];
  outputs: number[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Completes a committed merge: outputs into place, inputs removed, manifest removed.
 * Idempotent, so a crash in the middle of it is finished by the next open.
 */
export async function completeMerge(
  dir: string,
  manifest: MergeManifest,
  beforeRemove?: () => Promise<void>,
): Promise<void> {
  for (const id of manifest.outputs) {
    for (const path of [segmentPath(dir, id), hintPath(dir, id)]) {
      if (await exists(path + ".tmp")) await Deno.rename(path + ".tmp", path);
    }
  }
  await syncDir(dir);
  await beforeRemove?.();
  for (const id of manifest.inputs) {
    await removeIfExists(hintPath(dir, id));
    await removeIfExists(segmentPath(dir, id));
  }
  await syncDir(dir);
  await removeIfExists(join(dir, MERGE_MANIFEST));
  await syncDir(dir);
}

async function finishInterruptedMerge(dir: string, logger: Logger): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, MERGE_MANIFEST));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  let manifest: MergeManifest;
  try {
    manifest = JSON.parse(text);
    if (!Array.isArray(manifest.inputs) || !Array.isArray(manifest.outputs)) throw new Error();
  } catch {
    throw new CorruptionError(`merge manifest is unreadable`, join(dir, MERGE_MANIFEST), 0);
  }
  logger.info("completing an interrupted merge", { ...manifest });
  await completeMerge(dir, manifest);
}

async function loadHint(dir: string, meta: SegmentMeta): Promise<ColumnRun | undefined> {
  let run = newColumnRun(meta.id, 0);
  const entry = { key: "", offset: 0, length: 0, seq: 0 };
  let info;
  try {
    info = await readHint(hintPath(dir, meta.id), {
      onCount: (count) => {
        run = newColumnRun(meta.id, count);
      },
      onEntry: (h, chunk) => {
        entry.key = keyStringAt(chunk, h);
        entry.offset = h.offset;
        entry.length = h.kind === KIND_DELETE ? -h.length : h.length;
        entry.seq = h.seq;
        pushColumn(run, entry);
      },
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  if (info === undefined || info.coveredBytes !== meta.sizeBytes) return undefined;
  meta.hintBytes = (await Deno.stat(hintPath(dir, meta.id))).size;
  meta.minSeq = info.minSeq;
  meta.maxSeq = info.maxSeq;
  // Hint files are written sorted; one that is not is still usable after sorting.
  return columnRunSorted(run) ? run : sortColumnRun(run);
}

async function scanSegment(
  dir: string,
  meta: SegmentMeta,
  options: { newest: boolean; logger: Logger },
): Promise<ColumnRun> {
  const path = segmentPath(dir, meta.id);
  const buf = await Deno.readFile(path);
  const nb = nodeBuffer(buf);
  const scanner = new SegmentScanner(buf, { skipFramedCorruption: !options.newest });
  let minSeq = Infinity;
  const unsorted = newColumnRun(meta.id, 0);
  const entry = { key: "", offset: 0, length: 0, seq: 0 };
  const onRecord = (r: ScannedRecord) => {
    entry.key = keyStringAt(nb, r);
    entry.offset = r.offset;
    entry.length = r.kind === KIND_DELETE ? -r.length : r.length;
    entry.seq = r.seq;
    pushColumn(unsorted, entry);
    if (r.seq < minSeq) minSeq = r.seq;
  };
  const onCorrupt = (r: ScannedRecord) => {
    options.logger.error("corrupt record in a closed segment; its key will report corruption", {
      file: path,
      offset: r.offset,
    });
    // The key is kept pointing at the damaged record so a read reports it instead of serving
    // an older version as if it were current.
    entry.key = keyStringAt(nb, r);
    entry.offset = r.offset;
    entry.length = r.length;
    entry.seq = r.seq;
    pushColumn(unsorted, entry);
  };
  while (scanner.step(100_000, onRecord, onCorrupt));
  meta.minSeq = minSeq;
  meta.maxSeq = scanner.lastSeq;
  const run = sortColumnRun(unsorted);
  const end = scanner.validEnd;
  if (end === buf.byteLength) return run;
  if (!options.newest) {
    if (scanner.badOffset === undefined) {
      // Only an uncommitted batch at the end of a closed segment: harmless, never applied.
      options.logger.warn("closed segment ends in an uncommitted batch; ignored", {
        file: path,
        offset: end,
      });
      return run;
    }
    throw new CorruptionError(
      `segment ${segmentName(meta.id)} is damaged at offset ${scanner.badOffset} and cannot ` +
        `be read past it; restore the data directory from a backup or a replica`,
      path,
      scanner.badOffset,
    );
  }
  options.logger.warn("truncating a torn or corrupt tail of the newest segment", {
    file: path,
    offset: end,
    droppedBytes: buf.byteLength - end,
  });
  const f = await Deno.open(path, { write: true });
  try {
    await f.truncate(end);
    await f.syncData();
  } finally {
    f.close();
  }
  meta.sizeBytes = end;
  return run;
}

async function listFiles(
  dir: string,
  logger: Logger,
): Promise<{ segs: number[]; hints: number[] }> {
  const segs: number[] = [];
  const hints: number[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile) continue;
    if (isTempName(e.name)) {
      logger.info("removing a leftover temporary file", { file: e.name });
      await Deno.remove(join(dir, e.name));
      continue;
    }
    const parsed = parseFileName(e.name);
    if (parsed?.kind === "seg") segs.push(parsed.id);
    if (parsed?.kind === "hint") hints.push(parsed.id);
  }
  segs.sort((a, b) => a - b);
  return { segs, hints };
}

/**
 * The keydir of sorted runs (oldest segment first): one entry per key, by highest seq;
 * tombstones are dropped, and live bytes are counted per segment.
 */
function buildKeydir(runs: ColumnRun[], segments: Map<number, SegmentMeta>): Keydir {
  let total = 0;
  for (const run of runs) total += run.count;
  const builder = new KeydirBuilder(total);
  const entry = { segment: 0, offset: 0, length: 0, seq: 0 };
  forEachMerged(runs, (run, i) => {
    const length = run.length[i];
    if (length < 0) return;
    entry.segment = run.segment;
    entry.offset = run.offset[i];
    entry.length = length;
    entry.seq = run.seq[i];
    builder.add(run.keys[i], entry);
    segments.get(run.segment)!.liveBytes += length;
  });
  return builder.finish();
}

/** Rebuilds the store's state from `dir` (which the caller has locked). */
export async function recover(dir: string, logger: Logger): Promise<Recovered> {
  await finishInterruptedMerge(dir, logger);
  const { segs, hints } = await listFiles(dir, logger);
  for (const id of hints) {
    if (!segs.includes(id)) await removeIfExists(join(dir, hintName(id)));
  }
  const t0 = performance.now();
  const runs: ColumnRun[] = [];
  const segments = new Map<number, SegmentMeta>();
  let activeId: number | undefined;
  let lastSeq = 0;
  for (const id of segs) {
    const stat = await Deno.stat(segmentPath(dir, id));
    const meta: SegmentMeta = {
      id,
      sizeBytes: stat.size,
      liveBytes: 0,
      hintBytes: 0,
      minSeq: Infinity,
      maxSeq: 0,
      keptTombstoneBytes: 0,
    };
    segments.set(id, meta);
    const newest = id === segs[segs.length - 1];
    let run = hints.includes(id) ? await loadHint(dir, meta) : undefined;
    if (run === undefined) {
      run = await scanSegment(dir, meta, { newest, logger });
      if (newest) activeId = id;
    }
    runs.push(run);
    if (meta.maxSeq > lastSeq) lastSeq = meta.maxSeq;
  }
  const t1 = performance.now();
  const keydir = buildKeydir(runs, segments);
  logger.debug("recovery timings", {
    loadMs: Math.round(t1 - t0),
    buildMs: Math.round(performance.now() - t1),
  });
  return {
    keydir,
    segments,
    lastSeq,
    activeId,
    maxId: segs.length > 0 ? segs[segs.length - 1] : 0,
  };
}
