import assert from "node:assert/strict";
import { backoffDelayMs } from "../../src/transport/mod.ts";

const bounds = { delayMsMin: 50, delayMsMax: 1000 };

Deno.test("backoff doubles its ceiling per attempt up to delayMsMax", () => {
  const top = { ...bounds, random: () => 0.999999 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 40].map((a) => backoffDelayMs(a, top)),
    [50, 100, 200, 400, 800, 1000, 1000, 1000],
  );
});

Deno.test("backoff jitter stays within the upper half of the ceiling", () => {
  const low = { ...bounds, random: () => 0 };
  assert.deepEqual([0, 3, 10].map((a) => backoffDelayMs(a, low)), [25, 200, 500]);
});

Deno.test("backoff rejects a negative attempt and inverted bounds", () => {
  assert.throws(() => backoffDelayMs(-1, { ...bounds, random: Math.random }), RangeError);
  assert.throws(
    () => backoffDelayMs(0, { delayMsMin: 10, delayMsMax: 5, random: Math.random }),
    RangeError,
  );
});
