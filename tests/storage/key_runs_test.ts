import assert from "node:assert/strict";
import {
  type ColumnRun,
  columnRunSorted,
  forEachMerged,
  mergeRuns,
  newColumnRun,
  pushColumn,
  sortColumnRun,
  sortRun,
} from "../../src/storage/key_runs.ts";
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

function columnsOf(segment: number, keys: string[], entries: Entry[]): ColumnRun {
  const run = newColumnRun(segment, 0);
  keys.forEach((key, i) => pushColumn(run, { key, ...entries[i] }));
  return run;
}

Deno.test("sortColumnRun picks the same entry per key as sortRun", () => {
  const seed = Number(Deno.env.get("RINGKV_RUNS_SEED") ?? Date.now() % 100_000);
  console.log(`seed ${seed} (RINGKV_RUNS_SEED to reproduce)`);
  const random = rng(seed);
  const keys: string[] = [];
  const entries: Entry[] = [];
  for (let i = 0; i < 3000; i++) {
    keys.push(`k${Math.floor(random() * 700)}`);
    // Few distinct seqs, so equal seqs (ops of one batch) are common.
    const length = random() < 0.2 ? -20 : 20;
    entries.push(new Entry(4, 19 + 20 * i, length, Math.floor(random() * 50)));
  }
  const want = sortRun(keys, entries);
  const got = sortColumnRun(columnsOf(4, keys, entries));
  assert.equal(columnRunSorted(got), true);
  assert.equal(got.count, want.keys.length);
  assert.deepEqual(got.keys.slice(0, got.count), want.keys);
  assert.deepEqual([...got.offset.subarray(0, got.count)], want.entries.map((e) => e.offset));
  assert.deepEqual([...got.length.subarray(0, got.count)], want.entries.map((e) => e.length));
});

Deno.test("forEachMerged visits one entry per key, as mergeRuns picks it", () => {
  const seed = Number(Deno.env.get("RINGKV_RUNS_SEED") ?? Date.now() % 100_000);
  console.log(`seed ${seed} (RINGKV_RUNS_SEED to reproduce)`);
  const random = rng(seed);
  const sorted = Array.from({ length: 9 }, (_, seg) => {
    const keys: string[] = [];
    const entries: Entry[] = [];
    for (let i = 0; i < 300; i++) {
      keys.push(`k${Math.floor(random() * 400)}`);
      entries.push(new Entry(seg, i, 1, Math.floor(random() * 1000)));
    }
    return sortRun(keys, entries);
  });
  const want = mergeRuns(sorted);
  const got: [string, number, number][] = [];
  forEachMerged(
    sorted.map((r, seg) => columnsOf(seg, r.keys, r.entries)),
    (run, i) => got.push([run.keys[i], run.segment, run.offset[i]]),
  );
  assert.deepEqual(
    got,
    want.keys.map((k, i) => [k, want.entries[i].segment, want.entries[i].offset]),
  );
});

Deno.test("forEachMerged gives a key with equal seqs in two runs to the later run", () => {
  const a = columnsOf(1, ["x", "y"], [new Entry(1, 19, 5, 7), new Entry(1, 24, 5, 3)]);
  const b = columnsOf(2, ["x"], [new Entry(2, 19, 5, 7)]);
  const got: [string, number][] = [];
  forEachMerged([a, b], (run, i) => got.push([run.keys[i], run.segment]));
  assert.deepEqual(got, [["x", 2], ["y", 1]]);
});
