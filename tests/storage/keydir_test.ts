import assert from "node:assert/strict";
import { Entry, Keydir, KeydirBuilder } from "../../src/storage/keydir.ts";

function sample(): Keydir {
  const kd = Keydir.empty();
  kd.set("b", new Entry(1, 100, 30, 5));
  kd.set("a", new Entry(1, 19, 30, 4));
  kd.set("c", new Entry(2, 19, 31, 6));
  return kd;
}

Deno.test("isAt tells whether a key's record is at a segment and offset", () => {
  const kd = sample();
  assert.equal(kd.isAt("b", { segment: 1, offset: 100 }), true);
  assert.equal(kd.isAt("b", { segment: 1, offset: 19 }), false);
  assert.equal(kd.isAt("b", { segment: 2, offset: 100 }), false);
  assert.equal(kd.isAt("zz", { segment: 1, offset: 100 }), false);
});

Deno.test("relocate moves a key only while it is still at the old place", () => {
  const kd = sample();
  const move = { fromSegment: 1, fromOffset: 100, toSegment: 9, toOffset: 40 };
  assert.equal(kd.relocate("b", move), true);
  assert.deepEqual(kd.get("b"), new Entry(9, 40, 30, 5));
  // The key is no longer at the old place: a second move is refused.
  assert.equal(kd.relocate("b", move), false);
  assert.equal(kd.relocate("missing", move), false);
  assert.deepEqual(kd.get("b"), new Entry(9, 40, 30, 5));
});

Deno.test("set, delete and scans keep the table and the ordered keys in step", () => {
  const kd = sample();
  kd.set("b", new Entry(3, 19, 40, 8));
  assert.equal(kd.delete("a"), true);
  assert.equal(kd.delete("a"), false);
  assert.equal(kd.size, 2);
  assert.deepEqual([...kd.entries()].map(([k, e]) => [k, e.segment]), [["b", 3], ["c", 2]]);
  assert.deepEqual([...kd.entriesBelow("c")].map(([k]) => k), ["b"]);
  assert.equal(kd.seqOf("b"), 8);
  assert.equal(kd.has("a"), false);
});

Deno.test("rejects a tombstone or out-of-range entry", () => {
  const kd = Keydir.empty();
  assert.throws(() => kd.set("a", new Entry(1, 0, -5, 1)));
  assert.throws(() => kd.set("a", new Entry(1, 2 ** 33, 5, 1)));
  assert.equal(kd.size, 0);
});

Deno.test("the builder takes ascending keys and refuses keys out of order or too many", () => {
  const builder = new KeydirBuilder(3);
  builder.add("a", new Entry(1, 19, 20, 1));
  builder.add("c", new Entry(1, 39, 20, 2));
  assert.throws(() => builder.add("b", new Entry(1, 59, 20, 3)), /out of order/);
  assert.throws(() => builder.add("c", new Entry(1, 59, 20, 3)), /out of order/);
  builder.add("d", new Entry(1, 59, 20, 3));
  assert.throws(() => builder.add("e", new Entry(1, 79, 20, 4)), /more keys/);
  const kd = builder.finish();
  assert.equal(kd.size, 3);
  assert.deepEqual([...kd.entries()].map(([k]) => k), ["a", "c", "d"]);
  assert.deepEqual(kd.get("c"), new Entry(1, 39, 20, 2));
  // The built keydir takes writes like any other.
  kd.set("b", new Entry(2, 19, 20, 5));
  assert.deepEqual([...kd.entries()].map(([k]) => k), ["a", "b", "c", "d"]);
});
