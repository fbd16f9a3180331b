import assert from "node:assert/strict";
import { Pacer } from "../../src/storage/pacer.ts";

Deno.test("a slice is due only once sliceMs has passed since it started", () => {
  // Read before the pacer starts its slice, so "due" implies at least sliceMs since `start`.
  const start = performance.now();
  const pacer = new Pacer({ sliceMs: 50 });
  assert.equal(pacer.due(), false);
  // Busy work, bounded in time, until the slice is due.
  while (!pacer.due() && performance.now() - start < 1000);
  assert.ok(performance.now() - start >= 50);
  pacer.restart();
  assert.equal(pacer.due(), false);
});

Deno.test("pause lets ready timers run and starts a new slice", async () => {
  // A long slice, so a descheduled test process cannot use it up before the last check.
  const pacer = new Pacer({ sliceMs: 1000 });
  let fired = false;
  const timer = setTimeout(() => fired = true, 0);
  const start = performance.now();
  try {
    while (!fired && performance.now() - start < 5000) await pacer.pause();
  } finally {
    clearTimeout(timer);
  }
  assert.equal(fired, true);
  assert.equal(pacer.due(), false);
});

Deno.test("pauseIfDue does not yield to timers while the slice lasts", async () => {
  const pacer = new Pacer({ sliceMs: 1000 });
  let fired = false;
  const timer = setTimeout(() => fired = true, 0);
  try {
    for (let i = 0; i < 100; i++) await pacer.pauseIfDue();
    assert.equal(fired, false);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("rejects a slice length out of range", () => {
  assert.throws(() => new Pacer({ sliceMs: 0 }), RangeError);
  assert.throws(() => new Pacer({ sliceMs: 5000 }), RangeError);
});
