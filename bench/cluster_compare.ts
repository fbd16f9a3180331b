/**
 * Issue 6's replicated benchmark in one session: a local 3-node ringkv cluster (the flags of
 * `deno task cluster`, on free ports) and a 3-member etcd (bench/etcd_cluster.ts), one after
 * the other, each loaded by bench/load.ts with the same scenarios: durable PUT (63
 * connections), linearizable GET (63 connections, keys preloaded by 63 connections) and GET
 * on one connection. Besides throughput and latency it prints the CPU time (user + system,
 * from /proc) the peer's three processes and the load generator used per 1000 ops.
 *
 *   deno run -A bench/cluster_compare.ts                         # both, 20 s per scenario
 *   deno run -A bench/cluster_compare.ts --only ringkv --duration 10s
 *   deno run -A bench/cluster_compare.ts --only ringkv --cpu-prof-dir /tmp/prof
 *
 * `--cpu-prof-dir` runs every node under `deno run --cpu-prof` and leaves one .cpuprofile per
 * node in that directory (named by pid; the node ids and pids are printed); `--deno-flag F`
 * passes F to every node's `deno run` (e.g. --deno-flag=--v8-flags=--perf-basic-prof).
 */
import { parseArgs } from "node:util";
import { startEtcdCluster } from "./etcd_cluster.ts";
import {
  formatReport,
  loadDefaults,
  type LoadOptions,
  type LoadReport,
  parseDurationS,
  preload,
  runLoad,
} from "./load.ts";
import { startRingkvCluster } from "./ringkv_cluster.ts";

interface Scenario {
  name: string;
  connections: number;
  readRatio: number;
  preload: boolean;
}

const scenarios: Record<string, Scenario> = {
  put: { name: "PUT x63", connections: 63, readRatio: 0, preload: false },
  get: { name: "GET x63", connections: 63, readRatio: 1, preload: true },
  get1: { name: "GET x1", connections: 1, readRatio: 1, preload: true },
};

interface Row {
  peer: string;
  scenario: string;
  report: LoadReport;
  /** CPU time (user + system) the peer's processes used per 1000 ops, when measurable. */
  cpuMsPerKop?: number;
  /** The same for this load generator. */
  loadCpuMsPerKop?: number;
}

/** CPU seconds (user + system) `pid` used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in
    // clock ticks of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function cpuOf(pids: number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (s === undefined) return undefined;
    sum += s;
  }
  return sum;
}

const encoder = new TextEncoder();

function say(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

async function runScenarios(
  peer: string,
  base: Pick<LoadOptions, "urls" | "target">,
  options: { picked: string[]; durationS: number; pids: number[] },
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const key of options.picked) {
    const s = scenarios[key];
    const load = { ...loadDefaults, ...base, connections: s.connections, progress: null };
    if (s.preload) await preload({ ...load, connections: 63 });
    const before = { peer: cpuOf(options.pids), self: cpuOf([Deno.pid]) };
    const report = await runLoad({
      ...load,
      readRatio: s.readRatio,
      durationS: options.durationS,
    });
    const after = { peer: cpuOf(options.pids), self: cpuOf([Deno.pid]) };
    const perKop = (a?: number, b?: number) =>
      a === undefined || b === undefined || report.ops === 0
        ? undefined
        : Math.round((b - a) * 1e6 / report.ops);
    say(`${peer} ${s.name}\n${formatReport(report)}`);
    rows.push({
      peer,
      scenario: s.name,
      report,
      cpuMsPerKop: perKop(before.peer, after.peer),
      loadCpuMsPerKop: perKop(before.self, after.self),
    });
  }
  return rows;
}

function table(rows: Row[]): string {
  const lines = [
    "peer      scenario   ops/s    p50 ms   p99 ms  errors  peer CPU ms/kop  load CPU ms/kop",
  ];
  const cpu = (v?: number) => (v === undefined ? "-" : String(v)).padStart(15);
  for (const r of rows) {
    const l = r.report.latency.all;
    const ops = String(r.report.throughputOpsPerS).padStart(7);
    const p50 = l.p50Ms.toFixed(2).padStart(7);
    const p99 = l.p99Ms.toFixed(2).padStart(7);
    const errors = String(r.report.errors).padStart(6);
    lines.push(
      `${r.peer.padEnd(9)} ${r.scenario.padEnd(9)} ${ops}  ${p50}  ${p99}  ${errors}  ` +
        `${cpu(r.cpuMsPerKop)}  ${cpu(r.loadCpuMsPerKop)}`,
    );
  }
  return lines.join("\n");
}

const usage = `deno task bench:cluster [options]
  --only ringkv|etcd      measure one of the two (default both, ringkv first)
  --duration D            length of each run, e.g. 20s (default 20s)
  --scenarios LIST        comma-separated: put, get, get1 (default all three)
  --cpu-prof-dir DIR      write V8 CPU profiles of the ringkv nodes there
  --deno-flag FLAG        extra flag for the ringkv nodes' deno run (repeatable)
  --serve-arg ARG         extra argument for the ringkv nodes' serve (repeatable)
`;

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    await Deno.stdout.write(encoder.encode(usage));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      options: {
        only: { type: "string" },
        duration: { type: "string" },
        scenarios: { type: "string" },
        "cpu-prof-dir": { type: "string" },
        "deno-flag": { type: "string", multiple: true },
        "serve-arg": { type: "string", multiple: true },
      },
    });
  } catch (error) {
    await Deno.stderr.write(encoder.encode(`${(error as Error).message}\n${usage}`));
    return 2;
  }
  const { values } = parsed;
  const durationS = parseDurationS(values.duration ?? "20s");
  const picked = (values.scenarios ?? "put,get,get1").split(",");
  for (const p of picked) {
    if (scenarios[p] === undefined) throw new RangeError(`unknown scenario ${p} (put, get, get1)`);
  }
  const peers = values.only === undefined ? ["ringkv", "etcd"] : [values.only];
  const profDir = values["cpu-prof-dir"];
  const denoFlags = profDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profDir}`];
  denoFlags.push(...values["deno-flag"] ?? []);
  const rows: Row[] = [];
  for (const peer of peers) {
    if (peer === "ringkv") {
      const cluster = await startRingkvCluster({
        denoFlags,
        serveArgs: values["serve-arg"] ?? [],
        tempPrefix: "ringkv-compare-",
      });
      try {
        const base = { urls: cluster.urls, target: "ringkv" as const };
        const pids = cluster.pids();
        rows.push(...await runScenarios(peer, base, { picked, durationS, pids }));
      } finally {
        await cluster.stop();
      }
    } else if (peer === "etcd") {
      const cluster = await startEtcdCluster();
      try {
        const base = { urls: cluster.clientUrls, target: "etcd" as const };
        const pids = cluster.members.map((m) => m.pid);
        rows.push(...await runScenarios(peer, base, { picked, durationS, pids }));
        say(`etcd version ${cluster.version}`);
      } finally {
        await cluster.stop();
      }
    } else {
      throw new RangeError(`unknown peer ${peer} (ringkv, etcd)`);
    }
  }
  const cores = navigator.hardwareConcurrency;
  await Deno.stdout.write(
    encoder.encode(
      `machine: ${cores} cores, deno ${Deno.version.deno}; ${durationS} s per run\n` +
        table(rows) + "\n",
    ),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
