/**
 * Merge (compaction): closed segments with enough dead bytes are rewritten with their live
 * records (and the tombstones still needed) into new segments with hint files.
 *
 * Crash safety. Outputs are written under temporary names and made durable. Then the writer
 * moves to a segment with a higher id than every output, and the MERGE manifest (inputs,
 * outputs) is written and renamed into place: that rename is the commit point. Next, outputs
 * get their final names, the keydir moves to them, and only then are the inputs removed and
 * the manifest deleted. A crash before the commit leaves temporary files that the next open
 * removes; a crash after it is finished by the next open (recovery.ts completeMerge). So a
 * merge either happened entirely or not at all, and no record is lost or duplicated.
 *
 * Tombstones. A tombstone can only be dropped when no segment outside the merge can still hold
 * an older put of its key, that is when every other segment's smallest seq is greater.
 */
import { closeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Logger } from "../log.ts";
import { encodeHint, type HintEntry, sortHintEntries } from "./hint.ts";
import type { Keydir, Relocation } from "./keydir.ts";
import { Pacer, PACER_CHECK_EVERY, yieldToLoop } from "./pacer.ts";
import type { ResolvedOptions } from "./options.ts";
import {
  FLAG_BATCH,
  HEADER_BYTES,
  keyStringAt,
  KIND_DELETE,
  KIND_MASK,
  KIND_PUT,
  nodeBuffer,
} from "./record.ts";
import { completeMerge, MERGE_MANIFEST, type MergeManifest, type SegmentMeta } from "./recovery.ts";
import { hintPath, segmentPath, syncDir } from "./segment_files.ts";
import { type ScannedRecord, SegmentScanner } from "./segment_scanner.ts";
import type { MergeResult } from "./types.ts";

/** Shortest rest after a slice that wrote. */
const IO_REST_MS_MIN = 2;
/** Longest rest after one output write. */
const IO_REST_MS_MAX = 20;

const rest = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Most copies (of at most one record each) gathered before they are written. */
const PENDING_COPIES_MAX = 4096;
/** Output bytes written between two syncs of an output file. */
const SYNC_EVERY_BYTES = 128 * 1024;
/** Most input segments in one merge pass. */
const MERGE_INPUTS_MAX = 64;

/** What merge needs from the store. */
export interface MergeHost {
  readonly dir: string;
  readonly cfg: ResolvedOptions;
  readonly logger: Logger;
  readonly keydir: Keydir;
  readonly segments: Map<number, SegmentMeta>;
  readonly active: { meta: SegmentMeta };
  readonly maxId: number;
  /** Reserves a new segment id. */
  allocateId(): number;
  /** Set when the store closes: the merge stops and cleans up. */
  readonly mergeAbort: boolean;
  /** Moves the writer to a new segment with an id above every id handed out. */
  rollForMerge(): Promise<void>;
}

interface Output {
  id: number;
  file: Deno.FsFile;
  /** Bytes written so far. */
  sizeBytes: number;
  /** Bytes assigned so far (written or waiting in the current chunk). */
  plannedBytes: number;
  /** Bytes written since the last syncData. */
  unsyncedBytes: number;
  entries: HintEntry[];
  minSeq: number;
  maxSeq: number;
  tombstoneBytes: number;
  hintBytes: number;
}

/**
 * Records copied by the merge, column-wise (no object per record): move `i` takes `keys[i]`
 * from (segment, offset) `nums[5i], nums[5i+1]` to `nums[5i+2], nums[5i+3]`, `nums[5i+4]` bytes.
 */
interface Moved {
  keys: string[];
  nums: number[];
}

class MergeAborted extends Error {}

/** The dead share of a segment that a merge could reclaim now. */
export function reclaimableRatio(meta: SegmentMeta): number {
  if (meta.sizeBytes <= HEADER_BYTES) return 0;
  const reclaimable = meta.sizeBytes - meta.liveBytes - meta.keptTombstoneBytes;
  return reclaimable / meta.sizeBytes;
}

function pickInputs(host: MergeHost, declined: Set<number>): SegmentMeta[] {
  const inputs: SegmentMeta[] = [];
  const ids = [...host.segments.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const meta = host.segments.get(id)!;
    if (id === host.active.meta.id || declined.has(id)) continue;
    if (reclaimableRatio(meta) < host.cfg.mergeDeadRatioMin) continue;
    inputs.push(meta);
    if (inputs.length >= MERGE_INPUTS_MAX) break;
  }
  return inputs;
}

/** Runs one merge pass over the segments past the threshold. */
export async function runMerge(
  host: MergeHost,
  options: { auto: boolean; declined: Set<number> },
): Promise<MergeResult> {
  const inputs = pickInputs(host, options.declined);
  if (inputs.length === 0) return { segmentsMerged: 0, bytesReclaimed: 0 };
  const inputIds = new Set(inputs.map((m) => m.id));
  let outsideMinSeq = Infinity;
  for (const m of host.segments.values()) {
    if (!inputIds.has(m.id) && m.minSeq < outsideMinSeq) outsideMinSeq = m.minSeq;
  }
  const outputs: Output[] = [];
  const moved: Moved = { keys: [], nums: [] };
  try {
    for (const input of inputs) {
      const ok = await copyLive(host, input, { outputs, moved, outsideMinSeq });
      if (!ok) {
        options.declined.add(input.id);
        throw new MergeAborted();
      }
    }
    await finishOutputs(host, outputs);
    if (host.mergeAbort) throw new MergeAborted();
    await host.rollForMerge();
  } catch (err) {
    await discardOutputs(host, outputs);
    if (err instanceof MergeAborted) return { segmentsMerged: 0, bytesReclaimed: 0 };
    throw err;
  }
  return await commit(host, { inputs, outputs, moved });
}

async function copyLive(
  host: MergeHost,
  input: SegmentMeta,
  ctx: { outputs: Output[]; moved: Moved; outsideMinSeq: number },
): Promise<boolean> {
  const path = segmentPath(host.dir, input.id);
  const buf = await Deno.readFile(path);
  const nb = nodeBuffer(buf);
  const scanner = new SegmentScanner(buf, { skipFramedCorruption: true });
  let corrupt = false;
  // Copies waiting to be written, as (output id, offset in `buf`, length) triples.
  const copies: number[] = [];
  const at = { segment: input.id, offset: 0 };
  const onRecord = (r: ScannedRecord) => {
    // no older put of a key deleted here can remain outside the merge: the tombstone goes
    if (r.kind !== KIND_PUT && r.seq <= ctx.outsideMinSeq) return;
    const key = keyStringAt(nb, r);
    if (r.kind === KIND_PUT) {
      at.offset = r.offset;
      if (!host.keydir.isAt(key, at)) return; // overwritten or deleted since: dead
    }
    const out = outputFor(host, { outputs: ctx.outputs, recordBytes: r.length });
    const toOffset = out.plannedBytes;
    out.plannedBytes += r.length;
    copies.push(out.id, r.offset, r.length);
    out.entries.push({ key, seq: r.seq, kind: r.kind, offset: toOffset, length: r.length });
    if (r.seq < out.minSeq) out.minSeq = r.seq;
    if (r.seq > out.maxSeq) out.maxSeq = r.seq;
    if (r.kind === KIND_DELETE) out.tombstoneBytes += r.length;
    else {
      ctx.moved.keys.push(key);
      ctx.moved.nums.push(input.id, r.offset, out.id, toOffset, r.length);
    }
  };
  const onCorrupt = (r: { offset: number }) => {
    corrupt = true;
    host.logger.error("merge skips a segment with a corrupt record", {
      file: path,
      offset: r.offset,
    });
  };
  // Slices end by elapsed time (records vary in cost: a CRC over each one's bytes).
  const pacer = new Pacer();
  let more = true;
  while (more) {
    more = scanner.step(PACER_CHECK_EVERY, onRecord, onCorrupt);
    if (more && !pacer.due() && copies.length < 3 * PENDING_COPIES_MAX) continue;
    const wrote = copies.length > 0;
    const ioStart = performance.now();
    await writeCopies(ctx.outputs, { src: buf, copies });
    copies.length = 0;
    if (host.mergeAbort) throw new MergeAborted();
    // The merge's writes and syncs share the disk (and the file system journal) with durable
    // writers: resting at least as long as they took leaves writers the disk most of the time.
    const ioMs = performance.now() - ioStart;
    if (wrote) await rest(Math.min(Math.max(ioMs, IO_REST_MS_MIN), IO_REST_MS_MAX));
    await pacer.pause();
  }
  if (scanner.badOffset !== undefined) {
    host.logger.error("merge skips a damaged segment", { file: path, offset: scanner.badOffset });
    return false;
  }
  return !corrupt;
}

function outputFor(
  host: MergeHost,
  need: { outputs: Output[]; recordBytes: number },
): Output {
  const { outputs, recordBytes: length } = need;
  const last = outputs[outputs.length - 1];
  if (
    last !== undefined &&
    (last.plannedBytes === 0 || last.plannedBytes + length <= host.cfg.segmentBytesMax)
  ) {
    return last;
  }
  const id = host.allocateId();
  const file = Deno.openSync(segmentPath(host.dir, id) + ".tmp", {
    write: true,
    createNew: true,
  });
  const out: Output = {
    id,
    file,
    sizeBytes: 0,
    plannedBytes: 0,
    unsyncedBytes: 0,
    entries: [],
    minSeq: Infinity,
    maxSeq: 0,
    tombstoneBytes: 0,
    hintBytes: 0,
  };
  outputs.push(out);
  return out;
}

/**
 * Writes the pending copies to their outputs: one write per output. A record of a batch loses
 * its batch bit (its batch committed) and gets a fresh CRC.
 */
async function writeCopies(
  outputs: Output[],
  pending: { src: Uint8Array; copies: number[] },
): Promise<void> {
  const { src, copies } = pending;
  for (const out of outputs) {
    let total = 0;
    for (let i = 0; i < copies.length; i += 3) if (copies[i] === out.id) total += copies[i + 2];
    if (total === 0) continue;
    const buf = new Uint8Array(total);
    const view = new DataView(buf.buffer);
    let p = 0;
    for (let i = 0; i < copies.length; i += 3) {
      if (copies[i] !== out.id) continue;
      const length = copies[i + 2];
      buf.set(src.subarray(copies[i + 1], copies[i + 1] + length), p);
      if ((buf[p + 12] & FLAG_BATCH) !== 0) {
        buf[p + 12] &= KIND_MASK;
        view.setUint32(p, crc32(buf.subarray(p + 4, p + length)), true);
      }
      p += length;
    }
    let done = 0;
    while (done < total) done += await out.file.write(buf.subarray(done));
    out.sizeBytes += total;
    if (out.sizeBytes > out.plannedBytes) throw new Error("merge wrote more than it planned");
    // Flushing as it goes keeps the merge's dirty pages few: otherwise a writer's fdatasync
    // (a journal commit) would have to wait for all of them.
    out.unsyncedBytes += total;
    if (out.unsyncedBytes >= SYNC_EVERY_BYTES) {
      await out.file.syncData();
      out.unsyncedBytes = 0;
    }
  }
}

async function finishOutputs(host: MergeHost, outputs: Output[]): Promise<void> {
  for (const out of outputs) {
    await out.file.syncData();
    out.file.close();
    const hint = await encodeHint({
      coveredBytes: out.sizeBytes,
      minSeq: out.minSeq,
      maxSeq: out.maxSeq,
      entries: await sortHintEntries(out.entries, yieldToLoop),
    }, yieldToLoop);
    const f = await Deno.open(hintPath(host.dir, out.id) + ".tmp", {
      write: true,
      createNew: true,
    });
    try {
      let done = 0;
      while (done < hint.byteLength) done += await f.write(hint.subarray(done));
      await f.syncData();
    } finally {
      f.close();
    }
    out.hintBytes = hint.byteLength;
    out.entries = [];
  }
  await syncDir(host.dir);
}

async function discardOutputs(host: MergeHost, outputs: Output[]): Promise<void> {
  for (const out of outputs) {
    try {
      out.file.close();
    } catch { /* already closed */ }
    for (const p of [segmentPath(host.dir, out.id), hintPath(host.dir, out.id)]) {
      await Deno.remove(p + ".tmp").catch(() => {});
    }
  }
}

async function commit(
  host: MergeHost,
  plan: { inputs: SegmentMeta[]; outputs: Output[]; moved: Moved },
): Promise<MergeResult> {
  const { inputs, outputs, moved } = plan;
  const manifest: MergeManifest = {
    inputs: inputs.map((m) => m.id),
    outputs: outputs.map((o) => o.id),
  };
  const manifestPath = join(host.dir, MERGE_MANIFEST);
  const f = await Deno.open(manifestPath + ".tmp", { write: true, create: true, truncate: true });
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(manifest)));
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(manifestPath + ".tmp", manifestPath);
  await syncDir(host.dir); // committed: from here on the merge is finished by any next open
  const metas: SegmentMeta[] = outputs.map((o) => ({
    id: o.id,
    sizeBytes: o.sizeBytes,
    liveBytes: 0,
    hintBytes: o.hintBytes,
    minSeq: o.minSeq,
    maxSeq: o.maxSeq,
    keptTombstoneBytes: o.tombstoneBytes,
  }));
  await completeMerge(host.dir, manifest, async () => {
    for (const m of metas) host.segments.set(m.id, m);
    await swapKeydir(host, moved);
    for (const input of inputs) {
      if (input.reader !== undefined) closeSync(input.reader);
      input.reader = undefined;
      // Every live record of an input was copied, and every copy is now what the keydir
      // points at (or the key was rewritten since): nothing may still point into an input.
      if (input.liveBytes !== 0) {
        throw new Error(
          `merge invariant: input ${input.id} still has ${input.liveBytes} live bytes`,
        );
      }
      host.segments.delete(input.id);
    }
  });
  let before = 0;
  for (const m of inputs) before += m.sizeBytes + m.hintBytes;
  let after = 0;
  for (const m of metas) after += m.sizeBytes + m.hintBytes;
  host.logger.info("merged segments", { ...manifest, bytesReclaimed: before - after });
  return { segmentsMerged: inputs.length, bytesReclaimed: before - after };
}

async function swapKeydir(host: MergeHost, moved: Moved): Promise<void> {
  const { keys, nums } = moved;
  if (nums.length !== 5 * keys.length) throw new Error("merge: moved columns mismatch");
  const move: Relocation = { fromSegment: 0, fromOffset: 0, toSegment: 0, toOffset: 0 };
  const pacer = new Pacer();
  for (let i = 0; i < keys.length; i++) {
    if (i % PACER_CHECK_EVERY === 0 && pacer.due()) await pacer.pause();
    const k = 5 * i;
    move.fromSegment = nums[k];
    move.fromOffset = nums[k + 1];
    move.toSegment = nums[k + 2];
    move.toOffset = nums[k + 3];
    // Moved only if nothing rewrote the key since it was copied; both copies are identical,
    // so a reader sees the same value before and after each move.
    if (host.keydir.relocate(keys[i], move)) {
      host.segments.get(move.toSegment)!.liveBytes += nums[k + 4];
      host.segments.get(move.fromSegment)!.liveBytes -= nums[k + 4];
    }
  }
}
