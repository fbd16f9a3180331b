import assert from "node:assert/strict";
import { checkTargets, formatTable, machineInfo, targetRows } from "../../bench/storage_report.ts";
import type { SummaryResult, SummaryRow } from "../../bench/storage_summary.ts";

function row(workload: string, engine: SummaryRow["engine"], opsPerSec: number): SummaryRow {
  return {
    workload,
    engine,
    opsPerSec,
    opsPerSecRounds: [opsPerSec],
    ops: 100,
    p50Ms: 1,
    p99Ms: 2,
  };
}

async function result(rows: SummaryRow[]): Promise<SummaryResult> {
  return {
    machine: await machineInfo(),
    settings: {
      quick: true,
      engines: ["ringkv", "lmdb"],
      durationMs: 100,
      rounds: 1,
      reopenRuns: 1,
      dataKeys: 2000,
      hotKeys: 1000,
      reopenKeys: 1_000_000,
      mergeKeys: 0,
      seed: 1,
      only: [],
    },
    rows,
    reopen: [{
      engine: "ringkv",
      keys: 1_000_000,
      openMs: 800,
      rssDeltaBytes: 200 * 1_000_000,
      heapDeltaBytes: 0,
      heapTotalDeltaBytes: 0,
      externalDeltaBytes: 0,
      firstReadsMs: 1,
    }],
    durability: { ringkv: "sync: always", lmdb: "overlappingSync: false" },
  };
}

Deno.test("checkTargets compares ringkv with lmdb in the same run", async () => {
  const checks = checkTargets(
    await result([
      row("put 100 B, 64 writers", "ringkv", 130),
      row("put 100 B, 64 writers", "lmdb", 100),
      row("get cached (1000 hot keys)", "ringkv", 90),
      row("get cached (1000 hot keys)", "lmdb", 100),
    ]),
  );
  const met = Object.fromEntries(checks.map((c) => [c.target, c.met]));
  assert.equal(met["64 concurrent durable 100 B puts >= 1.2x lmdb"], true);
  assert.equal(met["random cached gets >= 1.0x lmdb"], false);
  assert.equal(met["reopen with 1M keys < 1000 ms"], true);
  // 200 B of RSS per key minus 16 key bytes is 184 B, past 150.
  assert.equal(met["memory <= 150 B per key beyond key bytes"], false);
  assert.equal(met["put p99 during merge < 2x without"], undefined);
});

Deno.test("formatTable prints the machine, every row and its ratio to lmdb", async () => {
  const r = await result([row("scan", "ringkv", 50), row("scan", "lmdb", 100)]);
  const text = formatTable(r);
  assert.match(text, /machine: \d+ cores/);
  assert.match(text, /deno \d+\.\d+\.\d+/);
  assert.match(text, /scan\s+ringkv\s+50\s.*0\.50x/);
  assert.match(targetRows(r), /not measured/);
});

Deno.test("checkTargets leaves reopen and memory unjudged below 1M keys", async () => {
  const r = await result([]);
  r.reopen[0] = { ...r.reopen[0], keys: 20_000, rssDeltaBytes: 0 };
  const checks = checkTargets(r).filter((c) => /reopen|memory/.test(c.target));
  assert.equal(checks.length, 2);
  for (const c of checks) {
    assert.equal(c.met, undefined);
    assert.match(c.measured, /not at 1M keys/);
  }
});
