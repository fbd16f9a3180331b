import assert from "node:assert/strict";
import { decodeHint, encodeHint, sortHintEntries } from "../../src/storage/hint.ts";
import { KIND_DELETE, KIND_PUT } from "../../src/storage/record.ts";

const data = {
  coveredBytes: 1234,
  minSeq: 3,
  maxSeq: 9,
  entries: [
    { key: "zeta", seq: 3, kind: KIND_PUT, offset: 19, length: 30 },
    { key: "alpha", seq: 4, kind: KIND_PUT, offset: 49, length: 31 },
    { key: "zeta", seq: 5, kind: KIND_DELETE, offset: 80, length: 23 },
  ],
};

const yieldNow = () => Promise.resolve();

Deno.test("a hint reads back sorted by key with the latest entry per key", async () => {
  const buf = await encodeHint({ ...data, entries: await sortHintEntries(data.entries, yieldNow) });
  const got: [string, number, number, number][] = [];
  const info = decodeHint(buf, (h) => {
    const key = new TextDecoder().decode(buf.subarray(h.keyStart, h.keyStart + h.keyBytes));
    got.push([key, h.seq, h.kind, h.offset]);
  });
  assert.equal(info?.coveredBytes, 1234);
  assert.equal(info?.maxSeq, 9);
  assert.deepEqual(got, [["alpha", 4, KIND_PUT, 49], ["zeta", 5, KIND_DELETE, 80]]);
});

Deno.test("a damaged hint is refused before any entry is delivered", async () => {
  const buf = await encodeHint(data);
  for (let i = 0; i < buf.byteLength; i++) {
    const copy = buf.slice();
    copy[i] ^= 0x10;
    let delivered = 0;
    assert.equal(decodeHint(copy, () => delivered++), undefined, `byte ${i}`);
    assert.equal(delivered, 0);
  }
  assert.equal(decodeHint(buf.subarray(0, buf.byteLength - 1), () => {}), undefined);
});
