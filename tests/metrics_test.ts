import assert from "node:assert/strict";
import { Metrics } from "../src/metrics.ts";
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
  assert.match(text, /ringkv_storage_fsync_duration_seconds_count 1/);
  assert.match(text, /ringkv_storage_group_commit_writes_sum 7/);
  assert.match(text, /ringkv_storage_merges_total 1/);
});

Deno.test("process default metrics are included unless turned off", async () => {
  assert.match(await new Metrics().render(), /process_cpu_user_seconds_total/);
  assert.doesNotMatch(await new Metrics({ processMetrics: false }).render(), /process_cpu/);
});
