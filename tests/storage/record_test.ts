import assert from "node:assert/strict";
import {
  FLAG_BATCH,
  HEADER_BYTES,
  headerPlausible,
  keyToString,
  KIND_PUT,
  readHeader,
  recordCrcValid,
  stringToKey,
  writeRecord,
} from "../../src/storage/record.ts";
import { b } from "./helpers.ts";

Deno.test("a record reads back with its fields and a valid CRC", () => {
  const buf = new Uint8Array(100);
  const n = writeRecord(buf, {
    offset: 5,
    seq: 2 ** 40 + 3,
    flags: KIND_PUT | FLAG_BATCH,
    key: b("key"),
    value: b("value"),
  });
  assert.equal(n, HEADER_BYTES + 3 + 5);
  const h = readHeader(buf, 5)!;
  assert.equal(h.seq, 2 ** 40 + 3);
  assert.equal(h.flags, KIND_PUT | FLAG_BATCH);
  assert.equal(h.keyBytes, 3);
  assert.equal(h.valueBytes, 5);
  assert.ok(headerPlausible(h));
  assert.ok(recordCrcValid(buf, h));
});

Deno.test("any flipped bit of a record fails its check", () => {
  const buf = new Uint8Array(40);
  const n = writeRecord(buf, {
    offset: 0,
    seq: 7,
    flags: KIND_PUT,
    key: b("k"),
    value: b("some value"),
  });
  for (let bit = 0; bit < n * 8; bit++) {
    const copy = buf.slice(0, n);
    copy[bit >> 3] ^= 1 << (bit & 7);
    const h = readHeader(copy, 0);
    const ok = h !== undefined && headerPlausible(h) && recordCrcValid(copy, h);
    assert.equal(ok, false, `bit ${bit}`);
  }
});

Deno.test("key strings keep every byte and compare in byte order", () => {
  const keys = [
    new Uint8Array([0]),
    new Uint8Array([0x7f]),
    new Uint8Array([0x80]),
    new Uint8Array([0xff, 1]),
  ];
  const long = new Uint8Array(300).map((_, i) => (i * 37) & 0xff);
  for (const k of [...keys, long]) assert.deepEqual(stringToKey(keyToString(k)), k);
  const strings = keys.map(keyToString);
  assert.deepEqual([...strings].sort(), strings);
  // 0x80..0x9f differ between windows-1252 and latin1: they must map to themselves.
  assert.equal(keyToString(new Uint8Array([0x80])).charCodeAt(0), 0x80);
});
