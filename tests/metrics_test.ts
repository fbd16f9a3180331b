import assert from "node:assert/strict";
import { Metrics } from "../src/metrics.ts";
import { EventLoopLag } from "../src/event_loop_lag.ts";
import type { KvStatus } from "../src/cluster/mod.ts";

const status: KvStatus = {
  version: 9,
  keys: 4,
  liveBytes: 100,
  deadBytes: 20,
  diskBytes: 130,
  segments: 2,
  merges: 1,
  cacheHits: 1,
  cacheMisses: 3,
  cacheBytes: 64,
};

Deno.test("storage gauges are read from the status source at scrape time", async () => {
  const metrics = new Metrics({ status: () => status, processMetrics: false });
  const text = await metrics.render();
  for (
    const line of [
      "ringkv_storage_keys 4",
      "ringkv_storage_live_bytes 100",
      "ringkv_storage_dead_bytes 20",
      "ringkv_storage_segments 2",
      "cache_hit_rate 0.25",
    ]
  ) assert.ok(text.includes(line), line);
});

Deno.test("the store observer feeds fsync, group-commit and merge metrics", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const observer = metrics.storeObserver();
  observer.synced!(0.002, 7);
  observer.merged!({ segmentsMerged: 2, bytesReclaimed: 10 }, 0.5);
  const text = await metrics.render();
  assert.match(text, /ringkv_storage_fsync_duration_seconds_count\{file="segment"\} 1/);
  assert.match(text, /ringkv_storage_group_commit_writes_sum\{file="segment"\} 7/);
  assert.match(text, /ringkv_storage_merges_total 1/);
});

Deno.test("process default metrics are included unless turned off", async () => {
  const metrics = new Metrics();
  assert.match(await metrics.render(), /process_cpu_user_seconds_total/);
  metrics.close();
  assert.doesNotMatch(await new Metrics({ processMetrics: false }).render(), /process_cpu/);
});

/** The value of the first sample of `series` (exact name and labels) in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Runs the CPU for `ms` without yielding: the event loop is blocked meanwhile. */
function blockFor(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) {
    // busy on purpose
  }
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadlineMs = performance.now() + timeoutMs;
  while (performance.now() < deadlineMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("a blocked event loop shows as lag in the histogram and the nodejs gauges", async () => {
  const metrics = new Metrics({ eventLoopSampleMs: 10 });
  try {
    await waitFor("a first lag sample", 10_000, async () => {
      const text = await metrics.render();
      return (sample(text, "ringkv_event_loop_lag_seconds_count") ?? 0) > 0;
    });
    blockFor(300);
    let text = "";
    await waitFor("the late timer's sample", 10_000, async () => {
      text = await metrics.render();
      return (sample(text, "nodejs_eventloop_lag_max_seconds") ?? 0) >= 0.2;
    });
    assert.ok((sample(text, "ringkv_event_loop_lag_seconds_sum") ?? 0) >= 0.2, text);
    // At least one sample lies above 250 ms: the count exceeds the 250 ms bucket's.
    const count = sample(text, "ringkv_event_loop_lag_seconds_count")!;
    const le250 = sample(text, 'ringkv_event_loop_lag_seconds_bucket{le="0.25"}')!;
    assert.ok(count > le250, `count ${count}, le 0.25 ${le250}`);
    assert.equal(text.match(/^# TYPE nodejs_eventloop_lag_p99_seconds /gm)?.length, 1);
  } finally {
    metrics.close();
  }
});

Deno.test("an idle event loop shows little lag", async () => {
  const metrics = new Metrics({ eventLoopSampleMs: 10 });
  try {
    let text = "";
    await waitFor("ten lag samples", 10_000, async () => {
      text = await metrics.render();
      return (sample(text, "ringkv_event_loop_lag_seconds_count") ?? 0) >= 10;
    });
    // Generous for a loaded machine; a blocked loop (above) reads hundreds of ms.
    assert.ok(sample(text, "nodejs_eventloop_lag_p50_seconds")! < 0.1, text);
  } finally {
    metrics.close();
  }
});

Deno.test("close stops the event-loop lag timer", () => {
  const lag = new EventLoopLag({ periodMs: 10 });
  lag.start();
  assert.equal(lag.running, true);
  lag.stop();
  assert.equal(lag.running, false);
  lag.stop(); // idempotent
});

Deno.test("the lag summary covers the most recent windowSamplesMax samples", () => {
  const lag = new EventLoopLag({ windowSamplesMax: 4 });
  assert.deepEqual(lag.summary().max, 0);
  for (const seconds of [9, 1, 2, 3, 4]) lag.record(seconds); // 9 falls out of the window
  const s = lag.summary();
  assert.equal(s.max, 4);
  assert.equal(s.min, 1);
  assert.equal(s.last, 4);
  assert.equal(s.mean, 2.5);
  assert.equal(s.p50, 2);
  assert.equal(s.p99, 4);
  assert.equal(lag.samples, 5);
});

Deno.test("without process metrics no lag timer runs and no lag is exported", async () => {
  const metrics = new Metrics({ processMetrics: false });
  assert.doesNotMatch(await metrics.render(), /event_?loop_lag/);
});

Deno.test("a single node's registry holds no cluster metrics until raft() is asked", async () => {
  const metrics = new Metrics({ processMetrics: false });
  assert.doesNotMatch(await metrics.render(), /ringkv_raft_|ringkv_peer_|raft_leader_changes/);
  metrics.raft();
  const text = await metrics.render();
  assert.match(text, /# TYPE raft_leader_changes_total counter/);
  assert.match(text, /ringkv_storage_fsync_duration_seconds_count\{file="wal"\} 0/);
  assert.equal(metrics.raft(), metrics.raft(), "one RaftMetrics per registry");
});

Deno.test("WAL fsyncs feed the fsync and group-commit histograms under file=wal", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const wal = metrics.raft().wal;
  wal.synced!(0.004, 12);
  wal.synced!(0.002, 3);
  const text = await metrics.render();
  assert.equal(sample(text, 'ringkv_storage_fsync_duration_seconds_count{file="wal"}'), 2);
  assert.equal(sample(text, 'ringkv_storage_fsync_duration_seconds_count{file="segment"}'), 0);
  assert.equal(sample(text, 'ringkv_storage_group_commit_writes_sum{file="wal"}'), 15);
});
