import assert from "node:assert/strict";
import { compareBytes, listRange, prefixEnd, successor } from "../../src/cluster/key_range.ts";

const b = (...bytes: number[]) => new Uint8Array(bytes);

Deno.test("compareBytes orders unsigned bytes, then by length", () => {
  assert.ok(compareBytes(b(1), b(2)) < 0);
  assert.ok(compareBytes(b(0xff), b(1, 1)) > 0);
  assert.ok(compareBytes(b(1), b(1, 0)) < 0);
  assert.equal(compareBytes(b(1, 2), b(1, 2)), 0);
});

Deno.test("prefixEnd increments the last byte below 0xFF and drops the 0xFF tail", () => {
  assert.deepEqual(prefixEnd(b(1, 2)), b(1, 3));
  assert.deepEqual(prefixEnd(b(1, 0xff)), b(2));
  assert.equal(prefixEnd(b(0xff, 0xff)), undefined);
  assert.equal(prefixEnd(b()), undefined);
});

Deno.test("listRange continues after the cursor in either direction", () => {
  assert.deepEqual(listRange({ start: b(1), end: b(9) }, { after: b(4) }), {
    start: successor(b(4)),
    end: b(9),
  });
  assert.deepEqual(listRange({ start: b(1), end: b(9) }, { after: b(4), reverse: true }), {
    start: b(1),
    end: b(4),
  });
  assert.equal(listRange({ start: b(1), end: b(9) }, { after: b(9) }), undefined);
  assert.equal(listRange({ start: b(5), end: b(5) }), undefined);
  assert.deepEqual(listRange({ start: b(5) }, { after: b(1) }), { start: b(5), end: undefined });
});
