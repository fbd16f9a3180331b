/**
 * The on-disk record of a segment file.
 *
 * Layout (little endian), 19 header bytes then the payload:
 * `crc32 u32 | seq u64 | flags u8 | keyLength u16 | valueLength u32 | key | value`.
 * The CRC covers every byte after it. `flags` holds the record kind in its low bits and
 * the batch bit: a batch is a run of records with the batch bit set, followed by one
 * commit record with the batch's sequence number; records of a batch without its commit
 * record are discarded on recovery.
 */
import { crc32 } from "node:zlib";
import { Buffer } from "node:buffer";

/** Bytes before the key. */
export const HEADER_BYTES = 19;
/** Longest key the record format can hold. */
export const RECORD_KEY_BYTES_MAX = 0xffff;
/** Largest value the record format accepts (the engine's hard limit). */
export const RECORD_VALUE_BYTES_MAX = 64 * 1024 * 1024;

/** Record kinds (low three bits of flags). */
export const KIND_PUT = 1;
export const KIND_DELETE = 2;
/** Ends a batch: every batch record before it since the last non-batch record is committed. */
export const KIND_COMMIT = 3;
/** Written first in every new segment: carries the last sequence number so far. */
export const KIND_SEQ_MARK = 4;
export const KIND_MASK = 0x07;
/** Set on puts and deletes that belong to a batch. */
export const FLAG_BATCH = 0x10;

const SEQ_HIGH = 0x1_0000_0000;

/** Total bytes of a record with these key and value lengths. */
export function recordBytes(keyBytes: number, valueBytes: number): number {
  return HEADER_BYTES + keyBytes + valueBytes;
}

/** Writes one record into `buf` at `rec.offset` and returns its length. `buf` must have room. */
export function writeRecord(
  buf: Uint8Array,
  rec: { offset: number; seq: number; flags: number; key: Uint8Array; value?: Uint8Array },
): number {
  const offset = rec.offset;
  const valueBytes = rec.value?.byteLength ?? 0;
  const length = recordBytes(rec.key.byteLength, valueBytes);
  if (offset + length > buf.byteLength) throw new Error("record buffer overflow");
  if (!Number.isSafeInteger(rec.seq) || rec.seq < 0) throw new Error(`bad seq ${rec.seq}`);
  if (rec.key.byteLength > RECORD_KEY_BYTES_MAX) throw new Error("key too long for record");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(offset + 4, rec.seq % SEQ_HIGH, true);
  view.setUint32(offset + 8, Math.floor(rec.seq / SEQ_HIGH), true);
  buf[offset + 12] = rec.flags;
  view.setUint16(offset + 13, rec.key.byteLength, true);
  view.setUint32(offset + 15, valueBytes, true);
  buf.set(rec.key, offset + HEADER_BYTES);
  if (rec.value) buf.set(rec.value, offset + HEADER_BYTES + rec.key.byteLength);
  const crc = crc32(buf.subarray(offset + 4, offset + length));
  view.setUint32(offset, crc, true);
  return length;
}

/** The fields of a record header. */
export interface RecordHeader {
  /** Where the record starts in the buffer it was read from. */
  offset: number;
  crc: number;
  seq: number;
  flags: number;
  keyBytes: number;
  valueBytes: number;
  /** Total record length. */
  length: number;
}

/**
 * Parses the header at `offset`; undefined when fewer than HEADER_BYTES remain.
 * Does not check the CRC (see {@link recordCrcValid}).
 */
export function readHeader(buf: Uint8Array, offset: number): RecordHeader | undefined {
  if (offset + HEADER_BYTES > buf.byteLength) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const keyBytes = view.getUint16(offset + 13, true);
  const valueBytes = view.getUint32(offset + 15, true);
  return {
    offset,
    crc: view.getUint32(offset, true),
    seq: view.getUint32(offset + 4, true) + view.getUint32(offset + 8, true) * SEQ_HIGH,
    flags: buf[offset + 12],
    keyBytes,
    valueBytes,
    length: HEADER_BYTES + keyBytes + valueBytes,
  };
}

/** Whether a header's fields are possible at all (before checking its CRC). */
export function headerPlausible(h: RecordHeader): boolean {
  const kind = h.flags & KIND_MASK;
  if ((h.flags & ~(KIND_MASK | FLAG_BATCH)) !== 0) return false;
  if (kind < KIND_PUT || kind > KIND_SEQ_MARK) return false;
  if (h.valueBytes > RECORD_VALUE_BYTES_MAX) return false;
  if ((kind === KIND_PUT || kind === KIND_DELETE) && h.keyBytes === 0) return false;
  if (kind !== KIND_PUT && h.valueBytes !== 0) return false;
  return Number.isSafeInteger(h.seq);
}

/** Whether the CRC of the whole record `h` describes (read from `buf`) matches. */
export function recordCrcValid(buf: Uint8Array, h: RecordHeader): boolean {
  const offset = h.offset;
  if (offset + h.length > buf.byteLength) return false;
  return crc32(buf.subarray(offset + 4, offset + h.length)) === h.crc;
}

/** A key's bytes as a one-byte-per-char string: compares in byte order. */
export function keyToString(key: Uint8Array): string {
  const n = key.byteLength;
  if (n <= 64) {
    // deno-lint-ignore no-explicit-any
    return String.fromCharCode.apply(null, key as any);
  }
  return Buffer.from(key.buffer, key.byteOffset, n).toString("latin1");
}

/** The bytes of a key string made by {@link keyToString}. */
export function stringToKey(s: string): Uint8Array {
  const n = s.length;
  if (n <= 24) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const b = Buffer.from(s, "latin1");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A Node Buffer over the same memory as `buf`, for {@link keyStringAt}. */
export function nodeBuffer(buf: Uint8Array): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** keyToString of the key of a record or hint entry in `nodeBuf`, without making a view. */
export function keyStringAt(nodeBuf: Buffer, at: { keyStart: number; keyBytes: number }): string {
  return nodeBuf.toString("latin1", at.keyStart, at.keyStart + at.keyBytes);
}
