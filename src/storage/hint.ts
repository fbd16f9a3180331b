/**
 * Hint files: the keydir entries of one closed segment, so recovery need not read values.
 *
 * Layout (little endian): `magic "RKH2" | coveredBytes u32 | minSeq f64 | maxSeq f64 |
 * entryCount u32 | entries | crc32 u32`, where an entry is `seq f64 | kind u8 |
 * keyLength u16 | offset u32 | length u32 | key`. The CRC covers every byte before it.
 * Entries are sorted by key, one per key.
 */
import { Buffer } from "node:buffer";
import { crc32 } from "node:zlib";
import { sortRunSliced } from "./key_runs.ts";
import { Pacer, PACER_CHECK_EVERY } from "./pacer.ts";
import { RECORD_KEY_BYTES_MAX } from "./record.ts";

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
 * yields to the event loop about every 0.5 ms of work (see pacer.ts).
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
  const pacer = yieldNow === undefined ? undefined : new Pacer({ yieldNow });
  for (const e of data.entries) {
    if (pacer !== undefined && ++n % PACER_CHECK_EVERY === 0 && pacer.due()) await pacer.pause();
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

/** Bytes {@link readHint} reads at a time (plus room for one whole entry). */
export const HINT_CHUNK_BYTES = 1 << 20;

/** What {@link readHint} delivers to. */
export interface HintHandlers {
  /** The entry count from the header, before the first entry. */
  onCount(count: number): void;
  /**
   * Each entry in file order, as one cursor reused for every entry; its key is
   * `chunk[keyStart, keyStart + keyBytes)`, valid only during the call.
   */
  onEntry(entry: HintCursor, chunk: Buffer): void;
}

/**
 * Reads the hint file at `path` in chunks of {@link HINT_CHUNK_BYTES}, so recovery never holds
 * a whole hint file. Unlike {@link decodeHint}, entries are delivered before the CRC at the end
 * is checked: when the result is undefined (damaged: bad magic, CRC or framing), the caller
 * must discard what it was given. Throws what opening or reading the file throws.
 */
export async function readHint(
  path: string,
  handlers: HintHandlers,
): Promise<Omit<HintData, "entries"> | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const sizeBytes = (await file.stat()).size;
    if (sizeBytes < FIXED_BYTES) return undefined;
    return await new HintChunks(file, sizeBytes).read(handlers);
  } finally {
    file.close();
  }
}

/** The reading state of {@link readHint}: a window of the file and a running CRC. */
class HintChunks {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly nb: Buffer;
  /** File offset of buf[0]. */
  base = 0;
  /** Bytes of the window in buf. */
  filled = 0;
  /** CRC of the file bytes read so far that precede the trailer. */
  crc = 0;
  /** Bytes the CRC covers (all but the trailer). */
  readonly crcEnd: number;

  constructor(readonly file: Deno.FsFile, readonly sizeBytes: number) {
    const capacity = Math.min(sizeBytes, HINT_CHUNK_BYTES + ENTRY_BYTES + RECORD_KEY_BYTES_MAX);
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.nb = Buffer.from(this.buf.buffer, 0, capacity);
    this.crcEnd = sizeBytes - 4;
  }

  /** Makes `bytes` bytes from buf[at] available (moving the window); false at end of file. */
  async ensure(at: number, bytes: number): Promise<number | undefined> {
    if (at + bytes <= this.filled) return at;
    if (this.base + at + bytes > this.sizeBytes) return undefined;
    this.buf.copyWithin(0, at, this.filled);
    this.base += at;
    this.filled -= at;
    // Each read makes progress or ends the file, and the window is bounded: at most
    // capacity / 1 reads, in practice one or two.
    for (let reads = 0; this.filled < bytes && reads < this.buf.byteLength; reads++) {
      const want = this.buf.subarray(this.filled, this.buf.byteLength);
      const n = await this.file.read(want);
      if (n === null) return undefined;
      const from = this.base + this.filled;
      const upTo = Math.min(from + n, this.crcEnd);
      if (upTo > from) {
        this.crc = crc32(this.buf.subarray(this.filled, this.filled + upTo - from), this.crc);
      }
      this.filled += n;
    }
    return this.filled >= bytes ? 0 : undefined;
  }

  async read(handlers: HintHandlers): Promise<Omit<HintData, "entries"> | undefined> {
    let p = await this.ensure(0, HEAD_BYTES);
    if (p === undefined || this.view.getUint32(p, true) !== MAGIC) return undefined;
    const coveredBytes = this.view.getUint32(p + 4, true);
    const minSeq = this.view.getFloat64(p + 8, true);
    const maxSeq = this.view.getFloat64(p + 16, true);
    const count = this.view.getUint32(p + 24, true);
    // Each entry takes at least ENTRY_BYTES: a count that cannot fit is damage.
    if (HEAD_BYTES + count * ENTRY_BYTES > this.crcEnd) return undefined;
    handlers.onCount(count);
    p += HEAD_BYTES;
    const c: HintCursor = { keyStart: 0, keyBytes: 0, seq: 0, kind: 0, offset: 0, length: 0 };
    for (let i = 0; i < count; i++) {
      // Awaiting only when the window runs out keeps the common case free of microtasks.
      if (p + ENTRY_BYTES > this.filled) p = await this.ensure(p, ENTRY_BYTES);
      if (p === undefined) return undefined;
      c.keyBytes = this.view.getUint16(p + 9, true);
      const bytes = ENTRY_BYTES + c.keyBytes;
      if (this.base + p + bytes > this.crcEnd) return undefined;
      if (p + bytes > this.filled) p = await this.ensure(p, bytes);
      if (p === undefined) return undefined;
      c.keyStart = p + ENTRY_BYTES;
      c.seq = this.view.getFloat64(p, true);
      c.kind = this.buf[p + 8];
      c.offset = this.view.getUint32(p + 11, true);
      c.length = this.view.getUint32(p + 15, true);
      handlers.onEntry(c, this.nb);
      p += bytes;
    }
    if (this.base + p !== this.crcEnd) return undefined;
    p = await this.ensure(p, 4);
    if (p === undefined || this.view.getUint32(p, true) !== (this.crc >>> 0)) return undefined;
    return { coveredBytes, minSeq, maxSeq };
  }
}
