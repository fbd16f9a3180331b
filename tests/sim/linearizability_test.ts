import assert from "node:assert/strict";
import {
  checkHistory,
  checkKeyHistory,
  checkStaleReads,
  type KvInput,
  type KvOutput,
  type KvState,
  type Operation,
  stepModel,
} from "./linearizability.ts";
import { createRng, type Rng } from "./rng.ts";

/** Builds an operation of client c between times [call, ret] (ret null: unknown outcome). */
function op(
  c: number,
  call: number,
  ret: number | null,
  input: KvInput,
  output: KvOutput | null,
): Operation {
  return {
    clientId: c,
    input,
    output: ret === null ? null : output,
    callTime: call,
    returnTime: ret ?? call,
  };
}
const put = (value: string): KvInput => ({ kind: "put", key: "k", value });
const get: KvInput = { kind: "get", key: "k" };
const del: KvInput = { kind: "delete", key: "k" };
const got = (value: string | null, version = 0): KvOutput => ({ kind: "get", value, version });
const putAt = (version: number): KvOutput => ({ kind: "put", version });

Deno.test("accepts a sequential history of put then get", () => {
  const h = [op(1, 0, 1, put("a"), putAt(5)), op(1, 2, 3, get, got("a", 5))];
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("rejects a read of a value older than a completed write", () => {
  const h = [
    op(1, 0, 1, put("a"), putAt(5)),
    op(1, 2, 3, put("b"), putAt(6)),
    op(2, 4, 5, get, got("a", 5)),
  ];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("accepts either value for a read concurrent with a write", () => {
  const base = op(1, 0, 1, put("a"), putAt(5));
  const w = op(1, 2, 10, put("b"), putAt(6));
  assert.equal(checkHistory([base, w, op(2, 3, 4, get, got("a", 5))]).result, "ok");
  assert.equal(checkHistory([base, w, op(2, 3, 4, get, got("b", 6))]).result, "ok");
});

Deno.test("rejects a read that goes back to the old value after seeing the new one", () => {
  const h = [
    op(1, 0, 1, put("a"), putAt(5)),
    op(1, 2, 20, put("b"), putAt(6)),
    op(2, 3, 4, get, got("b", 6)),
    op(3, 5, 6, get, got("a", 5)),
  ];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("accepts a timed-out write that took effect later", () => {
  const h = [
    op(1, 0, 1, put("a"), putAt(5)),
    op(1, 2, null, put("b"), null),
    op(2, 30, 31, get, got("a", 5)),
    op(2, 40, 41, get, got("b", 9)),
  ];
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("accepts a timed-out write that never took effect", () => {
  const h = [op(1, 2, null, put("b"), null), op(2, 30, 31, get, got(null))];
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("rejects a read of a value written only after the read returned", () => {
  const h = [op(2, 0, 1, get, got("b", 3)), op(1, 2, null, put("b"), null)];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("rejects a lost acknowledged write", () => {
  const h = [op(1, 0, 1, put("a"), putAt(5)), op(2, 2, 3, get, got(null))];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("rejects a write whose version does not grow", () => {
  const h = [op(1, 0, 1, put("a"), putAt(5)), op(1, 2, 3, put("b"), putAt(5))];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("rejects two compare-and-set successes on the same version", () => {
  const cas = (value: string): KvInput => ({ kind: "cas", key: "k", value, expectVersion: 5 });
  const h = [
    op(1, 0, 1, put("a"), putAt(5)),
    op(1, 2, 6, cas("b"), { kind: "cas", ok: true, version: 7 }),
    op(2, 2, 6, cas("c"), { kind: "cas", ok: true, version: 8 }),
  ];
  assert.equal(checkHistory(h).result, "illegal");
  h[2] = op(2, 2, 6, cas("c"), { kind: "cas", ok: false });
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("compare-and-set on value succeeds only when the value matches", () => {
  const cas: KvInput = { kind: "cas", key: "k", value: "b", expectValue: "x" };
  const h = [
    op(1, 0, 1, put("a"), putAt(5)),
    op(1, 2, 3, cas, { kind: "cas", ok: true, version: 6 }),
  ];
  assert.equal(checkHistory(h).result, "illegal");
  h[1] = op(1, 2, 3, cas, { kind: "cas", ok: false });
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("create-only succeeds once and fails while the key exists", () => {
  const create = (value: string): KvInput => ({ kind: "create", key: "k", value });
  const okAt = (version: number): KvOutput => ({ kind: "create", ok: true, version });
  const h = [op(1, 0, 5, create("a"), okAt(3)), op(2, 0, 5, create("b"), okAt(4))];
  assert.equal(checkHistory(h).result, "illegal");
  h.push(op(1, 6, 7, del, { kind: "delete", existed: true }));
  h.push(op(1, 8, 9, create("c"), okAt(9)));
  h[1] = op(2, 0, 5, create("b"), { kind: "create", ok: false });
  assert.equal(checkHistory(h).result, "ok");
});

Deno.test("rejects a delete that reports a key missing when it exists", () => {
  const h = [op(1, 0, 1, put("a"), putAt(5)), op(1, 2, 3, del, { kind: "delete", existed: false })];
  assert.equal(checkHistory(h).result, "illegal");
});

Deno.test("checks keys independently", () => {
  const h = [
    op(1, 0, 1, { kind: "put", key: "x", value: "a" }, putAt(5)),
    op(1, 2, 3, { kind: "get", key: "y" }, got(null)),
    op(1, 4, 5, { kind: "get", key: "x" }, got(null)),
  ];
  const report = checkHistory(h);
  assert.equal(report.result, "illegal");
  assert.deepEqual(report.keys.map((k) => [k.key, k.result]), [["x", "illegal"], ["y", "ok"]]);
});

Deno.test("reports unknown when the step budget runs out", () => {
  // Many concurrent writes and a read of none of them: the search must explore widely.
  const h: Operation[] = [];
  for (let i = 0; i < 14; i++) h.push(op(i, 0, 100, put(`v${i}`), putAt(i + 1)));
  h.push(op(99, 101, 102, get, got("nobody", 1)));
  assert.equal(checkKeyHistory("k", h, { stepsMax: 500 }).result, "unknown");
  assert.equal(checkKeyHistory("k", h).result, "illegal");
});

Deno.test("stale reads pass when the value was written before they returned", () => {
  const h = [op(1, 10, 11, put("a"), putAt(5))];
  const early = { key: "k", value: "a", callTime: 0, returnTime: 5 };
  const late = { key: "k", value: "a", callTime: 0, returnTime: 12 };
  const empty = { key: "k", value: null, callTime: 20, returnTime: 21 };
  assert.deepEqual(checkStaleReads(h, [early, late, empty]), [early]);
});

// ---- random histories against a brute-force checker ----

/** Tries every real-time-respecting order of the operations; unknown ones may be left out. */
function bruteForce(ops: Operation[]): boolean {
  const done = new Array(ops.length).fill(false);
  const before = (a: Operation, b: Operation) => a.output !== null && a.returnTime < b.callTime;
  const search = (state: KvState, count: number): boolean => {
    const pendingKnown = ops.some((o, i) => !done[i] && o.output !== null);
    if (!pendingKnown) return true;
    for (let i = 0; i < ops.length; i++) {
      if (done[i]) continue;
      if (ops.some((o, j) => !done[j] && j !== i && before(o, ops[i]))) continue;
      for (const next of stepModel(state, ops[i].input, ops[i].output)) {
        done[i] = true;
        const ok = search(next, count + 1);
        done[i] = false;
        if (ok) return true;
      }
    }
    return false;
  };
  return search({ value: null, version: 0 }, 0);
}

function randomInput(rng: Rng, serial: number, versions: number[]): KvInput {
  const key = "k";
  const value = `v${serial}`;
  switch (rng.int(6)) {
    case 0:
    case 1:
      return { kind: "get", key };
    case 2:
      return { kind: "put", key, value };
    case 3:
      return { kind: "delete", key };
    case 4:
      return rng.int(2) === 0 && versions.length > 0
        ? { kind: "cas", key, value, expectVersion: versions[rng.int(versions.length)] }
        : { kind: "cas", key, value, expectValue: `v${rng.int(serial + 1)}` };
    default:
      return { kind: "create", key, value };
  }
}

/** Runs ops against a real register at random points inside their intervals, then mutates. */
function randomHistory(rng: Rng, size: number): Operation[] {
  const ops: Operation[] = [];
  const versions: number[] = [];
  for (let i = 0; i < size; i++) {
    const call = rng.int(20);
    const ret = call + 1 + rng.int(8);
    ops.push({
      clientId: i,
      input: randomInput(rng, i, versions),
      output: null,
      callTime: call,
      returnTime: ret,
    });
    versions.push(i + 1);
  }
  const points = ops.map((o, i) => ({
    i,
    at: o.callTime + rng.next() * (o.returnTime - o.callTime),
  }));
  points.sort((a, b) => a.at - b.at);
  let state: KvState = { value: null, version: 0 };
  let version = 0;
  for (const { i } of points) {
    const o = ops[i];
    const output = realOutput(state, o.input, ++version);
    o.output = output.out;
    state = output.next;
  }
  for (const o of ops) {
    if (o.input.kind !== "get" && rng.int(6) === 0) o.output = null; // timed out
    if (o.output !== null && rng.int(5) === 0) o.output = mutate(rng, o.output);
  }
  return ops;
}

function realOutput(s: KvState, input: KvInput, version: number): { out: KvOutput; next: KvState } {
  switch (input.kind) {
    case "get":
      return { out: { kind: "get", value: s.value, version: s.version }, next: s };
    case "put":
      return { out: { kind: "put", version }, next: { value: input.value, version } };
    case "delete":
      return {
        out: { kind: "delete", existed: s.value !== null },
        next: { value: null, version: 0 },
      };
    case "cas": {
      const ok = s.value !== null &&
        (input.expectVersion !== undefined
          ? s.version === input.expectVersion
          : s.value === input.expectValue);
      return ok
        ? { out: { kind: "cas", ok, version }, next: { value: input.value, version } }
        : { out: { kind: "cas", ok }, next: s };
    }
    case "create":
      return s.value === null
        ? { out: { kind: "create", ok: true, version }, next: { value: input.value, version } }
        : { out: { kind: "create", ok: false }, next: s };
  }
}

function mutate(rng: Rng, out: KvOutput): KvOutput {
  switch (out.kind) {
    case "get":
      return rng.int(2) === 0
        ? { kind: "get", value: null, version: 0 }
        : { kind: "get", value: `v${rng.int(8)}`, version: out.version || 1 + rng.int(8) };
    case "put":
      return { kind: "put", version: 1 + rng.int(8) };
    case "delete":
      return { kind: "delete", existed: !out.existed };
    case "cas":
    case "create":
      return out.ok
        ? { kind: out.kind, ok: false }
        : { kind: out.kind, ok: true, version: 1 + rng.int(8) };
  }
}

Deno.test("agrees with brute force on random small histories", () => {
  const seed = Number(Deno.env.get("LIN_SEED") ?? 20261124);
  console.log(`linearizability random histories: seed ${seed} (set LIN_SEED to replay)`);
  const rng = createRng(seed);
  const counts = { ok: 0, illegal: 0 };
  for (let round = 0; round < 3000; round++) {
    const h = randomHistory(rng, 1 + rng.int(6));
    const fast = checkKeyHistory("k", h).result;
    const slow = bruteForce(h) ? "ok" : "illegal";
    assert.equal(fast, slow, `round ${round} disagrees:\n${JSON.stringify(h)}`);
    counts[slow]++;
  }
  // Both outcomes must be well represented or the comparison proves little.
  assert.ok(counts.ok > 500 && counts.illegal > 500, JSON.stringify(counts));
});
