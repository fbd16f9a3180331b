/**
 * WAL record framing. Every record is
 *   crc32 u32 | bodyBytes u32 | kind u8 | group u32 | fields...
 * little-endian, where bodyBytes counts everything after itself and the CRC32 (node:zlib)
 * covers everything after the CRC. Numbers that may pass 2^32 are stored as u64.
 */
import { crc32 } from "node:zlib";
import type { GroupId, WalHardState } from "./types.ts";

/** Record kinds, as stored. */
export const KIND_ENTRY = 1;
export const KIND_HARD_STATE = 2;
export const KIND_SNAPSHOT = 3;
export const KIND_TRUNCATE = 4;
/** At the head of every file: a group's log shape when the file was started. */
export const KIND_CHECKPOINT = 5;
/** Ends a file's checkpoint; `records` counts the checkpoint records before it. */
export const KIND_CHECKPOINT_END = 6;

/** Bytes before a record's kind-specific fields. */
export const HEADER_BYTES = 13;
/** Bytes of an entry record before its data. */
export const ENTRY_HEADER_BYTES = HEADER_BYTES + 17;
/** Written as a null vote's length. */
const VOTE_NULL = 0xffff;
const TWO_32 = 2 ** 32;

/** One decoded record. */
export type WalRecord =
  | {
    kind: typeof KIND_ENTRY;
    group: GroupId;
    index: number;
    term: number;
    type: number;
    data: Uint8Array;
  }
  | { kind: typeof KIND_HARD_STATE; group: GroupId; hardState: WalHardState }
  | { kind: typeof KIND_SNAPSHOT; group: GroupId; index: number; term: number }
  | { kind: typeof KIND_TRUNCATE; group: GroupId; fromIndex: number }
  | { kind: typeof KIND_CHECKPOINT_END; group: GroupId; records: number }
  | {
    kind: typeof KIND_CHECKPOINT;
    group: GroupId;
    snapIndex: number;
    snapTerm: number;
    lastIndex: number;
    lastTerm: number;
  };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function setU64(dv: DataView, at: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`u64 field out of range: ${n}`);
  dv.setUint32(at, n % TWO_32, true);
  dv.setUint32(at + 4, Math.floor(n / TWO_32), true);
}

function getU64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * TWO_32 + dv.getUint32(at, true);
}

/** Encoded size of a record, given its vote bytes for hard states. */
export function recordBytes(rec: WalRecord, voteBytes?: Uint8Array): number {
  switch (rec.kind) {
    case KIND_ENTRY:
      return ENTRY_HEADER_BYTES + rec.data.byteLength;
    case KIND_HARD_STATE:
      return HEADER_BYTES + 18 + (voteBytes?.byteLength ?? 0);
    case KIND_SNAPSHOT:
      return HEADER_BYTES + 16;
    case KIND_TRUNCATE:
    case KIND_CHECKPOINT_END:
      return HEADER_BYTES + 8;
    case KIND_CHECKPOINT:
      return HEADER_BYTES + 32;
  }
}

/** UTF-8 bytes of a hard state's vote (empty for null). */
export function voteBytesOf(hs: WalHardState): Uint8Array {
  return hs.vote === null ? new Uint8Array(0) : encoder.encode(hs.vote);
}

/**
 * Writes `rec` into `buf` at `offset` (the caller sized `buf` with recordBytes) and returns
 * the offset after it.
 */
export function encodeRecord(
  buf: Uint8Array,
  offset: number,
  rec: WalRecord,
  voteBytes?: Uint8Array,
): number {
  const size = recordBytes(rec, voteBytes);
  if (offset + size > buf.byteLength) throw new Error("encodeRecord: buffer too small");
  const dv = view(buf);
  const at = offset + HEADER_BYTES;
  dv.setUint32(offset + 4, size - 8, true);
  dv.setUint8(offset + 8, rec.kind);
  dv.setUint32(offset + 9, rec.group, true);
  switch (rec.kind) {
    case KIND_ENTRY:
      setU64(dv, at, rec.index);
      setU64(dv, at + 8, rec.term);
      dv.setUint8(at + 16, rec.type);
      buf.set(rec.data, at + 17);
      break;
    case KIND_HARD_STATE: {
      const vote = voteBytes ?? new Uint8Array(0);
      setU64(dv, at, rec.hardState.term);
      setU64(dv, at + 8, rec.hardState.commit);
      dv.setUint16(at + 16, rec.hardState.vote === null ? VOTE_NULL : vote.byteLength, true);
      buf.set(vote, at + 18);
      break;
    }
    case KIND_SNAPSHOT:
      setU64(dv, at, rec.index);
      setU64(dv, at + 8, rec.term);
      break;
    case KIND_CHECKPOINT_END:
      setU64(dv, at, rec.records);
      break;
    case KIND_TRUNCATE:
      setU64(dv, at, rec.fromIndex);
      break;
    case KIND_CHECKPOINT:
      setU64(dv, at, rec.snapIndex);
      setU64(dv, at + 8, rec.snapTerm);
      setU64(dv, at + 16, rec.lastIndex);
      setU64(dv, at + 24, rec.lastTerm);
      break;
  }
  dv.setUint32(offset, crc32(buf.subarray(offset + 4, offset + size)), true);
  return offset + size;
}

/** A decode result: a record and its size, or why the bytes at that offset are not one. */
export type DecodeResult =
  | { ok: true; record: WalRecord; bytes: number }
  | { ok: false; reason: string };

const FIXED_BODY: Record<number, number> = {
  [KIND_ENTRY]: ENTRY_HEADER_BYTES - 8,
  [KIND_HARD_STATE]: HEADER_BYTES + 18 - 8,
  [KIND_SNAPSHOT]: HEADER_BYTES + 16 - 8,
  [KIND_TRUNCATE]: HEADER_BYTES + 8 - 8,
  [KIND_CHECKPOINT]: HEADER_BYTES + 32 - 8,
  [KIND_CHECKPOINT_END]: HEADER_BYTES + 8 - 8,
};

/**
 * Decodes the record at `offset` of `buf`. Entry data is a view into `buf` (no copy).
 * `bodyBytesMax` bounds the length field so garbage cannot claim a huge record.
 */
export function decodeRecord(buf: Uint8Array, offset: number, bodyBytesMax: number): DecodeResult {
  if (buf.byteLength - offset < HEADER_BYTES) return { ok: false, reason: "truncated header" };
  const dv = view(buf);
  const body = dv.getUint32(offset + 4, true);
  const kind = dv.getUint8(offset + 8);
  const fixed = FIXED_BODY[kind];
  if (fixed === undefined) return { ok: false, reason: `unknown record kind ${kind}` };
  if (body < fixed || body > bodyBytesMax) return { ok: false, reason: `bad length ${body}` };
  const size = body + 8;
  if (offset + size > buf.byteLength) return { ok: false, reason: "truncated record" };
  if (crc32(buf.subarray(offset + 4, offset + size)) !== dv.getUint32(offset, true)) {
    return { ok: false, reason: "checksum mismatch" };
  }
  const group = dv.getUint32(offset + 9, true);
  const at = offset + HEADER_BYTES;
  switch (kind) {
    case KIND_ENTRY: {
      const data = buf.subarray(at + 17, offset + size);
      const record: WalRecord = {
        kind,
        group,
        index: getU64(dv, at),
        term: getU64(dv, at + 8),
        type: dv.getUint8(at + 16),
        data,
      };
      return { ok: true, record, bytes: size };
    }
    case KIND_HARD_STATE:
      return decodeHardState(buf, offset, size, group);
    case KIND_SNAPSHOT: {
      if (size !== fixed + 8) return { ok: false, reason: `bad length ${body}` };
      const record: WalRecord = { kind, group, index: getU64(dv, at), term: getU64(dv, at + 8) };
      return { ok: true, record, bytes: size };
    }
    case KIND_CHECKPOINT_END: {
      if (size !== fixed + 8) return { ok: false, reason: `bad length ${body}` };
      const record: WalRecord = { kind, group, records: getU64(dv, at) };
      return { ok: true, record, bytes: size };
    }
    case KIND_TRUNCATE: {
      if (size !== fixed + 8) return { ok: false, reason: `bad length ${body}` };
      const record: WalRecord = { kind, group, fromIndex: getU64(dv, at) };
      return { ok: true, record, bytes: size };
    }
    default: {
      if (size !== fixed + 8) return { ok: false, reason: `bad length ${body}` };
      const record: WalRecord = {
        kind: KIND_CHECKPOINT,
        group,
        snapIndex: getU64(dv, at),
        snapTerm: getU64(dv, at + 8),
        lastIndex: getU64(dv, at + 16),
        lastTerm: getU64(dv, at + 24),
      };
      return { ok: true, record, bytes: size };
    }
  }
}

function decodeHardState(
  buf: Uint8Array,
  offset: number,
  size: number,
  group: number,
): DecodeResult {
  const dv = view(buf);
  const at = offset + HEADER_BYTES;
  const voteLen = dv.getUint16(at + 16, true);
  const expected = HEADER_BYTES + 18 + (voteLen === VOTE_NULL ? 0 : voteLen);
  if (expected !== size) return { ok: false, reason: `bad vote length ${voteLen}` };
  let vote: string | null = null;
  if (voteLen !== VOTE_NULL) {
    try {
      vote = decoder.decode(buf.subarray(at + 18, at + 18 + voteLen));
    } catch {
      return { ok: false, reason: "vote is not UTF-8" };
    }
  }
  const hardState = { term: getU64(dv, at), vote, commit: getU64(dv, at + 8) };
  return { ok: true, record: { kind: KIND_HARD_STATE, group, hardState }, bytes: size };
}
