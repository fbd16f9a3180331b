import assert from "node:assert/strict";
import { EventQueue } from "./event_queue.ts";
import { SimNetwork } from "./network.ts";
import { createRng } from "./rng.ts";
import { decodeCommand, encodeCommand, KvStateMachine } from "./kv_state_machine.ts";
import { SafetyMonitor } from "./invariants.ts";
import { type Entry, MemoryStorage } from "../../src/raft/mod.ts";

Deno.test("event queue pops earliest first and equal times in insertion order", () => {
  const q = new EventQueue<string>();
  q.push(5, "c");
  q.push(1, "a");
  q.push(5, "d");
  q.push(3, "b");
  const out: string[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.payload);
  assert.deepEqual(out, ["a", "b", "c", "d"]);
});

Deno.test("event queue refuses events past its size limit", () => {
  const q = new EventQueue<number>(2);
  q.push(1, 1);
  q.push(2, 2);
  assert.throws(() => q.push(3, 3), /full/);
});

Deno.test("rng repeats its sequence for the same seed and stays in range", () => {
  const a = createRng(42);
  const b = createRng(42);
  for (let i = 0; i < 1000; i++) {
    const x = a.int(7);
    assert.equal(x, b.int(7));
    assert.ok(x >= 0 && x < 7);
  }
  assert.notEqual(createRng(1).u32(), createRng(2).u32());
});

Deno.test("network drops everything on a cut link and only in that direction", () => {
  const net = new SimNetwork(createRng(1), {
    dropRate: 0,
    duplicateRate: 0,
    delayMinMs: 2,
    delayMaxMs: 4,
    slowRate: 0,
    slowDelayMaxMs: 4,
  });
  net.partition(["n1"], ["n2"], { oneWay: true });
  assert.deepEqual(net.route("n1", "n2"), []);
  const back = net.route("n2", "n1");
  assert.equal(back.length, 1);
  assert.ok(back[0] >= 2 && back[0] <= 4);
  net.heal();
  assert.equal(net.route("n1", "n2").length, 1);
});

Deno.test("network duplicates and drops at the configured rates", () => {
  const net = new SimNetwork(createRng(9), {
    dropRate: 0.5,
    duplicateRate: 1,
    delayMinMs: 1,
    delayMaxMs: 1,
    slowRate: 0,
    slowDelayMaxMs: 1,
  });
  let lost = 0;
  for (let i = 0; i < 1000; i++) {
    const copies = net.route("a", "b").length;
    if (copies === 0) lost++;
    else assert.equal(copies, 2);
  }
  assert.ok(lost > 400 && lost < 600, `lost ${lost}`);
});

Deno.test("state machine versions writes by index and honours conditions", () => {
  const sm = new KvStateMachine();
  assert.deepEqual(sm.apply(1, { id: 1, kind: "put", key: "k", value: "a" }), {
    kind: "put",
    version: 1,
  });
  assert.deepEqual(sm.apply(2, { id: 2, kind: "create", key: "k", value: "b" }), {
    kind: "create",
    ok: false,
  });
  assert.deepEqual(
    sm.apply(3, { id: 3, kind: "cas", key: "k", value: "c", expectVersion: 1 }),
    { kind: "cas", ok: true, version: 3 },
  );
  assert.deepEqual(
    sm.apply(4, { id: 4, kind: "cas", key: "k", value: "d", expectValue: "a" }),
    { kind: "cas", ok: false },
  );
  assert.deepEqual(sm.apply(5, { id: 5, kind: "delete", key: "k" }), {
    kind: "delete",
    existed: true,
  });
  assert.equal(sm.get("k"), undefined);
  assert.throws(() => sm.apply(7, { id: 6, kind: "delete", key: "k" }), /gap/);
});

Deno.test("state machine snapshot restores the same map", () => {
  const sm = new KvStateMachine();
  sm.apply(1, { id: 1, kind: "put", key: "x", value: "1" });
  sm.apply(2, { id: 2, kind: "put", key: "y", value: "2" });
  const copy = KvStateMachine.restore(sm.snapshot(), 2);
  assert.deepEqual(copy.get("x"), { value: "1", version: 1 });
  assert.deepEqual(copy.get("y"), { value: "2", version: 2 });
  assert.equal(copy.applied, 2);
  const c = { id: 9, kind: "put" as const, key: "z", value: "v" };
  assert.deepEqual(decodeCommand(encodeCommand(c)), c);
});

function entry(index: number, term: number, data = `e${index}.${term}`): Entry {
  return { index, term, type: "normal", data: new TextEncoder().encode(data) };
}

Deno.test("monitor reports two leaders in one term", () => {
  const m = new SafetyMonitor(() => 0);
  const storage = new MemoryStorage();
  m.onLeader(3, { nodeId: "n1", storage, pending: [] });
  m.onLeader(3, { nodeId: "n1", storage, pending: [] });
  assert.equal(m.violations.length, 0);
  m.onLeader(3, { nodeId: "n2", storage, pending: [] });
  assert.equal(m.violations[0].property, "election-safety");
});

Deno.test("monitor reports different entries applied at one index", () => {
  const m = new SafetyMonitor(() => 0);
  m.onApply("n1", entry(1, 1));
  m.onApply("n2", entry(1, 1));
  assert.equal(m.violations.length, 0);
  m.onApply("n3", entry(1, 2));
  assert.equal(m.violations[0].property, "state-machine-safety");
});

Deno.test("monitor reports a leader missing an applied entry", () => {
  const m = new SafetyMonitor(() => 0);
  m.onApply("n1", entry(1, 1));
  const storage = new MemoryStorage();
  storage.append([entry(1, 2)]);
  m.onLeader(3, { nodeId: "n2", storage, pending: [] });
  assert.equal(m.violations[0].property, "leader-completeness");
});

Deno.test("monitor reports logs that agree on a term but differ below it", () => {
  const m = new SafetyMonitor(() => 0);
  const a = new MemoryStorage();
  const b = new MemoryStorage();
  a.append([entry(1, 1), entry(2, 2)]);
  b.append([entry(1, 1, "other"), entry(2, 2)]);
  m.checkLogMatching([
    { nodeId: "a", storage: a, pending: [] },
    { nodeId: "b", storage: b, pending: [] },
  ]);
  assert.equal(m.violations[0]?.property, "log-matching");
  const ok = new SafetyMonitor(() => 0);
  const c = new MemoryStorage();
  c.append([entry(1, 1), entry(2, 3)]);
  ok.checkLogMatching([
    { nodeId: "a", storage: a, pending: [] },
    { nodeId: "c", storage: c, pending: [] },
  ]);
  assert.equal(ok.violations.length, 0);
});
