import assert from "node:assert/strict";
import {
  dataKey,
  dataKeysMax,
  dataPrefix,
  keyBytes,
  median,
  percentile,
  pool,
  runClosedLoop,
  scanKeys,
  shuffledKeys,
  summarize,
  ValueSource,
  writeKey,
} from "../../bench/storage_workloads.ts";

const dec = new TextDecoder();

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return prefix.every((b, i) => key[i] === b);
}

Deno.test("percentile takes the nearest rank", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 0.5), 50);
  assert.equal(percentile(sorted, 0.99), 99);
  assert.equal(percentile(sorted, 1), 100);
  assert.equal(percentile(sorted, 0), 1);
});

Deno.test("percentile of no samples is NaN and q outside 0..1 is refused", () => {
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 0.5)));
  assert.throws(() => percentile(Float64Array.of(1), 1.5), RangeError);
});

Deno.test("summarize sorts numerically and reports max and mean", () => {
  const s = summarize(Float64Array.of(10, 2, 30, 4));
  assert.equal(s.samples, 4);
  assert.equal(s.p50Ms, 4);
  assert.equal(s.maxMs, 30);
  assert.equal(s.meanMs, 11.5);
});

Deno.test("data keys are keyBytes long and share a prefix per scanKeys keys", () => {
  assert.equal(dataKey(0).length, keyBytes);
  assert.equal(dataKey(dataKeysMax - 1).length, keyBytes);
  assert.throws(() => dataKey(dataKeysMax), RangeError);
  assert.equal(dec.decode(dataKey(1234)), "d/00001/00000234");
  assert.ok(startsWith(dataKey(scanKeys), dataPrefix(1)));
  assert.ok(startsWith(dataKey(2 * scanKeys - 1), dataPrefix(1)));
  assert.ok(!startsWith(dataKey(2 * scanKeys), dataPrefix(1)));
});

Deno.test("write keys are keyBytes long and distinct per tag", () => {
  assert.equal(writeKey("a", 7).length, keyBytes);
  assert.notEqual(dec.decode(writeKey("a", 7)), dec.decode(writeKey("b", 7)));
  assert.throws(() => writeKey("ab", 1), RangeError);
});

Deno.test("shuffledKeys is a permutation that one seed reproduces", () => {
  const a = shuffledKeys(1000, 9);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(a, shuffledKeys(1000, 9));
  assert.notDeepEqual(a, shuffledKeys(1000, 10));
});

Deno.test("ValueSource hands out values of the asked size that differ", () => {
  const values = new ValueSource(100);
  const first = values.next().slice();
  const second = values.next();
  assert.equal(first.length, 100);
  assert.equal(second.length, 100);
  assert.notDeepEqual(first, second);
});

Deno.test("runClosedLoop stops after opsMax operations", async () => {
  let calls = 0;
  const result = await runClosedLoop(async () => {
    calls++;
    await Promise.resolve();
  }, { concurrency: 4, durationMs: 10_000, opsMax: 50 });
  assert.equal(calls, 50);
  assert.equal(result.ops, 50);
  assert.equal(result.latency.samples, 50);
});

Deno.test("runClosedLoop keeps at most `concurrency` operations in flight", async () => {
  let inFlight = 0;
  let peak = 0;
  await runClosedLoop(async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 0));
    inFlight--;
  }, { concurrency: 3, durationMs: 10_000, opsMax: 30 });
  assert.equal(peak, 3);
});

Deno.test("runClosedLoop stops issuing once `until` settles", async () => {
  let release = () => {};
  const until = new Promise<void>((resolve) => release = resolve);
  const result = await runClosedLoop(async (i) => {
    if (i === 9) release();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }, { concurrency: 1, durationMs: 10_000, opsMax: 1_000_000, until });
  assert.ok(result.ops >= 10 && result.ops <= 11, `ran ${result.ops} ops`);
});

Deno.test("runClosedLoop rejects with an operation's error", async () => {
  await assert.rejects(
    () =>
      runClosedLoop((i) => i === 3 ? Promise.reject(new Error("boom")) : Promise.resolve(), {
        concurrency: 2,
        durationMs: 10_000,
        opsMax: 10,
      }),
    /boom/,
  );
});

Deno.test("median takes the middle value, or the mean of the middle two", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("pool joins runs so percentiles cover every sample", () => {
  const joined = pool([Float64Array.of(1, 2), Float64Array.of(3)]);
  assert.deepEqual([...joined], [1, 2, 3]);
});

Deno.test("runClosedLoop appends its sorted samples to keepSamples", async () => {
  const kept: Float64Array[] = [];
  await runClosedLoop(() => Promise.resolve(), {
    concurrency: 1,
    durationMs: 10_000,
    opsMax: 5,
    keepSamples: kept,
  });
  assert.equal(kept.length, 1);
  assert.equal(kept[0].length, 5);
  assert.ok(kept[0].every((x, i) => i === 0 || kept[0][i - 1] <= x));
});
