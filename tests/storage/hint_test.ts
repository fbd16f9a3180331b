import assert from "node:assert/strict";
import { join } from "node:path";
import {
  decodeHint,
  encodeHint,
  HINT_CHUNK_BYTES,
  readHint,
  sortHintEntries,
} from "../../src/storage/hint.ts";
import { KIND_DELETE, KIND_PUT } from "../../src/storage/record.ts";
import { withTempDir } from "./helpers.ts";

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

async function readAll(path: string) {
  const got: [string, number, number, number][] = [];
  let count = -1;
  const info = await readHint(path, {
    onCount: (n) => count = n,
    onEntry: (h, chunk) => {
      got.push([
        chunk.toString("latin1", h.keyStart, h.keyStart + h.keyBytes),
        h.seq,
        h.kind,
        h.offset,
      ]);
    },
  });
  return { info, got, count };
}

Deno.test("readHint reads a hint larger than its chunk as decodeHint does", async () => {
  await withTempDir(async (dir) => {
    const entries = [];
    // Keys of varied length, so entries straddle chunk boundaries at every alignment.
    for (let i = 0; i < 60_000; i++) {
      const key = `key/${String(i).padStart(6, "0")}/${"x".repeat(i % 37)}`;
      entries.push({
        key,
        seq: i + 1,
        kind: i % 5 === 0 ? KIND_DELETE : KIND_PUT,
        offset: i * 50,
        length: 50,
      });
    }
    const buf = await encodeHint({ coveredBytes: 2_000_000, minSeq: 1, maxSeq: 60_000, entries });
    assert.ok(buf.byteLength > 2 * HINT_CHUNK_BYTES);
    const path = join(dir, "000001.hint");
    await Deno.writeFile(path, buf);
    const want: [string, number, number, number][] = [];
    const wantInfo = decodeHint(buf, (h) => {
      want.push([
        new TextDecoder("latin1").decode(buf.subarray(h.keyStart, h.keyStart + h.keyBytes)),
        h.seq,
        h.kind,
        h.offset,
      ]);
    });
    const { info, got, count } = await readAll(path);
    assert.deepEqual(info, wantInfo);
    assert.equal(count, 60_000);
    assert.deepEqual(got, want);
  });
});

Deno.test("readHint refuses a damaged or truncated hint", async () => {
  await withTempDir(async (dir) => {
    const buf = await encodeHint(data);
    const path = join(dir, "000001.hint");
    for (let i = 0; i < buf.byteLength; i++) {
      const copy = buf.slice();
      copy[i] ^= 0x10;
      await Deno.writeFile(path, copy);
      assert.equal((await readAll(path)).info, undefined, `byte ${i}`);
    }
    for (let n = 0; n < buf.byteLength; n++) {
      await Deno.writeFile(path, buf.subarray(0, n));
      assert.equal((await readAll(path)).info, undefined, `${n} bytes`);
    }
    await Deno.writeFile(path, buf);
    assert.equal((await readAll(path)).info?.coveredBytes, 1234);
  });
});
