import assert from "node:assert/strict";
import { Coalescer } from "../../src/cluster/coalescer.ts";

/** A call whose runs the test finishes by hand, in order. */
function manualCall() {
  const runs: PromiseWithResolvers<number>[] = [];
  const coalescer = new Coalescer<number>(() => {
    const run = Promise.withResolvers<number>();
    runs.push(run);
    return run.promise;
  });
  return { coalescer, runs };
}

Deno.test("a caller alone starts a call at once", async () => {
  const { coalescer, runs } = manualCall();
  const result = coalescer.run();
  assert.equal(runs.length, 1);
  runs[0].resolve(7);
  assert.equal(await result, 7);
});

Deno.test("callers that arrive while a call runs share the next call, started after it", async () => {
  const { coalescer, runs } = manualCall();
  const first = coalescer.run();
  const second = coalescer.run();
  const third = coalescer.run();
  assert.equal(runs.length, 1, "no second call while the first runs");
  assert.equal(coalescer.waiting, 2);
  runs[0].resolve(1);
  assert.equal(await first, 1);
  assert.equal(runs.length, 2, "the waiting callers' call starts once the first ended");
  runs[1].resolve(2);
  assert.deepEqual(await Promise.all([second, third]), [2, 2]);
  assert.equal(coalescer.calls, 2);
  assert.equal(coalescer.waiting, 0);
});

Deno.test("a failed call fails its callers only; the next call serves the waiting ones", async () => {
  const { coalescer, runs } = manualCall();
  const first = coalescer.run();
  const second = coalescer.run();
  runs[0].reject(new Error("round lost"));
  await assert.rejects(first, /round lost/);
  runs[1].resolve(5);
  assert.equal(await second, 5);
});

Deno.test("a call that throws at once rejects its callers and frees the coalescer", async () => {
  let fail = true;
  const coalescer = new Coalescer<number>(() => {
    if (fail) throw new RangeError("not the leader");
    return Promise.resolve(9);
  });
  await assert.rejects(coalescer.run(), RangeError);
  fail = false;
  assert.equal(await coalescer.run(), 9);
});
