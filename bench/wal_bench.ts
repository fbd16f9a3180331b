/**
 * Shared WAL throughput and recovery figures, printed as a table:
 * - durable appends/s of 100 B entries from 1 and 64 concurrent appenders across 8 groups,
 *   with syncs/s and appends per sync (group commit);
 * - open (recovery) time for N entries, and entries() reads from memory vs from the files.
 *
 *   deno run -A --v8-flags=--expose-gc bench/wal_bench.ts [--seconds 3] [--recover-entries 200000] [--dir /path]
 *
 * Under `deno bench` this module does nothing (it is a script, not a Deno.bench suite).
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { openWal } from "../src/storage/wal/mod.ts";
import type { Wal } from "../src/storage/wal/mod.ts";

const GROUPS = 8;
const ENTRY_BYTES = 100;

interface RunResult {
  appenders: number;
  appends: number;
  seconds: number;
  syncs: number;
}

async function runAppenders(wal: Wal, appenders: number, seconds: number): Promise<RunResult> {
  const next = new Array(GROUPS).fill(0).map((_, g) => wal.lastIndex(g) + 1);
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  const before = wal.stats();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let appends = 0;
  const loops = [];
  for (let a = 0; a < appenders; a++) {
    loops.push((async () => {
      let g = a % GROUPS;
      while (performance.now() < deadline) {
        const index = next[g]++; // assigned at issue: a group's appends queue in index order
        await wal.append(g, { entries: [{ index, term: 1, type: 0, data }] });
        appends++;
        if (appenders === 1) g = (g + 1) % GROUPS;
      }
    })());
  }
  await Promise.all(loops);
  const secondsTaken = (performance.now() - t0) / 1000;
  return { appenders, appends, seconds: secondsTaken, syncs: wal.stats().syncs - before.syncs };
}

function heapMiB(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  return Deno.memoryUsage().heapUsed / (1024 * 1024);
}

function heapText(before: number | undefined): string {
  const now = heapMiB();
  if (before === undefined || now === undefined) {
    return "heap not measured (run with --v8-flags=--expose-gc)";
  }
  return `heap +${(now - before).toFixed(1)} MiB`;
}

async function recoveryFigures(dir: string, entries: number): Promise<void> {
  const heapBeforeWrite = heapMiB();
  const wal = await openWal(dir, { cacheBytesMax: 256 * 1024 * 1024 });
  const data = new Uint8Array(ENTRY_BYTES).fill(3);
  const perGroup = Math.ceil(entries / GROUPS);
  for (let base = 1; base <= perGroup; base += 1000) {
    await Promise.all(Array.from({ length: GROUPS }, (_, g) => {
      const batch = [];
      for (let i = base; i < base + 1000 && i <= perGroup; i++) {
        batch.push({ index: i, term: 1, type: 0, data });
      }
      return wal.append(g, { entries: batch });
    }));
  }
  const cachedReadMs = timeReads(wal, perGroup);
  const fileBytes = wal.stats().fileBytes;
  const heapCached = heapText(heapBeforeWrite);
  await wal.close();
  const heap0 = heapMiB();
  const t0 = performance.now();
  const again = await openWal(dir);
  const openMs = performance.now() - t0;
  const heap = heapText(heap0);
  const fileReadMs = timeReads(again, perGroup);
  const s = again.stats();
  await again.close();
  const total = perGroup * GROUPS;
  console.log(
    `\nrecovery: ${total} entries of ${ENTRY_BYTES} B in ${GROUPS} groups, ${
      (fileBytes / 1e6).toFixed(1)
    } MB of files`,
  );
  console.log(`  written here (index + every entry's data in memory): ${heapCached}`);
  console.log(
    `  open (index rebuilt, data left on disk): ${openMs.toFixed(0)} ms, ${heap}`,
  );
  console.log(
    `  entries() of every entry, from memory:  ${cachedReadMs.toFixed(0)} ms (${
      rate(total, cachedReadMs)
    } entries/s)`,
  );
  console.log(
    `  entries() of every entry, from files:   ${fileReadMs.toFixed(0)} ms (${
      rate(total, fileReadMs)
    } entries/s, ${s.fileReads} reads)`,
  );
}

/** The baseline: one 100 B write + syncData per operation on a plain file, no WAL. */
async function rawSyncRate(dir: string, seconds: number): Promise<number> {
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(`${dir}/raw`, { write: true, create: true, append: true });
  const data = new Uint8Array(ENTRY_BYTES).fill(1);
  const t0 = performance.now();
  let ops = 0;
  try {
    while (performance.now() - t0 < seconds * 1000) {
      await file.write(data);
      await file.syncData();
      ops++;
    }
  } finally {
    file.close();
  }
  return ops / ((performance.now() - t0) / 1000);
}

function timeReads(wal: Wal, perGroup: number): number {
  const t0 = performance.now();
  let n = 0;
  for (let g = 0; g < GROUPS; g++) {
    for (let lo = 1; lo <= perGroup;) {
      const got = wal.entries(g, lo, perGroup + 1, 1024 * 1024);
      n += got.length;
      lo += got.length;
    }
  }
  if (n !== perGroup * GROUPS) throw new Error(`read ${n} entries, expected ${perGroup * GROUPS}`);
  return performance.now() - t0;
}

function rate(n: number, ms: number): string {
  return Math.round(n / (ms / 1000)).toLocaleString("en-US");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "3" },
      "recover-entries": { type: "string", default: "200000" },
      dir: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  const recoverEntries = Number(values["recover-entries"]);
  const parent = values.dir ?? (await Deno.makeTempDir({ prefix: "ringkv-wal-bench-" }));
  console.log(
    `ringkv WAL bench: ${cpus().length} x ${
      cpus()[0]?.model ?? "cpu"
    }, Deno ${Deno.version.deno}, dir ${parent}`,
  );
  console.log(
    `durable appends of ${ENTRY_BYTES} B entries across ${GROUPS} groups, ${seconds} s each (syncData per flush)`,
  );
  const raw = await rawSyncRate(`${parent}/raw`, seconds);
  console.log(
    `baseline: plain file, 100 B write + syncData each: ${
      Math.round(raw).toLocaleString("en-US")
    } ops/s`,
  );
  console.log("appenders | appends/s | syncs/s | appends per sync");
  try {
    for (const appenders of [1, 64]) {
      const dir = `${parent}/run-${appenders}`;
      const wal = await openWal(dir);
      const r = await runAppenders(wal, appenders, seconds);
      await wal.close();
      await Deno.remove(dir, { recursive: true });
      console.log(
        `${String(appenders).padStart(9)} | ${rate(r.appends, r.seconds * 1000).padStart(9)} | ${
          rate(r.syncs, r.seconds * 1000).padStart(7)
        } | ${(r.appends / Math.max(1, r.syncs)).toFixed(1)}`,
      );
    }
    if (recoverEntries > 0) await recoveryFigures(`${parent}/recovery`, recoverEntries);
  } finally {
    if (values.dir === undefined) await Deno.remove(parent, { recursive: true });
  }
}

if (import.meta.main) await main();
