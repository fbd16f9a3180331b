/**
 * `deno task bench:failover`: the write error window after kill -9 of the leader of a local
 * 3-node ringkv cluster, read from the load generator's timeline.
 *
 *   deno task bench:failover                     # 3 kills, restart 3 s after each
 *   deno task bench:failover --rounds 5 --restart-after 2s --json /tmp/failover_load.json
 *
 * `--json` keeps the load's report with its 100 ms timeline. It exits 1 when a round could
 * not run or a window was not under the target of 1 s (or did not close before the next kill).
 *
 * The run: 3 nodes start as `deno task cluster` starts them (bench/ringkv_cluster.ts: free
 * ports, data in a temp dir removed at the end, the default `--sync always`, so a PUT is
 * acknowledged once it is on disk on a majority). bench/load.ts runs as a child process,
 * `--url <the 3 nodes> --read-ratio 0 --connections 32 --timeline-ms 100 --duration <plan>`,
 * for a planned duration that bounds the whole run. Each round waits until writes flow
 * cleanly (10 progress lines of 100 ms in a row with successes and no error), asks
 * GET /cluster who leads, kills that node with SIGKILL, polls GET /cluster on the two others
 * until one answers as the leader (the time to the new leader, from the kill), restarts the
 * killed node at the same address `--restart-after` after the kill and waits for its
 * /ready, so that the next round again has 3 nodes.
 *
 * The error window (bench/failover_window.ts): the timeline is cut into 100 ms entries by
 * completion time; an entry is bad when a PUT failed in it or none succeeded. The window of a
 * kill opens at the start of the first bad entry from the one the kill falls in, and closes
 * at the end of the last bad entry before 5 clean entries in a row (writes flowed cleanly
 * for 500 ms); it is 0 when those 5 come first. Its resolution is 100 ms: it holds every
 * failure between its ends and is less than 200 ms longer than their span. The kill is put
 * on the load's clock with the report's startedAt (both processes read the same clock).
 *
 * Which client it measures: the load generator is pointed at all three nodes. Each of its
 * connections sends to one node and, after a connection error or a timeout, moves to the
 * next URL; the failed request counts as an error and is not sent again. So requests to
 * the dead node fail once per connection and the connection goes on with a live node: the
 * window is the time a client that fails over sees its writes fail (until a new leader
 * takes writes), not the time the dead node stays down; no connection goes back to the
 * node when it returns. The project's client (src/client/requester.ts) also moves to the
 * next URL after a connection error, but it resends the same request after a short backoff
 * and resends after a 503 too, so its caller sees slower calls rather than errors; the load
 * generator counts each failed attempt instead, which is what the window is made of. It
 * sends the next request at once (no backoff), so it counts more failed attempts than that
 * client would make in the same window. Hence no extra fail-over flag in load.ts.
 */
import { parseArgs } from "node:util";
import { asClusterView, type ClusterView } from "../src/client/cluster.ts";
import { errorWindow, median } from "./failover_window.ts";
import { type LoadReport, parseDurationS, type TimelineEntry } from "./load.ts";
import { type BenchCluster, startRingkvCluster, waitReady } from "./ringkv_cluster.ts";

const loadPath = new URL("./load.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const entryMs = 100;
const connections = 32;
/** Clean progress lines in a row before a kill: writes flow. */
const cleanEntriesBeforeKill = 10;
const targetWindowMs = 1000;
const roundsMax = 20;
const leaderTimeoutMs = 20_000;
const leaderPollMs = 20;
const leaderPollsInFlightMax = 64;
const clusterViewTimeoutMs = 5_000;
const cleanTimeoutMs = 30_000;
const restartReadyTimeoutMs = 60_000;

function say(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** One progress line of the load child: the end of its entry, its rate and errors. */
interface Progress {
  endS: number;
  opsPerS: number;
  errors: number;
}

/** The load generator as a child process, with its progress lines as they come. */
interface LoadChild {
  /** The last progress lines (at most progressKept). */
  progress: Progress[];
  /** Progress lines seen since the start. */
  progressSeen: number;
  /** Its last other stderr lines, for error messages. */
  otherLines: string[];
  stdout: Promise<string>;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
  kill(): void;
}

const progressKept = 100;
const progressPattern = /^\[\s*([\d.]+)s\]\s+(\d+) ops\/s .* errors (\d+) /;

function startLoad(args: string[]): LoadChild {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", loadPath, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const load: LoadChild = {
    progress: [],
    progressSeen: 0,
    otherLines: [],
    stdout: new Response(child.stdout).text(),
    status: child.status.then((s) => {
      load.exited = true;
      return s;
    }),
    exited: false,
    kill: () => {
      if (load.exited) return;
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    },
  };
  // Reads stderr to its end (a full pipe would stall the load) and keeps the progress lines.
  (async () => {
    let buffered = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = progressPattern.exec(line);
        if (m) {
          load.progress = [...load.progress.slice(1 - progressKept), {
            endS: +m[1],
            opsPerS: +m[2],
            errors: +m[3],
          }];
          load.progressSeen++;
        } else if (line.trim() !== "") {
          load.otherLines = [...load.otherLines.slice(-19), line];
        }
      }
    }
  })().catch((error) => say(`reading the load generator's output failed: ${error}`));
  return load;
}

/** Waits for `count` progress lines in a row, all with successes and no errors. */
async function waitClean(load: LoadChild, count: number, timeoutMs: number): Promise<void> {
  if (!(count >= 1 && count <= progressKept)) {
    throw new RangeError(`count must be 1..${progressKept}`);
  }
  const since = load.progressSeen;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const recent = load.progress.slice(-count);
    const fresh = load.progressSeen - since >= count;
    if (fresh && recent.every((p) => p.opsPerS > 0 && p.errors === 0)) return;
    if (load.exited) throw new Error(`the load generator exited:\n${load.otherLines.join("\n")}`);
    if (performance.now() > deadline) {
      const last = load.progress.slice(-5).map((p) =>
        `${p.endS} s: ${p.opsPerS} ops/s, ${p.errors} errors`
      );
      throw new Error(
        `writes did not flow cleanly for ${count * entryMs} ms within ${timeoutMs} ms ` +
          `(last entries: ${
            last.join("; ") || "none"
          }); check that the nodes answer GET /cluster and the machine is not overloaded`,
      );
    }
    await sleep(entryMs / 2);
  }
}

async function clusterView(url: string, timeoutMs: number): Promise<ClusterView | undefined> {
  try {
    const response = await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return asClusterView(await response.json());
  } catch {
    return undefined;
  }
}

/** A `GET /cluster` answer the leader built itself (so its leader state is first hand). */
function leaderOf(view: ClusterView | undefined): string | undefined {
  const ok = view?.complete === true && view.leader !== null && view.answered_by === view.leader;
  return ok ? view.leader! : undefined;
}

/** Asks the running nodes in turn who leads, until the leader itself answers. */
async function findLeader(cluster: BenchCluster, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const node of cluster.nodes.filter((n) => n.server !== undefined)) {
      const leader = leaderOf(await clusterView(node.url, clusterViewTimeoutMs));
      if (leader !== undefined) return leader;
    }
    if (performance.now() > deadline) {
      throw new Error(`no node answered GET /cluster as leader within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/**
 * Time from `killAt` to the new leader: GET /cluster on the survivors every
 * `leaderPollMs`. While a member is down a /cluster answer waits for that member's status
 * (about 1 s), so polls overlap and each answer is timed at its request's send: the leader
 * reads the state it reports when the request arrives.
 */
async function timeNewLeader(
  cluster: BenchCluster,
  killed: string,
  killAt: number,
): Promise<{ id: string; afterMs: number }> {
  const survivors = cluster.nodes.filter((n) => n.server !== undefined && n.id !== killed);
  let first: { id: string; sentAt: number } | undefined;
  const inFlight = new Set<Promise<void>>();
  const deadline = killAt + leaderTimeoutMs;
  while (first === undefined && performance.now() < deadline) {
    for (const node of survivors) {
      if (inFlight.size >= leaderPollsInFlightMax) break;
      const sentAt = performance.now();
      const poll = clusterView(node.url, clusterViewTimeoutMs).then((view) => {
        const id = leaderOf(view);
        if (id === undefined || id === killed) return;
        if (first === undefined || sentAt < first.sentAt) first = { id, sentAt };
      });
      inFlight.add(poll);
      poll.finally(() => inFlight.delete(poll));
    }
    await sleep(leaderPollMs);
  }
  // A poll sent earlier may answer later: wait for all before taking the earliest.
  await Promise.all(inFlight);
  if (first === undefined) {
    throw new Error(`no survivor answered GET /cluster as leader within ${leaderTimeoutMs} ms`);
  }
  return { id: first.id, afterMs: Math.round(first.sentAt - killAt) };
}

/** What one round did, on the wall clock (epoch ms) and in durations. */
interface Round {
  killed: string;
  killEpochMs: number;
  newLeader: string;
  leaderAfterMs: number;
  restartMs: number;
}

async function runRound(
  cluster: BenchCluster,
  load: LoadChild,
  restartAfterMs: number,
): Promise<Round> {
  await waitClean(load, cleanEntriesBeforeKill, cleanTimeoutMs);
  const killed = await findLeader(cluster, leaderTimeoutMs);
  const killEpochMs = Date.now();
  const killAt = performance.now();
  await cluster.kill(killed);
  const { id: newLeader, afterMs: leaderAfterMs } = await timeNewLeader(cluster, killed, killAt);
  // The scenario itself: the node stays down for restartAfterMs, as after a crash.
  await sleep(killAt + restartAfterMs - performance.now());
  const restartAt = performance.now();
  await cluster.restart(killed);
  await waitReady([cluster.nodes.find((n) => n.id === killed)!.url], restartReadyTimeoutMs);
  const restartMs = Math.round(performance.now() - restartAt);
  say(
    `round: killed ${killed}, new leader ${newLeader} after ${leaderAfterMs} ms, ` +
      `${killed} back and ready in ${restartMs} ms`,
  );
  return { killed, killEpochMs, newLeader, leaderAfterMs, restartMs };
}

function signed(ms: number): string {
  const rounded = Math.round(ms);
  return rounded >= 0 ? `+${rounded}` : String(rounded);
}

function kinds(byKind: Record<string, number>): string {
  return Object.entries(byKind).sort().map(([k, n]) => `${k}=${n}`).join(" ");
}

/** The entries around a kill, as "ms from the kill's entry: successful/failed". */
function strip(timeline: TimelineEntry[], killMs: number, endMs: number | null): string {
  const from = Math.max(0, Math.floor(killMs / entryMs) - 2);
  const to = Math.min(timeline.length, Math.floor((endMs ?? killMs) / entryMs) + 3, from + 24);
  const cells: string[] = [];
  for (let i = from; i < to; i++) {
    const e = timeline[i];
    const rel = (i - Math.floor(killMs / entryMs)) * entryMs;
    cells.push(`${signed(rel)} ${e.ops - e.errors}/${e.errors}`);
  }
  return cells.join(", ");
}

function analyze(report: LoadReport, rounds: Round[]): { text: string; met: boolean } {
  const startEpochMs = Date.parse(report.startedAt);
  const timeline = report.timeline;
  const rows = [
    "round  killed  new leader  leader after ms  error window ms  window from kill ms  " +
    "errors in window by kind                         errors after  restart ms",
  ];
  const strips: string[] = [];
  const windows: number[] = [];
  let unresolved = 0;
  rounds.forEach((r, i) => {
    const killMs = r.killEpochMs - startEpochMs;
    const next = rounds[i + 1];
    const limitMs = next === undefined ? Infinity : next.killEpochMs - startEpochMs;
    const w = errorWindow(timeline, { failureMs: killMs, limitMs });
    if (!w.resolved) unresolved++;
    windows.push(w.windowMs);
    const fromKill = w.startMs === null
      ? "-"
      : `${signed(w.startMs - killMs)}..${signed(w.endMs! - killMs)}`;
    const errs = w.errors === 0 ? "0" : `${w.errors} (${kinds(w.errorsByKind)})`;
    rows.push(
      `${String(i + 1).padStart(5)}  ${r.killed.padEnd(6)}  ${r.newLeader.padEnd(10)}  ` +
        `${String(r.leaderAfterMs).padStart(15)}  ` +
        `${(String(w.windowMs) + (w.resolved ? "" : "+")).padStart(15)}  ` +
        `${fromKill.padStart(19)}  ${errs.padEnd(47)}  ${String(w.errorsAfter).padStart(12)}  ` +
        `${String(r.restartMs).padStart(10)}`,
    );
    strips.push(`  round ${i + 1}: ${strip(timeline, killMs, w.endMs)}`);
  });
  const leaders = rounds.map((r) => r.leaderAfterMs);
  const maxWindowMs = Math.max(...windows);
  const met = maxWindowMs < targetWindowMs && unresolved === 0;
  const text = [
    ...rows,
    `error window over ${rounds.length} kills: max ${maxWindowMs} ms, median ` +
    `${median(windows)} ms (target < ${targetWindowMs} ms: ${met ? "met" : "not met"})` +
    (unresolved ? `; ${unresolved} did not recover before the next kill (+)` : ""),
    `new leader after: max ${Math.max(...leaders)} ms, median ${median(leaders)} ms`,
    `timeline around each kill (ms from the kill's ${entryMs} ms entry: successful/failed):`,
    ...strips,
  ].join("\n");
  return { text, met };
}

interface Settings {
  rounds: number;
  restartAfterS: number;
  jsonPath?: string;
}

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      rounds: { type: "string" },
      "restart-after": { type: "string" },
      json: { type: "string" },
    },
  });
  const rounds = Number(values.rounds ?? "3");
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= roundsMax)) {
    throw new RangeError(`--rounds must be a whole number within 1..${roundsMax}`);
  }
  const restartAfterS = parseDurationS(values["restart-after"] ?? "3s");
  if (!(restartAfterS >= 0.5 && restartAfterS <= 30)) {
    throw new RangeError("--restart-after must be within 0.5s..30s");
  }
  return { rounds, restartAfterS, jsonPath: values.json };
}

/** Seconds of load: the rounds, each with room for the restart, and a margin at each end. */
function plannedLoadS(settings: Settings): number {
  return Math.ceil(8 + settings.rounds * (settings.restartAfterS + 9) + 3);
}

async function run(
  settings: Settings,
  cluster: BenchCluster,
  options: { dir: string; onLoad: (load: LoadChild) => void },
): Promise<number> {
  const durationS = plannedLoadS(settings);
  const jsonPath = `${options.dir}/load.json`;
  const loadArgs = [
    ...["--url", cluster.urls.join(","), "--read-ratio", "0"],
    ...["--connections", String(connections), "--timeline-ms", String(entryMs)],
    ...["--duration", `${durationS}s`, "--json", jsonPath],
  ];
  say(`load: deno run -A bench/load.ts ${loadArgs.join(" ")}`);
  const load = startLoad(loadArgs);
  options.onLoad(load);
  const started = performance.now();
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < settings.rounds; i++) {
      const leftS = durationS - (performance.now() - started) / 1000;
      if (leftS < settings.restartAfterS + 6) {
        say(`round ${i + 1} not run: ${leftS.toFixed(1)} s of load left`);
        break;
      }
      rounds.push(await runRound(cluster, load, settings.restartAfterS * 1000));
    }
    say("waiting for the load's planned end");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overdue = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), (durationS + 60) * 1000);
    });
    const status = await Promise.race([load.status, overdue]);
    clearTimeout(timer);
    if (status === undefined) throw new Error(`the load generator ran past ${durationS + 60} s`);
  } finally {
    load.kill();
    await load.status;
  }
  const summary = await load.stdout;
  const report: LoadReport = JSON.parse(await Deno.readTextFile(jsonPath));
  if (settings.jsonPath) await Deno.copyFile(jsonPath, settings.jsonPath);
  const { text, met } = analyze(report, rounds);
  // The load's summary names the machine, the settings and the totals.
  await Deno.stdout.write(encoder.encode(
    `failover: kill -9 of the leader of a local 3-node ringkv cluster under durable PUT load, ` +
      `restarted ${settings.restartAfterS} s later\n` + summary + text + "\n",
  ));
  return rounds.length === settings.rounds && met ? 0 : 1;
}

async function main(args: string[]): Promise<number> {
  let settings: Settings;
  try {
    settings = parseSettings(args);
  } catch (error) {
    say(`failover: ${(error as Error).message}`);
    return 2;
  }
  const cluster = await startRingkvCluster({ tempPrefix: "ringkv-failover-" });
  const dir = await Deno.makeTempDir({ prefix: "ringkv-failover-load-" });
  let load: LoadChild | undefined;
  const cleanUp = async () => {
    load?.kill();
    await cluster.stop();
    await Deno.remove(dir, { recursive: true });
  };
  // Ctrl-C must not leave three nodes and a load generator running.
  const onSignal = () => cleanUp().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await run(settings, cluster, { dir, onLoad: (l) => load = l });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await cleanUp();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
