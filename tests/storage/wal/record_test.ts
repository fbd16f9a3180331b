/** WAL record framing: every kind round-trips, damage and garbage are detected. */
import assert from "node:assert/strict";
import {
  decodeRecord,
  encodeRecord,
  KIND_CHECKPOINT,
  KIND_CHECKPOINT_END,
  KIND_ENTRY,
  KIND_HARD_STATE,
  KIND_SNAPSHOT,
  KIND_TRUNCATE,
  recordBytes,
  voteBytesOf,
} from "../../../src/storage/wal/record.ts";
import type { WalRecord } from "../../../src/storage/wal/record.ts";
import { b } from "./helpers.ts";

const BIG = 2 ** 40 + 3; // past 32 bits, so both halves of a u64 matter

const samples: WalRecord[] = [
  { kind: KIND_ENTRY, group: 7, index: BIG, term: 9, type: 2, data: b("hello") },
  { kind: KIND_ENTRY, group: 0, index: 1, term: 1, type: 0, data: new Uint8Array(0) },
  {
    kind: KIND_HARD_STATE,
    group: 0xffff_ffff,
    hardState: { term: BIG, vote: "nœud-1", commit: 4 },
  },
  { kind: KIND_HARD_STATE, group: 1, hardState: { term: 2, vote: null, commit: 0 } },
  { kind: KIND_HARD_STATE, group: 1, hardState: { term: 2, vote: "", commit: 0 } },
  { kind: KIND_SNAPSHOT, group: 3, index: BIG, term: 5 },
  { kind: KIND_TRUNCATE, group: 3, fromIndex: 17 },
  { kind: KIND_CHECKPOINT, group: 4, snapIndex: 10, snapTerm: 2, lastIndex: BIG, lastTerm: 3 },
  { kind: KIND_CHECKPOINT_END, group: 0, records: 12 },
];

function encode(rec: WalRecord): Uint8Array {
  const vote = rec.kind === KIND_HARD_STATE ? voteBytesOf(rec.hardState) : undefined;
  const buf = new Uint8Array(recordBytes(rec, vote));
  assert.equal(encodeRecord(buf, 0, rec, vote), buf.byteLength);
  return buf;
}

Deno.test("every record kind round-trips, including u64 fields and null or empty votes", () => {
  for (const rec of samples) {
    const buf = encode(rec);
    const res = decodeRecord(buf, 0, 1 << 20);
    assert.ok(res.ok, `kind ${rec.kind}: ${!res.ok && res.reason}`);
    assert.equal(res.bytes, buf.byteLength);
    assert.deepEqual(res.record, rec);
  }
});

Deno.test("a flipped bit anywhere in a record fails its checksum or framing", () => {
  for (const rec of samples) {
    const clean = encode(rec);
    for (let i = 0; i < clean.byteLength; i++) {
      for (const bit of [0x01, 0x80]) {
        const buf = clean.slice();
        buf[i] ^= bit;
        assert.equal(
          decodeRecord(buf, 0, 1 << 20).ok,
          false,
          `kind ${rec.kind} byte ${i} bit ${bit}`,
        );
      }
    }
  }
});

Deno.test("every strict prefix of a record is reported as truncated, not decoded", () => {
  for (const rec of samples) {
    const buf = encode(rec);
    for (let n = 0; n < buf.byteLength; n++) {
      assert.equal(decodeRecord(buf.subarray(0, n), 0, 1 << 20).ok, false);
    }
  }
});

Deno.test("a length beyond bodyBytesMax is refused before reading the body", () => {
  const buf = encode({
    kind: KIND_ENTRY,
    group: 1,
    index: 1,
    term: 1,
    type: 0,
    data: new Uint8Array(100),
  });
  const res = decodeRecord(buf, 0, 50);
  assert.equal(res.ok, false);
  assert.match((res as { reason: string }).reason, /bad length/);
});
