import assert from "node:assert/strict";
import { FaultInjector, FaultSpecError, parseFaultSpec } from "../../src/transport/mod.ts";
import { closeAll, startCluster, testSeed, waitFor } from "./helpers.ts";

function withFaults(seed?: number) {
  return () => ({ faults: new FaultInjector({ enabled: true, seed }) });
}

Deno.test("a disabled injector refuses configuration and injects nothing", () => {
  const faults = new FaultInjector();
  assert.equal(faults.enabled, false);
  assert.throws(() => faults.configure({ cut: ["n2"] }), /disabled/);
  assert.deepEqual(faults.outbound("n2"), { drop: false, delayMs: 0 });
});

Deno.test("parseFaultSpec rejects bad probabilities, delays and unknown fields", () => {
  assert.throws(() => parseFaultSpec({ drop: { n2: 1.5 } }), FaultSpecError);
  assert.throws(() => parseFaultSpec({ delayMs: { n2: -1 } }), FaultSpecError);
  assert.throws(() => parseFaultSpec({ delayMs: { n2: 600_000 } }), FaultSpecError);
  assert.throws(() => parseFaultSpec({ cut: "n2" }), FaultSpecError);
  assert.throws(() => parseFaultSpec({ partition: [] }), FaultSpecError);
  assert.throws(() => parseFaultSpec(null), FaultSpecError);
  assert.throws(() => parseFaultSpec({ cutTo: [1] }), FaultSpecError);
  assert.throws(() => parseFaultSpec({ cutFrom: "n2" }), FaultSpecError);
});

Deno.test("parseFaultSpec accepts fsyncDelayMs only as an integer in 0..10000", () => {
  assert.equal(parseFaultSpec({ fsyncDelayMs: 0 }).fsyncDelayMs, 0);
  assert.equal(parseFaultSpec({ fsyncDelayMs: 10_000 }).fsyncDelayMs, 10_000);
  for (const bad of [-1, 10_001, 1.5, "100", null, Infinity]) {
    assert.throws(() => parseFaultSpec({ fsyncDelayMs: bad }), /fsyncDelayMs must be an integer/);
  }
});

Deno.test("spec() returns the configuration in the JSON shape configure() takes", () => {
  const faults = new FaultInjector({ enabled: true });
  const spec = {
    drop: { n2: 0.25 },
    delayMs: { n3: 50 },
    cut: ["n4"],
    cutTo: ["n5"],
    cutFrom: ["n6"],
    fsyncDelayMs: 20,
  };
  faults.configure(JSON.parse(JSON.stringify(spec)));
  assert.deepEqual(faults.spec(), spec);
  assert.equal(faults.active, true);
  faults.reset();
  assert.deepEqual(faults.spec(), {
    drop: {},
    delayMs: {},
    cut: [],
    cutTo: [],
    cutFrom: [],
    fsyncDelayMs: 0,
  });
  assert.equal(faults.active, false);
});

Deno.test("beforeSync waits fsyncDelayMs when set and is undefined otherwise", async () => {
  const faults = new FaultInjector({ enabled: true });
  assert.equal(faults.beforeSync(), undefined, "no delay configured: nothing to await");
  faults.configure({ fsyncDelayMs: 60 });
  const started = performance.now();
  await faults.beforeSync();
  assert.ok(performance.now() - started >= 55, "the hook waited about fsyncDelayMs");
  faults.reset();
  assert.equal(faults.beforeSync(), undefined, "reset removes the delay");
  assert.equal(new FaultInjector().beforeSync(), undefined, "a disabled injector never delays");
});

Deno.test("drop decisions repeat for the same seed", () => {
  const seed = testSeed("drop decisions");
  const run = () => {
    const faults = new FaultInjector({ enabled: true, seed });
    faults.configure({ drop: { n2: 0.5 } });
    return Array.from({ length: 200 }, () => faults.outbound("n2").drop);
  };
  const first = run();
  assert.deepEqual(run(), first);
  const dropped = first.filter(Boolean).length;
  assert.ok(dropped > 60 && dropped < 140, `about half dropped, got ${dropped}`);
});

Deno.test("cut stops traffic both ways with that peer until healed", async () => {
  const nodes = await startCluster(["n1", "n2", "n3"], withFaults());
  const [n1, n2, n3] = nodes;
  try {
    n1.transport.faults.configure({ cut: ["n2"] });
    n1.transport.send("n2", { groupId: 0, message: "lost out" });
    n2.transport.send("n1", { groupId: 0, message: "lost in" });
    n1.transport.send("n3", { groupId: 0, message: "to n3" });
    n2.transport.send("n3", { groupId: 0, message: "n2 to n3" });
    await waitFor(() => n3.received.length === 2, "traffic not involving the cut");
    // n2's message reached n1's socket and was dropped there.
    await waitFor(() => n1.transport.stats().peers.n2.faultDrops === 2, "both drops counted");
    assert.equal(n1.received.length, 0);
    assert.equal(n2.received.length, 0);
    n1.transport.faults.reset();
    n1.transport.send("n2", { groupId: 0, message: "healed out" });
    n2.transport.send("n1", { groupId: 0, message: "healed in" });
    await waitFor(() => n1.received.length === 1 && n2.received.length === 1, "healed traffic");
    assert.equal(n1.received[0].envelope.message, "healed in");
    assert.equal(n2.received[0].envelope.message, "healed out");
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("cutTo drops only this node's messages to the peer, cutFrom only the peer's", async () => {
  const nodes = await startCluster(["n1", "n2"], withFaults());
  const [n1, n2] = nodes;
  try {
    n1.transport.faults.configure({ cutTo: ["n2"] });
    n1.transport.send("n2", { groupId: 0, message: "n1 out, dropped" });
    n2.transport.send("n1", { groupId: 0, message: "n2 out, delivered" });
    await waitFor(() => n1.received.length === 1, "the other direction still flows");
    assert.equal(n1.received[0].envelope.message, "n2 out, delivered");
    assert.equal(n1.transport.stats().peers.n2.faultDrops, 1);
    n1.transport.faults.configure({ cutFrom: ["n2"] });
    n2.transport.send("n1", { groupId: 0, message: "n2 out, dropped on arrival" });
    n1.transport.send("n2", { groupId: 0, message: "n1 out, delivered" });
    await waitFor(() => n2.received.length === 1, "n1's messages flow again");
    assert.equal(n2.received[0].envelope.message, "n1 out, delivered");
    await waitFor(() => n1.transport.stats().peers.n2.faultDrops === 2, "the inbound drop");
    assert.equal(n1.received.length, 1, "nothing more reached n1");
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("drop with probability 1 drops everything, 0.5 about half", async () => {
  const seed = testSeed("drop over a connection");
  const nodes = await startCluster(["n1", "n2"], withFaults(seed));
  const [n1, n2] = nodes;
  try {
    n1.transport.faults.configure({ drop: { n2: 1.0 } });
    for (let i = 0; i < 100; i++) n1.transport.send("n2", { groupId: 0, message: i });
    assert.equal(n1.transport.stats().peers.n2.faultDrops, 100);
    n1.transport.faults.configure({ drop: { n2: 0.5 } });
    for (let i = 0; i < 400; i++) n1.transport.send("n2", { groupId: 0, message: i });
    const dropped = n1.transport.stats().peers.n2.faultDrops - 100;
    assert.ok(dropped > 140 && dropped < 260, `about half of 400 dropped, got ${dropped}`);
    await waitFor(() => n2.received.length === 400 - dropped, "the survivors");
    const seqs = n2.received.map((r) => r.envelope.message as number);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "survivors keep their order");
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("delay holds messages to a peer for delayMs, in order", async () => {
  const nodes = await startCluster(["n1", "n2"], withFaults());
  const [n1, n2] = nodes;
  try {
    n1.transport.faults.configure({ delayMs: { n2: 150 } });
    const started = performance.now();
    for (let i = 0; i < 20; i++) n1.transport.send("n2", { groupId: 0, message: i });
    await waitFor(() => n2.received.length === 20, "delayed messages");
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= 145, `took ${elapsedMs} ms`);
    assert.deepEqual(
      n2.received.map((r) => r.envelope.message),
      Array.from({ length: 20 }, (_, i) => i),
    );
    n1.transport.faults.reset();
    const healed = performance.now();
    n1.transport.send("n2", { groupId: 0, message: "fast" });
    await waitFor(() => n2.received.length === 21, "undelayed message");
    assert.ok(performance.now() - healed < 145);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("close cancels messages still held by a delay", async () => {
  const nodes = await startCluster(["n1", "n2"], withFaults());
  const [n1] = nodes;
  n1.transport.faults.configure({ delayMs: { n2: 10_000 } });
  n1.transport.send("n2", { groupId: 0, message: "never" });
  // The test sanitizer fails this test if close leaves the delay timer running.
  await closeAll(nodes);
  assert.equal(nodes[1].received.length, 0);
});

Deno.test("a message sent after the delay is lifted does not overtake delayed ones", async () => {
  const nodes = await startCluster(["n1", "n2"], withFaults());
  const [n1, n2] = nodes;
  try {
    n1.transport.faults.configure({ delayMs: { n2: 100 } });
    n1.transport.send("n2", { groupId: 0, message: "a" });
    n1.transport.send("n2", { groupId: 0, message: "b" });
    n1.transport.faults.reset();
    n1.transport.send("n2", { groupId: 0, message: "c" });
    await waitFor(() => n2.received.length === 3, "all three");
    assert.deepEqual(n2.received.map((r) => r.envelope.message), ["a", "b", "c"]);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("the delay line is bounded like the queue, dropping its oldest", async () => {
  const nodes = await startCluster(["n1", "n2"], (id) => ({
    ...withFaults()(),
    queueEnvelopesMax: id === "n1" ? 5 : 8192,
  }));
  const [n1, n2] = nodes;
  try {
    n1.transport.faults.configure({ delayMs: { n2: 50 } });
    for (let i = 0; i < 12; i++) n1.transport.send("n2", { groupId: 0, message: i });
    assert.equal(n1.transport.stats().peers.n2.queueDrops, 7);
    await waitFor(() => n2.received.length === 5, "the newest five");
    assert.deepEqual(n2.received.map((r) => r.envelope.message), [7, 8, 9, 10, 11]);
  } finally {
    await closeAll(nodes);
  }
});
