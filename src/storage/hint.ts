/**
 * Hint files: the keydir entries of one closed segment, so recovery need not read values.
 *
 * Layout (little endian): `magic "RKH2" | coveredBytes u32 | minSeq f64 | maxSeq f64 |
 * entryCount u32 | entries | crc32 u32`, where an entry is `seq f64 | kind u8 |
 * keyLength u16 | offset u32 | length u32 | key`. The CRC covers every byte before it.
 * Entries are sorted by key, one per key.
 */
import { crc32 } from "node:zlib";
import { sortRunSliced } from "./key_runs.ts";

const MAGIC = 0x32484b52; // "RKH2"
const HEAD_BYTES = 4 + 4 + 8 + 8 + 4;
const FIXED_BYTES = HEAD_BYTES + 4;
const ENTRY_BYTES = 8 + 1 + 2 + 4 + 4;

/** One record of a segment as a hint lists it. */
export interface HintEntry {
  /** The key as keyToString makes it. */
  key: string;
  seq: number;
  /** KIND_PUT or KIND_DELETE. */
  kind: number;
  offset: number;
  length: number;
}

/** One decoded hint entry; its key lies in the hint buffer at keyStart. */
export interface HintCursor {
  keyStart: number;
  keyBytes: number;
  seq: number;
  kind: number;
  offset: number;
  length: number;
}

/** Everything a hint file holds. */
export interface HintData {
  /** Bytes of the segment the entries describe; the hint is valid only for that size. */
  coveredBytes: number;
  /** Smallest and largest seq of put/delete records (Infinity/0 when none). */
  minSeq: number;
  maxSeq: number;
  entries: HintEntry[];
}

/**
 * Puts hint entries (given in file order) in the order a hint file stores them: sorted by key,
 * one per key (the highest seq; for equal seqs the later record). Recovery then needs no sort.
 * Yields between slices so it can run beside requests.
 */
export async function sortHintEntries(
  entries: HintEntry[],
  yieldNow: () => Promise<void>,
): Promise<HintEntry[]> {
  const keys = entries.map((e) => e.key);
  return (await sortRunSliced({ keys, entries }, { yieldNow })).entries;
}

/**
 * Serialises a hint file; `entries` should come from {@link sortHintEntries}. With `yieldNow`,
 * yields to the event loop every few thousand entries.
 */
export async function encodeHint(
  data: HintData,
  yieldNow?: () => Promise<void>,
): Promise<Uint8Array> {
  let size = FIXED_BYTES;
  for (const e of data.entries) size += ENTRY_BYTES + e.key.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let p = 0;
  view.setUint32(p, MAGIC, true);
  view.setUint32(p + 4, data.coveredBytes, true);
  view.setFloat64(p + 8, data.minSeq, true);
  view.setFloat64(p + 16, data.maxSeq, true);
  view.setUint32(p + 24, data.entries.length, true);
  p += HEAD_BYTES;
  let n = 0;
  for (const e of data.entries) {
    if (yieldNow !== undefined && ++n % 8192 === 0) await yieldNow();
    view.setFloat64(p, e.seq, true);
    buf[p + 8] = e.kind;
    view.setUint16(p + 9, e.key.length, true);
    view.setUint32(p + 11, e.offset, true);
    view.setUint32(p + 15, e.length, true);
    const at = p + ENTRY_BYTES;
    for (let i = 0; i < e.key.length; i++) buf[at + i] = e.key.charCodeAt(i);
    p += ENTRY_BYTES + e.key.length;
  }
  view.setUint32(p, crc32(buf.subarray(0, p)), true);
  if (p + 4 !== size) throw new Error("hint size mismatch");
  return buf;
}

/**
 * Parses a hint file; undefined when it is damaged (bad magic, CRC or framing).
 * `onEntry` receives each entry in file order, as one cursor object reused for every entry;
 * the entry's key is `buf[keyStart, keyStart + keyBytes)`.
 */
export function decodeHint(
  buf: Uint8Array,
  onEntry: (entry: HintCursor) => void,
): Omit<HintData, "entries"> | undefined {
  if (buf.byteLength < FIXED_BYTES) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength - 4;
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  if (crc32(buf.subarray(0, end)) !== view.getUint32(end, true)) return undefined;
  const coveredBytes = view.getUint32(4, true);
  const minSeq = view.getFloat64(8, true);
  const maxSeq = view.getFloat64(16, true);
  const count = view.getUint32(24, true);
  let p = HEAD_BYTES;
  const first = p;
  for (let i = 0; i < count; i++) {
    if (p + ENTRY_BYTES > end) return undefined;
    p += ENTRY_BYTES + view.getUint16(p + 9, true);
  }
  if (p !== end) return undefined;
  p = first;
  const cursor: HintCursor = { keyStart: 0, keyBytes: 0, seq: 0, kind: 0, offset: 0, length: 0 };
  for (let i = 0; i < count; i++) {
    cursor.keyBytes = view.getUint16(p + 9, true);
    cursor.keyStart = p + ENTRY_BYTES;
    cursor.seq = view.getFloat64(p, true);
    cursor.kind = buf[p + 8];
    cursor.offset = view.getUint32(p + 11, true);
    cursor.length = view.getUint32(p + 15, true);
    onEntry(cursor);
    p += ENTRY_BYTES + cursor.keyBytes;
  }
  return { coveredBytes, minSeq, maxSeq };
}
