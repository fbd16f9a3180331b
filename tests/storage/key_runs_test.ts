import assert from "node:assert/strict";
import { mergeRuns, sortRun } from "../../src/storage/key_runs.ts";
import { Entry } from "../../src/storage/keydir.ts";
import { rng } from "./helpers.ts";

Deno.test("sortRun keeps the highest seq per key, and the later record on equal seqs", () => {
  const run = sortRun(
    ["b", "a", "b", "c", "c"],
    [
      new Entry(1, 0, 1, 5),
      new Entry(1, 1, 1, 1),
      new Entry(1, 2, 1, 4),
      new Entry(1, 3, 1, 7),
      new Entry(1, 4, 1, 7),
    ],
  );
  assert.deepEqual(run.keys, ["a", "b", "c"]);
  assert.deepEqual(run.entries.map((e) => e.offset), [1, 0, 4]);
});

Deno.test("mergeRuns equals applying every entry by highest seq", () => {
  const seed = Number(Deno.env.get("RINGKV_RUNS_SEED") ?? Date.now() % 100_000);
  console.log(`seed ${seed} (RINGKV_RUNS_SEED to reproduce)`);
  const random = rng(seed);
  let seq = 0;
  const runs = Array.from({ length: 7 }, (_, seg) => {
    const keys: string[] = [];
    const entries: Entry[] = [];
    for (let i = 0; i < 200; i++) {
      keys.push(`k${Math.floor(random() * 150)}`);
      entries.push(new Entry(seg, i, 1, ++seq));
    }
    return { keys, entries };
  });
  const want = new Map<string, Entry>();
  // Apply in a shuffled segment order: the result must not depend on it.
  for (const r of [...runs].reverse()) {
    r.keys.forEach((k, i) => {
      const cur = want.get(k);
      if (cur === undefined || r.entries[i].seq > cur.seq) want.set(k, r.entries[i]);
    });
  }
  const merged = mergeRuns(runs.map((r) => sortRun(r.keys, r.entries)));
  assert.deepEqual(merged.keys, [...want.keys()].sort());
  merged.keys.forEach((k, i) => assert.equal(merged.entries[i], want.get(k)));
});
