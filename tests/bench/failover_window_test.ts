import assert from "node:assert/strict";
import { errorWindow, median } from "../../bench/failover_window.ts";
import type { TimelineEntry } from "../../bench/load.ts";

/** A 100 ms timeline from "ok/failed" cells; failures are http_503 unless a kind is given. */
function timeline(cells: string, kind = "http_503"): TimelineEntry[] {
  return cells.split(" ").map((cell, i) => {
    const [ok, failed] = cell.split("/").map(Number);
    return {
      second: i / 10,
      startMs: i * 100,
      ops: ok + failed,
      errors: failed,
      errorsByKind: failed > 0 ? { [kind]: failed } : {},
      throughputOpsPerS: ok * 10,
      p99Ms: 1,
    };
  });
}

Deno.test("the window runs from the first bad entry to the last before 5 clean ones", () => {
  // Entry 2 holds the kill, entry 4 no completion at all; 5 and 6 are clean, but too few.
  const t = timeline("50/0 50/0 20/3 10/4 0/0 30/0 40/0 5/2 50/0 50/0 50/0 50/0 50/0 50/0 9/0");
  const w = errorWindow(t, { failureMs: 250, limitMs: Infinity });
  assert.deepEqual([w.startMs, w.endMs, w.windowMs, w.resolved], [200, 800, 600, true]);
  assert.equal(w.errors, 9);
  assert.deepEqual(w.errorsByKind, { http_503: 9 });
  assert.equal(w.errorsAfter, 0);
});

Deno.test("a failure no request notices has a window of 0", () => {
  const t = timeline("50/0 50/0 50/0 50/0 50/0 50/0 50/0 50/0 9/0");
  const w = errorWindow(t, { failureMs: 120, limitMs: Infinity });
  assert.deepEqual([w.startMs, w.windowMs, w.resolved, w.errors], [null, 0, true, 0]);
});

Deno.test("errors after writes flowed again are counted apart from the window", () => {
  const t = timeline("50/0 0/8 50/0 50/0 50/0 50/0 50/0 40/1 50/0 50/0 9/0");
  const w = errorWindow(t, { failureMs: 100, limitMs: Infinity });
  assert.deepEqual([w.startMs, w.endMs, w.errors, w.errorsAfter], [100, 200, 8, 1]);
});

Deno.test("a window still open at the limit is unresolved", () => {
  const t = timeline("50/0 0/8 0/0 50/0 0/3 50/0 50/0 50/0 50/0 50/0 50/0 9/0");
  // The next failure at 500 ms: entries that end after it are not searched.
  const w = errorWindow(t, { failureMs: 100, limitMs: 500 });
  assert.deepEqual([w.startMs, w.endMs, w.resolved], [100, 500, false]);
  // The last, partial entry of the run is never searched either.
  const end = errorWindow(timeline("50/0 0/8 50/0 50/0 0/1"), { failureMs: 0, limitMs: Infinity });
  assert.deepEqual([end.startMs, end.endMs, end.resolved], [100, 200, false]);
});

Deno.test("a timeline without startMs is refused with a hint", () => {
  const t = timeline("50/0 50/0 50/0").map(({ startMs: _s, ...rest }) => rest);
  assert.throws(() => errorWindow(t, { failureMs: 0, limitMs: Infinity }), /--timeline-ms/);
});

Deno.test("median of odd and even counts", () => {
  assert.equal(median([300, 100, 200]), 200);
  assert.equal(median([400, 100, 300, 200]), 250);
  assert.ok(Number.isNaN(median([])));
});
