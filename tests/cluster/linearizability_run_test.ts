/**
 * A linearizability run over real processes: concurrent clients put, compare-and-set,
 * delete and read (linearizable and lease) a few keys through random nodes of a 3-node
 * cluster, while a nemesis kills -9 and restarts a node, or freezes one with SIGSTOP for
 * one to two election timeouts (at most one node down or frozen at once). The history is
 * then checked with the checker of tests/sim; stale reads are checked apart (they may lag,
 * but never invent a value). RINGKV_LIN_SEED=<n> replays the run's choices (timings differ).
 */
import assert from "node:assert/strict";
import {
  checkHistory,
  checkStaleReads,
  formatOperation,
  type KvInput,
  type KvOutput,
  type Operation,
  type StaleRead,
} from "../sim/linearizability.ts";
import { createRng, type Rng } from "../sim/rng.ts";
import {
  pauseNode,
  resumeNode,
  startCluster,
  type TestCluster,
  type TestNode,
} from "./cluster_process.ts";

const clientsCount = 6;
const keys = ["lin-a", "lin-b", "lin-c", "lin-d"];
const runMs = 12_000;
/** Default election timeout of a node: 20 ticks of 10 ms. */
const electionTimeoutMs = 200;
const requestTimeoutMs = 10_000;
/** Search steps per key before the checker gives up ("unknown"). */
const checkStepsMax = 3_000_000;

/** What one HTTP attempt came to. */
type Outcome =
  | { kind: "answer"; status: number; etag: string | null; body: string; problem?: string }
  | { kind: "refused" } // the connection was refused: the request never reached a node
  | { kind: "lost" }; // timeout or a connection cut mid-request: the node may have acted

async function call(url: string, init: RequestInit & { path: string }): Promise<Outcome> {
  try {
    const res = await fetch(url + init.path, {
      ...init,
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const body = await res.text();
    let problem: string | undefined;
    if (res.status >= 400 && res.headers.get("content-type")?.includes("problem")) {
      problem = String(JSON.parse(body).type ?? "").replace("urn:ringkv:problem:", "");
    }
    return { kind: "answer", status: res.status, etag: res.headers.get("etag"), body, problem };
  } catch (error) {
    const message = String((error as Error)?.message ?? error);
    if (/refused|os error 111/i.test(message)) return { kind: "refused" };
    return { kind: "lost" };
  }
}

function versionOf(etag: string | null): number {
  const match = /^"(\d+)"$/.exec(etag ?? "");
  if (match === null) throw new Error(`an answer without a version ETag: ${etag}`);
  return Number(match[1]);
}

/**
 * The output to record for a write, or "skip" when it certainly had no effect (refused
 * connection, 503 no-leader or overloaded, a 4xx other than 412); null when unknown.
 */
function writeOutput(
  o: Outcome,
  ok: (status: number) => KvOutput | undefined,
): KvOutput | null | "skip" {
  if (o.kind === "refused") return "skip";
  if (o.kind === "lost") return null;
  const out = ok(o.status);
  if (out !== undefined) return out;
  if (o.problem === "no-leader" || o.problem === "overloaded") return "skip";
  if (o.status >= 400 && o.status < 500) return "skip";
  return null; // outcome-unknown, unavailable, 500: may have been applied
}

/** A shared record of the run: the history, stale reads and counters. */
interface Run {
  history: Operation[];
  staleReads: StaleRead[];
  okCount: number;
  okWrites: number;
  okDuringFaults: number;
  faultActive: boolean;
  stop: boolean;
}

function pickNode(cluster: TestCluster, rng: Rng): TestNode | undefined {
  const up = cluster.nodes.filter((n) => n.proc !== undefined);
  return up.length === 0 ? undefined : rng.pick(up);
}

/** One client operation on a random node; records it in `run`. */
async function clientStep(
  cluster: TestCluster,
  spec: { clientId: number; rng: Rng; seq: number; run: Run; versions: Map<string, number> },
): Promise<void> {
  const { clientId, rng, seq, run, versions } = spec;
  const node = pickNode(cluster, rng);
  if (node === undefined) return;
  const url = node.proc!.url;
  const key = rng.pick(keys);
  const path = `/kv/${key}`;
  const value = `c${clientId}-${seq}`;
  const roll = rng.next();
  const callTime = performance.now();
  let input: KvInput;
  let output: KvOutput | null | "skip";
  if (roll < 0.4) {
    const level = rng.chance(0.35) ? "lease" : rng.chance(0.15) ? "stale" : "linearizable";
    const o = await call(url, { path: `${path}?consistency=${level}` });
    const returnTime = performance.now();
    let got: KvOutput | null = null;
    if (o.kind === "answer" && o.status === 200) {
      got = { kind: "get", value: o.body, version: versionOf(o.etag) };
    } else if (o.kind === "answer" && o.status === 404) {
      got = { kind: "get", value: null, version: 0 };
    }
    if (got === null) return; // a read without an answer had no effect
    if (got.kind === "get" && got.value !== null) versions.set(key, got.version);
    run.okCount++;
    if (run.faultActive) run.okDuringFaults++;
    if (level === "stale") {
      const read = got as KvOutput & { kind: "get" };
      run.staleReads.push({ key, value: read.value, callTime, returnTime });
      return;
    }
    run.history.push({ clientId, input: { kind: "get", key }, output: got, callTime, returnTime });
    return;
  } else if (roll < 0.7) {
    input = { kind: "put", key, value };
    const o = await call(url, { path, method: "PUT", body: value });
    output = writeOutput(
      o,
      (status) =>
        status === 200 || status === 201
          ? { kind: "put", version: versionOf((o as { etag: string | null }).etag) }
          : undefined,
    );
  } else if (roll < 0.92) {
    const expect = versions.get(key) ?? 1;
    input = { kind: "cas", key, value, expectVersion: expect };
    const o = await call(url, {
      path,
      method: "PUT",
      body: value,
      headers: { "if-match": `"${expect}"` },
    });
    output = writeOutput(
      o,
      (status) =>
        status === 200 || status === 201
          ? { kind: "cas", ok: true, version: versionOf((o as { etag: string | null }).etag) }
          : status === 412
          ? { kind: "cas", ok: false }
          : undefined,
    );
  } else {
    input = { kind: "delete", key };
    const o = await call(url, { path, method: "DELETE" });
    output = writeOutput(
      o,
      (status) =>
        status === 204
          ? { kind: "delete", existed: true }
          : status === 404
          ? { kind: "delete", existed: false }
          : undefined,
    );
  }
  const returnTime = performance.now();
  if (output === "skip") return;
  if (output !== null) {
    run.okCount++;
    run.okWrites++;
    if (run.faultActive) run.okDuringFaults++;
    if ((output.kind === "put" || output.kind === "cas") && output.version !== undefined) {
      versions.set(key, output.version);
    }
  }
  run.history.push({ clientId, input, output, callTime, returnTime });
}

async function client(cluster: TestCluster, clientId: number, seed: number, run: Run) {
  const rng = createRng(seed + clientId);
  const versions = new Map<string, number>();
  for (let seq = 0; seq < 100_000 && !run.stop; seq++) {
    await clientStep(cluster, { clientId, rng, seq, run, versions });
    // A short think time keeps the history small enough to check quickly.
    await sleep(5 + rng.int(25));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Faults, one at a time, until the run's deadline: kill -9 and restart, or SIGSTOP/SIGCONT. */
async function nemesis(
  cluster: TestCluster,
  options: { seed: number; run: Run; deadline: number; actions: string[] },
) {
  const { run, deadline, actions } = options;
  const rng = createRng(options.seed ^ 0x5eed);
  for (let i = 0; i < 100 && performance.now() < deadline - 1500; i++) {
    await sleep(700 + rng.int(800));
    const leader = rng.chance(0.5)
      ? await cluster.waitForLeader({ timeoutMs: 2000 }).catch(() => undefined)
      : undefined;
    const target = leader ?? rng.pick(cluster.nodes);
    if (target.proc === undefined) continue;
    run.faultActive = true;
    if (rng.chance(0.5)) {
      actions.push(`kill -9 ${target.id}${leader ? " (leader)" : ""}`);
      await cluster.kill(target.id);
      await sleep(300 + rng.int(1000));
      await cluster.start(target.id);
    } else {
      const pauseMs = electionTimeoutMs + rng.int(electionTimeoutMs);
      actions.push(`pause ${target.id}${leader ? " (leader)" : ""} ${pauseMs} ms`);
      pauseNode(target);
      await sleep(pauseMs);
      resumeNode(target);
    }
    run.faultActive = false;
  }
}

/** After the faults: one linearizable read of each key through a node, to settle unknowns. */
async function finalReads(cluster: TestCluster, run: Run): Promise<void> {
  await cluster.waitForLeader({ timeoutMs: 30_000 });
  for (const key of keys) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const node = cluster.nodes[attempt % cluster.nodes.length];
      const callTime = performance.now();
      const o = await call(node.proc!.url, { path: `/kv/${key}` });
      const returnTime = performance.now();
      if (o.kind !== "answer" || (o.status !== 200 && o.status !== 404)) {
        await sleep(200);
        continue;
      }
      const output: KvOutput = o.status === 200
        ? { kind: "get", value: o.body, version: versionOf(o.etag) }
        : { kind: "get", value: null, version: 0 };
      run.history.push({ clientId: 0, input: { kind: "get", key }, output, callTime, returnTime });
      break;
    }
  }
}

function describeKey(history: Operation[], key: string): string {
  const t0 = Math.min(...history.map((op) => op.callTime));
  return history
    .filter((op) => op.input.key === key)
    .sort((a, b) => a.callTime - b.callTime)
    .map((op) =>
      formatOperation({
        ...op,
        callTime: Math.round(op.callTime - t0),
        returnTime: Math.round(op.returnTime - t0),
      })
    )
    .join("\n");
}

Deno.test({
  name: "a history of concurrent clients under kill -9 and SIGSTOP faults is linearizable",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seedText = Deno.env.get("RINGKV_LIN_SEED");
    const seed = seedText !== undefined ? Number(seedText) : Math.floor(Math.random() * 2 ** 31);
    assert.ok(Number.isSafeInteger(seed), `RINGKV_LIN_SEED must be an integer: ${seedText}`);
    console.log(`linearizability run seed ${seed} (replay with RINGKV_LIN_SEED=${seed})`);
    const cluster = await startCluster(3);
    const run: Run = {
      history: [],
      staleReads: [],
      okCount: 0,
      okWrites: 0,
      okDuringFaults: 0,
      faultActive: false,
      stop: false,
    };
    const actions: string[] = [];
    try {
      await cluster.waitForLeader({ timeoutMs: 30_000 });
      const deadline = performance.now() + runMs;
      const clients = Array.from(
        { length: clientsCount },
        (_, i) => client(cluster, i + 1, seed, run),
      );
      await nemesis(cluster, { seed, run, deadline, actions });
      while (performance.now() < deadline) await sleep(50);
      run.stop = true;
      await Promise.all(clients);
      for (const node of cluster.nodes) if (node.proc === undefined) await cluster.start(node.id);
      await finalReads(cluster, run);
    } finally {
      for (const node of cluster.nodes) if (node.proc !== undefined) resumeNode(node);
      await cluster.close();
    }
    const checkStartMs = performance.now();
    const report = checkHistory(run.history, { stepsMax: checkStepsMax });
    const checkMs = Math.round(performance.now() - checkStartMs);
    const unknown = run.history.filter((op) => op.output === null).length;
    console.log(
      `faults: ${actions.join("; ") || "none"}\n` +
        `${run.history.length} operations (${unknown} with unknown outcome), ` +
        `${run.okCount} answered ok (${run.okDuringFaults} during faults), ` +
        `${run.staleReads.length} stale reads; checked in ${checkMs} ms: ${report.result}`,
    );
    for (const verdict of report.keys.filter((k) => k.result !== "ok")) {
      console.log(
        `key ${verdict.key}: ${verdict.result} after ${verdict.steps} steps; longest legal ` +
          `prefix ${verdict.linearizedMax} of ${verdict.operationCount}; its history ` +
          `(client [call,return] op -> result, ms from the start):\n` +
          describeKey(run.history, verdict.key),
      );
    }
    assert.equal(report.result, "ok", `not linearizable (seed ${seed}); see the history above`);
    const invented = checkStaleReads(run.history, run.staleReads);
    assert.deepEqual(invented, [], `stale reads of values never written (seed ${seed})`);
    assert.ok(actions.length >= 3, `the nemesis acted: ${actions.join("; ")}`);
    assert.ok(run.okWrites >= 100, `progress: ${run.okWrites} writes acknowledged`);
    assert.ok(run.okCount >= 300, `progress: ${run.okCount} operations answered`);
    assert.ok(run.okDuringFaults >= 20, `progress during faults: ${run.okDuringFaults}`);
  },
});
