/**
 * The storage summary: every workload on every engine in one run, one table with ops/s and
 * p50/p99, the machine it ran on, and ringkv's figures against its targets.
 *
 *   deno run -A --unstable-kv bench/storage_summary.ts [--quick] [--json=PATH]
 *     [--engines=ringkv,lmdb,...] [--only="put|get|scan|reopen|merge"] [--duration-ms=N]
 *     [--data-keys=N] [--reopen-keys=N] [--merge-keys=N] [--seed=N] [--rounds=N]
 *     [--reopen-runs=N]
 *
 * --quick (or RINGKV_BENCH_QUICK=1) shortens every run and skips the 1M-key reopen.
 * --only keeps the workloads whose names contain one of its parts (handy under --cpu-prof).
 */
import { parseArgs } from "node:util";
import { createLogger, type Logger } from "../src/log.ts";
import { isPeerName, type KvPeer, openPeer, type PeerName, peerNames } from "./storage_peers.ts";
import { ringkvAvailable } from "./storage_peers.ts";
import { measureReopen, type ReopenResult } from "./storage_reopen.ts";
import { type MergeRun, runMergeWorkload } from "./storage_merge.ts";
import {
  type LoopResult,
  preload,
  runClosedLoop,
  scanKeys,
  shuffledKeys,
  writeKey,
} from "./storage_workloads.ts";
import { dataKey, dataPrefix, keyBytes, randomInts, ValueSource } from "./storage_workloads.ts";
import { median, pool, summarize } from "./storage_workloads.ts";
import { formatTable, type MachineInfo, machineInfo, targetRows } from "./storage_report.ts";

/** One measured cell of the summary: one workload on one engine. */
export interface SummaryRow {
  workload: string;
  engine: PeerName;
  /** Operations per second (for batches: entries per second): the median of the rounds. */
  opsPerSec: number;
  /** Operations per second of each round. */
  opsPerSecRounds: number[];
  ops: number;
  p50Ms: number;
  p99Ms: number;
}

/** Everything one summary run measured. */
export interface SummaryResult {
  machine: MachineInfo;
  settings: SummarySettings;
  rows: SummaryRow[];
  reopen: ReopenResult[];
  merge?: MergeRun;
  durability: Record<string, string>;
}

/** The knobs of one summary run. */
export interface SummarySettings {
  quick: boolean;
  engines: PeerName[];
  durationMs: number;
  /** Each cell's time is split into this many round-robin rounds. */
  rounds: number;
  /** Fresh-process reopens per engine (the median is reported). */
  reopenRuns: number;
  dataKeys: number;
  hotKeys: number;
  reopenKeys: number;
  mergeKeys: number;
  seed: number;
  /** Run only workloads whose name contains one of these ("reopen", "merge" included). */
  only: string[];
}

interface Workload {
  name: string;
  concurrency: number;
  /** Entries per operation (batches), for entries/s. */
  entriesPerOp: number;
  op(peer: KvPeer, i: number): Promise<void>;
  opsMax: number;
  /** Rounds to split the run into; default the run's `rounds`. */
  rounds?: number;
}

function putWorkload(tag: string, valueBytes: number, concurrency: number): Workload {
  const values = new ValueSource(valueBytes, tag.charCodeAt(0));
  const size = valueBytes >= 1024 ? `${valueBytes / 1024} KiB` : `${valueBytes} B`;
  return {
    name: `put ${size}, ${concurrency} writer${concurrency > 1 ? "s" : ""}`,
    concurrency,
    entriesPerOp: 1,
    op: (peer, i) => peer.put(writeKey(tag, i), values.next()),
    opsMax: 1_000_000,
  };
}

function batchWorkload(): Workload {
  const values = new ValueSource(100, 5);
  const batchEntries = 1000;
  return {
    name: `batch ${batchEntries} x 100 B`,
    concurrency: 1,
    entriesPerOp: batchEntries,
    op: (peer, i) => {
      const entries = [];
      for (let j = 0; j < batchEntries; j++) {
        entries.push({ key: writeKey("e", i * batchEntries + j), value: values.next() });
      }
      return peer.batch(entries);
    },
    opsMax: 10_000,
  };
}

interface ReadWorkloads {
  uncached: Workload;
  cached: Workload;
  /** The hot key numbers the cached workload reads. */
  hot: Uint32Array;
  mustGet(peer: KvPeer, k: number): Promise<void>;
}

function readWorkloads(settings: SummarySettings): ReadWorkloads {
  const order = shuffledKeys(settings.dataKeys, settings.seed);
  const hot = order.subarray(order.length - settings.hotKeys);
  const rand = randomInts(settings.seed + 1);
  const mustGet = async (peer: KvPeer, k: number) => {
    const value = await peer.get(dataKey(k));
    if (value?.byteLength !== 100) throw new Error(`${peer.name}: data key ${k} lost`);
  };
  return {
    hot,
    mustGet,
    // Keys never read since the engine was reopened, each read once.
    uncached: {
      name: "get uncached",
      concurrency: 1,
      entriesPerOp: 1,
      op: (peer, i) => mustGet(peer, order[i]),
      opsMax: settings.dataKeys - settings.hotKeys,
      // One pass: a key read in an earlier round would be cached in the next.
      rounds: 1,
    },
    cached: {
      name: `get cached (${settings.hotKeys} hot keys)`,
      concurrency: 1,
      entriesPerOp: 1,
      op: (peer) => mustGet(peer, hot[rand(hot.length)]),
      opsMax: 10_000_000,
    },
  };
}

function scanWorkload(settings: SummarySettings): Workload {
  const rand = randomInts(settings.seed + 2);
  const prefixes = Math.floor(settings.dataKeys / scanKeys);
  return {
    name: `scan prefix, ${scanKeys} keys`,
    concurrency: 1,
    entriesPerOp: 1,
    op: async (peer) => {
      const found = await peer.scan(dataPrefix(rand(prefixes)), scanKeys);
      if (found.length !== scanKeys) throw new Error(`${peer.name}: scan saw ${found.length}`);
    },
    opsMax: 1_000_000,
  };
}

interface Tally {
  ops: number;
  rates: number[];
  samples: Float64Array[];
}

/**
 * Runs `workload` on every peer, in `rounds` round-robin passes of durationMs / rounds each,
 * so that a burst of load from elsewhere on the machine hits every engine alike. ops/s is the
 * median of the rounds; p50/p99 pool every sample.
 */
async function runOnAll(
  workload: Workload,
  peers: KvPeer[],
  settings: SummarySettings,
  log: Logger,
): Promise<SummaryRow[]> {
  const rounds = workload.rounds ?? settings.rounds;
  const tallies = new Map<PeerName, Tally>(
    peers.map((p) => [p.name, { ops: 0, rates: [], samples: [] }]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const peer of peers) {
      const t = tallies.get(peer.name)!;
      if (t.ops >= workload.opsMax) continue;
      const base = t.ops;
      const result: LoopResult = await runClosedLoop((i) => workload.op(peer, base + i), {
        concurrency: workload.concurrency,
        durationMs: settings.durationMs / rounds,
        opsMax: workload.opsMax - base,
        keepSamples: t.samples,
      });
      t.ops += result.ops;
      t.rates.push(result.ops * workload.entriesPerOp / (result.elapsedMs / 1000));
    }
  }
  return peers.map((peer) => {
    const t = tallies.get(peer.name)!;
    const latency = summarize(pool(t.samples));
    const row: SummaryRow = {
      workload: workload.name,
      engine: peer.name,
      opsPerSec: median(t.rates),
      opsPerSecRounds: t.rates,
      ops: t.ops,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
    };
    log.info("measured", { ...row });
    return row;
  });
}

async function openAll(engines: PeerName[], dirs: Map<PeerName, string>): Promise<KvPeer[]> {
  const peers: KvPeer[] = [];
  for (const name of engines) peers.push(await openPeer(name, dirs.get(name)!));
  return peers;
}

async function closeAll(peers: KvPeer[]): Promise<void> {
  for (const peer of peers) await peer.close();
}

/** Whether the run's --only filter (substrings of workload names) lets `name` run. */
function selected(settings: SummarySettings, name: string): boolean {
  return settings.only.length === 0 || settings.only.some((part) => name.includes(part));
}

async function runMainWorkloads(
  settings: SummarySettings,
  root: string,
  log: Logger,
): Promise<{ rows: SummaryRow[]; durability: Record<string, string> }> {
  const dirs = new Map(settings.engines.map((name) => [name, `${root}/${name}`]));
  let peers = await openAll(settings.engines, dirs);
  const durability = Object.fromEntries(peers.map((p) => [p.name, p.durability]));
  const rows: SummaryRow[] = [];
  try {
    const writes = [
      putWorkload("a", 100, 1),
      putWorkload("b", 100, 64),
      putWorkload("c", 4096, 1),
      putWorkload("d", 4096, 64),
      batchWorkload(),
    ].filter((w) => selected(settings, w.name));
    for (const w of writes) rows.push(...await runOnAll(w, peers, settings, log));
    const reads = readWorkloads(settings);
    const scan = scanWorkload(settings);
    const readsWanted = [reads.uncached, reads.cached, scan].some((w) =>
      selected(settings, w.name)
    );
    if (!readsWanted) return { rows, durability };
    for (const peer of peers) {
      log.info("preloading", { engine: peer.name, keys: settings.dataKeys });
      await preload(peer, settings.dataKeys);
    }
    await closeAll(peers);
    peers = await openAll(settings.engines, dirs);
    if (selected(settings, reads.uncached.name)) {
      rows.push(...await runOnAll(reads.uncached, peers, settings, log));
    }
    // Warm the hot set (untimed) so every engine serves it from its fastest tier.
    for (const peer of peers) {
      for (const k of reads.hot) await reads.mustGet(peer, k);
    }
    if (selected(settings, reads.cached.name)) {
      rows.push(...await runOnAll(reads.cached, peers, settings, log));
    }
    if (selected(settings, scan.name)) rows.push(...await runOnAll(scan, peers, settings, log));
  } finally {
    await closeAll(peers);
  }
  return { rows, durability };
}

async function runReopen(
  settings: SummarySettings,
  root: string,
  log: Logger,
): Promise<ReopenResult[]> {
  const results: ReopenResult[] = [];
  for (const name of settings.engines) {
    const dir = `${root}/reopen-${name}`;
    const peer = await openPeer(name, dir);
    const t0 = performance.now();
    try {
      await preload(peer, settings.reopenKeys);
    } finally {
      await peer.close();
    }
    log.info("filled", { engine: name, keys: settings.reopenKeys, ms: performance.now() - t0 });
    const runs: ReopenResult[] = [];
    for (let i = 0; i < settings.reopenRuns; i++) {
      runs.push(await measureReopen(name, dir, settings.reopenKeys));
      log.info("reopened", { ...runs[i] });
    }
    runs.sort((a, b) => a.openMs - b.openMs);
    results.push({ ...runs[Math.floor(runs.length / 2)], openMsRuns: runs.map((r) => r.openMs) });
    await Deno.remove(dir, { recursive: true });
  }
  return results;
}

function parseSettings(args: string[]): SummarySettings & { json?: string } {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: Deno.env.get("RINGKV_BENCH_QUICK") === "1" },
      json: { type: "string" },
      engines: { type: "string" },
      "duration-ms": { type: "string" },
      "reopen-keys": { type: "string" },
      "merge-keys": { type: "string" },
      "data-keys": { type: "string" },
      seed: { type: "string" },
      only: { type: "string" },
      rounds: { type: "string" },
      "reopen-runs": { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const count = (s: string | undefined, fallback: number) => {
    const n = s === undefined ? fallback : Number(s);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a count: ${s}`);
    return n;
  };
  const engines = (values.engines?.split(",") ?? [...peerNames]).map((name) => {
    if (!isPeerName(name)) throw new RangeError(`unknown engine "${name}"`);
    return name;
  });
  const dataKeys = count(values["data-keys"], quick ? 20_000 : 100_000);
  if (dataKeys < 2 * scanKeys || dataKeys % scanKeys !== 0) {
    throw new RangeError(`--data-keys must be a multiple of ${scanKeys}, at least ${2 * scanKeys}`);
  }
  return {
    quick,
    json: values.json,
    engines,
    durationMs: count(values["duration-ms"], quick ? 500 : 3000),
    rounds: Math.max(1, count(values.rounds, quick ? 1 : 3)),
    reopenRuns: Math.max(1, count(values["reopen-runs"], 3)),
    dataKeys,
    hotKeys: Math.min(10_000, dataKeys / 2),
    reopenKeys: count(values["reopen-keys"], quick ? 0 : 1_000_000),
    mergeKeys: count(values["merge-keys"], quick ? 50_000 : 300_000),
    seed: count(values.seed, Date.now() % 1_000_000),
    only: values.only?.split("|").filter((part) => part !== "") ?? [],
  };
}

/** Runs the whole summary and returns what it measured; the caller prints it. */
export async function runSummary(
  settings: SummarySettings,
  log: Logger,
): Promise<SummaryResult> {
  const machine = await machineInfo();
  const root = await Deno.makeTempDir({ prefix: "ringkv-bench-" });
  try {
    const main = await runMainWorkloads(settings, root, log);
    const reopenWanted = settings.reopenKeys > 0 && selected(settings, "reopen");
    const reopen = reopenWanted ? await runReopen(settings, root, log) : [];
    const mergeWanted = settings.engines.includes("ringkv") && settings.mergeKeys > 0 &&
      selected(settings, "merge");
    const merge = mergeWanted
      ? await runMergeWorkload(`${root}/merge`, { keys: settings.mergeKeys, log, settings })
      : undefined;
    machine.loadAvgEnd = Deno.loadavg();
    return { machine, settings, ...main, reopen, merge };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function main(): Promise<number> {
  const settings = parseSettings(Deno.args);
  const log = createLogger({ fields: { bench: "storage" } });
  if (settings.engines.includes("ringkv") && !await ringkvAvailable()) {
    log.warn("ringkv engine absent (src/storage/mod.ts): measuring the peers only");
    settings.engines = settings.engines.filter((e) => e !== "ringkv");
  }
  log.info("starting", { ...settings, keyBytes });
  const result = await runSummary(settings, log);
  console.log(formatTable(result));
  console.log(targetRows(result));
  if (settings.json) {
    await Deno.writeTextFile(settings.json, JSON.stringify(result, null, 2) + "\n");
    log.info("wrote", { path: settings.json });
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
