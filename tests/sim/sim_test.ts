import assert from "node:assert/strict";
import { formatFailure, runSeed } from "./main.ts";

const seedCount = Number(Deno.env.get("SIM_SEEDS") ?? 1000);
const seedFrom = Number(Deno.env.get("SIM_SEED_FROM") ?? 1);

Deno.test(`finds no violation in ${seedCount} seeds of faults`, () => {
  console.log(
    `sim seeds ${seedFrom}..${seedFrom + seedCount - 1} (set SIM_SEED_FROM / SIM_SEEDS to change)`,
  );
  const failures: string[] = [];
  const totals = {
    acknowledged: 0,
    unknown: 0,
    crashes: 0,
    leaderChanges: 0,
    snapshotsSent: 0,
    confChanges: 0,
    uncheckedKeys: 0,
  };
  for (let seed = seedFrom; seed < seedFrom + seedCount; seed++) {
    const result = runSeed(seed);
    if (result.violations.length > 0) failures.push(formatFailure(result, []));
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += result.stats[k];
  }
  console.log(`totals: ${JSON.stringify(totals)}`);
  assert.deepEqual(failures, [], failures.join("\n\n"));
  // The runs must have exercised what they claim to: progress and every kind of fault.
  assert.ok(
    totals.acknowledged > seedCount * 50,
    `too few acknowledged operations: ${totals.acknowledged}`,
  );
  assert.ok(totals.crashes > seedCount, `too few crashes: ${totals.crashes}`);
  assert.ok(
    totals.leaderChanges > seedCount * 2,
    `too few leader changes: ${totals.leaderChanges}`,
  );
  assert.ok(
    totals.snapshotsSent > seedCount / 10,
    `too few snapshots sent: ${totals.snapshotsSent}`,
  );
  assert.ok(
    totals.confChanges > seedCount / 10,
    `too few membership changes: ${totals.confChanges}`,
  );
});

Deno.test("replays a seed exactly", () => {
  const a = runSeed(7);
  const b = runSeed(7);
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.violations, b.violations);
  assert.notDeepEqual(runSeed(8).stats, a.stats);
});
