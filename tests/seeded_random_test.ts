import assert from "node:assert/strict";
import { seededRandom, seededUint32 } from "../src/seeded_random.ts";

Deno.test("seed 42 gives the fixed mulberry32 sequence that printed seeds replay", () => {
  const next = seededUint32(42);
  assert.deepEqual([next(), next(), next()], [2581720956, 1925393290, 3661312704]);
});

Deno.test("floats are the 32-bit outputs divided by 2^32, each in [0, 1)", () => {
  const ints = seededUint32(7);
  const floats = seededRandom(7);
  for (let i = 0; i < 10_000; i++) {
    const x = floats();
    assert.equal(x, ints() / 2 ** 32);
    assert.ok(x >= 0 && x < 1, `${x} out of [0, 1)`);
  }
});

Deno.test("a seed is taken modulo 2^32, so -1 and 2^32 - 1 give one sequence", () => {
  const a = seededRandom(-1);
  const b = seededRandom(2 ** 32 - 1);
  for (let i = 0; i < 100; i++) assert.equal(a(), b());
});

Deno.test("different seeds give different sequences", () => {
  const a = seededUint32(1);
  const b = seededUint32(2);
  const same = Array.from({ length: 100 }, () => a() === b()).filter(Boolean).length;
  assert.ok(same < 5, `${same} of 100 outputs equal`);
});
