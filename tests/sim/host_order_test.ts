/**
 * The simulator with each node handling its Readys in the production group host's order
 * (src/cluster/group_host.ts): a leader sends its appends while it persists them (the core
 * counts its own match before that fsync), and committed entries that an earlier Ready
 * persisted are applied and answered while the next Ready persists. Every run's history must
 * stay linearizable and every safety invariant must hold, through crashes that lose unsynced
 * writes, partitions and membership changes.
 */
import assert from "node:assert/strict";
import { formatFailure } from "./main.ts";
import { runSimulation } from "./simulation.ts";

const seedCount = Number(Deno.env.get("SIM_HOST_ORDER_SEEDS") ?? 300);

Deno.test(`the group host's Ready order shows no violation in ${seedCount} seeds of faults`, () => {
  console.log(`seeds 1..${seedCount} (set SIM_HOST_ORDER_SEEDS to change)`);
  const failures: string[] = [];
  let acknowledged = 0;
  let crashes = 0;
  for (let seed = 1; seed <= seedCount; seed++) {
    const result = runSimulation({ seed, groupHostOrder: true });
    if (result.violations.length > 0) failures.push(formatFailure(result, []));
    acknowledged += result.stats.acknowledged;
    crashes += result.stats.crashes;
  }
  assert.deepEqual(failures, [], failures.join("\n\n"));
  assert.ok(acknowledged > seedCount * 50, `too few acknowledged operations: ${acknowledged}`);
  assert.ok(crashes > seedCount, `too few crashes: ${crashes}`);
});

Deno.test("in the group host's order a follower that sends before it persists is caught", () => {
  for (let seed = 1; seed <= 150; seed++) {
    const result = runSimulation({ seed, groupHostOrder: true, sendBeforePersist: true });
    if (result.violations.length > 0) return;
  }
  assert.fail("sendBeforePersist: no violation in seeds 1..150");
});
