/**
 * `deno task bench:http`: ringkv's HTTP path against a bare `Deno.serve` + Map baseline, in one
 * run on one machine. Both servers run as child processes with the same settings, one after
 * the other; this process drives them with bench/load.ts's engine and prints the ratios:
 * GET of 100 B values (target >= 0.8x the baseline's GET) and durable PUT (target >= 0.6x
 * the baseline's GET), both with 64 connections.
 */
import { parseArgs } from "node:util";
import { type ChildServer, spawnNode, spawnServer } from "./child_server.ts";
import {
  loadDefaults,
  type LoadOptions,
  type LoadReport,
  parseDurationS,
  preload,
  runLoad,
} from "./load.ts";

const encoder = new TextEncoder();

async function print(text: string): Promise<void> {
  await Deno.stdout.write(encoder.encode(text));
}

/** Settings of one bench run. */
export interface HttpBenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  keys: number;
  valueBytes: number;
  /** Extra flags for `main.ts serve` (e.g. ["--sync", "none"]). */
  nodeArgs: string[];
}

/** A load report with the server process's CPU time per op during it. */
export interface MeasuredRun {
  report: LoadReport;
  /** Server CPU (user + system) per completed op, in microseconds; null off Linux. */
  serverCpuUsPerOp: number | null;
}

/** One measured workload on both servers. */
export interface HttpBenchRow {
  workload: string;
  baseline: MeasuredRun;
  ringkv: MeasuredRun;
  /** ringkv ops/s divided by the reference (the baseline's GET ops/s for both targets). */
  ratio: number;
  target: number;
}

const here = new URL(".", import.meta.url).pathname;

function loadOptions(
  url: string,
  bench: HttpBenchOptions,
  overrides: Partial<LoadOptions>,
): LoadOptions {
  return {
    ...loadDefaults,
    urls: [url],
    connections: bench.connections,
    durationS: bench.durationS,
    keys: bench.keys,
    valueBytes: bench.valueBytes,
    keyPrefix: "bench/",
    progress: null,
    ...overrides,
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc; null when unknown. */
async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticksPerS = 100; // USER_HZ on Linux
    return (Number(fields[11]) + Number(fields[12])) / ticksPerS;
  } catch {
    return null;
  }
}

async function measured(pid: number, options: LoadOptions): Promise<MeasuredRun> {
  const before = await cpuSeconds(pid);
  const report = await runLoad(options);
  const after = await cpuSeconds(pid);
  const ops = report.ops - report.errors;
  const serverCpuUsPerOp = before === null || after === null || ops === 0
    ? null
    : Math.round((after - before) * 1e6 / ops * 10) / 10;
  return { report, serverCpuUsPerOp };
}

/** Preload, warm up, then measure GET (read ratio 1) and PUT (read ratio 0) on one server. */
async function measure(
  server: ChildServer,
  bench: HttpBenchOptions,
): Promise<{ get: MeasuredRun; put: MeasuredRun }> {
  const url = server.url;
  const loaded = await preload(loadOptions(url, bench, {}));
  if (loaded.errors > 0 || loaded.keys !== bench.keys) {
    throw new Error(`preload of ${url} failed: ${JSON.stringify(loaded)}`);
  }
  if (bench.warmupS > 0) {
    await runLoad(loadOptions(url, bench, { durationS: bench.warmupS, readRatio: 0.5 }));
  }
  const get = await measured(server.pid, loadOptions(url, bench, { readRatio: 1, seed: 2 }));
  const put = await measured(server.pid, loadOptions(url, bench, { readRatio: 0, seed: 3 }));
  return { get, put };
}

async function withServer<T>(
  start: () => Promise<ChildServer>,
  fn: (server: ChildServer) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop({ killAfterMs: 10_000 });
  }
}

/** Runs the baseline, then ringkv, and returns the two rows of the table. */
export async function runHttpBench(bench: HttpBenchOptions): Promise<HttpBenchRow[]> {
  const baseline = await withServer(
    () => spawnServer([here + "baseline_server.ts"]),
    (server) => measure(server, bench),
  );
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv-bench-http-" });
  try {
    const ringkv = await withServer(
      () => spawnNode(dataDir, { args: bench.nodeArgs }),
      (server) => measure(server, bench),
    );
    const reference = baseline.get.report.throughputOpsPerS;
    return [
      {
        workload: `GET ${bench.valueBytes} B`,
        baseline: baseline.get,
        ringkv: ringkv.get,
        ratio: ringkv.get.report.throughputOpsPerS / reference,
        target: 0.8,
      },
      {
        workload: `PUT ${bench.valueBytes} B`,
        baseline: baseline.put,
        ringkv: ringkv.put,
        ratio: ringkv.put.report.throughputOpsPerS / reference,
        target: 0.6,
      },
    ];
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** The printed table: throughput, p99, ratio against the baseline's GET, target met or not. */
export function formatHttpBench(rows: HttpBenchRow[], bench: HttpBenchOptions): string {
  const r0 = rows[0].baseline.report;
  const cpu = (run: MeasuredRun) =>
    (run.serverCpuUsPerOp === null ? "?" : run.serverCpuUsPerOp.toFixed(1)).padStart(8);
  const lines = [
    `bench:http: ${bench.connections} connections, ${bench.durationS} s per run, ` +
    `${bench.keys} keys, ${bench.valueBytes} B values; ringkv ${
      bench.nodeArgs.join(" ") || "defaults (durable: --sync always)"
    }`,
    `machine: ${r0.machine.cores} cores, ${r0.machine.os}, deno ${r0.machine.deno}; ` +
    "client and server share it",
    "",
    "                  baseline                 ringkv",
    "workload         ops/s  p99 ms  cpu us/op    ops/s  p99 ms  cpu us/op  errors  ratio*" +
    "  target  met",
  ];
  for (const row of rows) {
    const b = row.baseline;
    const k = row.ringkv;
    lines.push(
      row.workload.padEnd(12) +
        String(b.report.throughputOpsPerS).padStart(10) +
        b.report.latency.all.p99Ms.toFixed(2).padStart(8) + cpu(b) + "   " +
        String(k.report.throughputOpsPerS).padStart(10) +
        k.report.latency.all.p99Ms.toFixed(2).padStart(8) + cpu(k) + "   " +
        String(k.report.errors).padStart(6) + row.ratio.toFixed(2).padStart(8) +
        `>= ${row.target}`.padStart(8) + (row.ratio >= row.target ? "yes" : "NO").padStart(5),
    );
  }
  lines.push(
    "",
    "* ratio = ringkv ops/s / baseline GET ops/s (for both rows, as the targets say)",
    "cpu us/op = the server process's CPU time (user + system) per op, from /proc: a figure",
    "that other load on the machine disturbs less than ops/s",
  );
  return lines.join("\n") + "\n";
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      keys: { type: "string" },
      "value-bytes": { type: "string" },
      "node-arg": { type: "string", multiple: true },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    await print(
      "usage: deno task bench:http [--duration 5s] [--warmup 1s] [--connections 64] " +
        "[--keys 10000] [--value-bytes 100] [--node-arg=--sync --node-arg=none] [--json FILE]\n",
    );
    return 0;
  }
  const bench: HttpBenchOptions = {
    durationS: parseDurationS(values.duration ?? "5s"),
    warmupS: parseDurationS(values.warmup ?? "1s"),
    connections: Number(values.connections ?? 64),
    keys: Number(values.keys ?? 10_000),
    valueBytes: Number(values["value-bytes"] ?? 100),
    nodeArgs: values["node-arg"] ?? [],
  };
  let rows: HttpBenchRow[];
  try {
    rows = await runHttpBench(bench);
  } catch (error) {
    await Deno.stderr.write(encoder.encode(`bench:http failed: ${(error as Error).message}\n`));
    return 1;
  }
  await print(formatHttpBench(rows, bench));
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify({ bench, rows }, null, 2) + "\n");
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
