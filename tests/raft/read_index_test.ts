import assert from "node:assert/strict";
import { NotLeaderError } from "../../src/raft/mod.ts";
import { bytes, Network, text } from "./network.ts";

const ids = ["n1", "n2", "n3"];

Deno.test("a ReadIndex is released only after a heartbeat quorum confirms leadership", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.propose("n1", "a");
  const n1 = net.node("n1");
  n1.readIndex(bytes("r1"));
  const rd = n1.ready();
  assert.equal(rd.readStates.length, 0, "not yet confirmed");
  assert.ok(rd.messages.some((m) => m.type === "heartbeat" && m.readSeq > 0));
  net.get("n1").storage.append(rd.entries);
  net.queue.push(...rd.messages);
  n1.advance(rd);
  net.settle();
  const states = net.get("n1").readStates;
  assert.equal(states.length, 1);
  assert.equal(text(states[0].requestCtx), "r1");
  assert.equal(states[0].index, n1.status().commit);
});

Deno.test("reads issued between two Readies share one heartbeat round", () => {
  const net = new Network(ids);
  net.campaign("n1");
  const before = net.delivered.length;
  for (let i = 0; i < 100; i++) net.node("n1").readIndex(bytes(`r${i}`));
  net.settle();
  const heartbeats = net.delivered.slice(before).filter((m) => m.type === "heartbeat");
  assert.equal(heartbeats.length, 2, "one heartbeat per follower");
  assert.deepEqual(
    net.get("n1").readStates.map((r) => text(r.requestCtx)),
    [...Array(100).keys()].map((i) => `r${i}`),
  );
});

Deno.test("a ReadIndex on a follower is refused with the leader's id", () => {
  const net = new Network(ids);
  net.campaign("n1");
  assert.throws(
    () => net.node("n3").readIndex(bytes("r")),
    (e) => e instanceof NotLeaderError && e.leader === "n1",
  );
});

Deno.test("a deposed leader cut off from the quorum never confirms a read", () => {
  const net = new Network(ids, { config: { checkQuorum: false } });
  net.campaign("n1");
  net.isolate("n1");
  net.campaign("n2");
  net.propose("n2", "new");
  net.node("n1").readIndex(bytes("stale?"));
  net.tick(5, ["n1"]);
  assert.equal(net.node("n1").status().role, "leader", "n1 still believes it leads");
  assert.equal(net.get("n1").readStates.length, 0);
});

Deno.test("the readIndexWithoutQuorum knob lets a deposed leader serve a stale read", () => {
  const net = new Network(ids, {
    config: { checkQuorum: false, knobs: { readIndexWithoutQuorum: true } },
  });
  net.campaign("n1");
  net.isolate("n1");
  net.campaign("n2");
  net.propose("n2", "new");
  net.node("n1").readIndex(bytes("stale"));
  net.settle();
  const [state] = net.get("n1").readStates;
  assert.ok(state !== undefined);
  assert.ok(state.index < net.node("n2").status().commit, "the read point misses n2's write");
});

Deno.test("after a leader change a read on the new leader covers the write committed before it", () => {
  const net = new Network(ids, { config: { checkQuorum: false } });
  net.campaign("n1");
  net.propose("n1", "a");
  net.isolate("n1");
  net.campaign("n2");
  net.propose("n2", "b");
  const commit = net.node("n2").status().commit;
  net.node("n2").readIndex(bytes("r"));
  net.settle();
  const [state] = net.get("n2").readStates;
  assert.equal(state.index, commit);
  assert.ok(net.get("n2").appliedIndex >= state.index);
  assert.deepEqual(net.get("n2").applied, ["a", "b"]);
});

Deno.test("a new leader defers reads until its no-op of the current term is committed", () => {
  const net = new Network(ids, { config: { preVote: false, checkQuorum: false } });
  net.campaign("n1");
  net.addFilter((m) => m.type !== "append-resp"); // no-op acks are lost
  net.node("n2").campaign();
  net.settle();
  const n2 = net.node("n2");
  assert.equal(n2.status().role, "leader");
  n2.readIndex(bytes("r"));
  net.tick(2, ["n2"]);
  assert.equal(net.get("n2").readStates.length, 0);
  net.heal();
  net.tick(2, ["n2"]);
  assert.equal(net.get("n2").readStates.length, 1);
  assert.equal(net.get("n2").readStates[0].index, n2.status().commit);
});

Deno.test("lease-based reads are served at once by a leader with check-quorum", () => {
  const net = new Network(ids, { config: { readOnlyOption: "lease-based", checkQuorum: true } });
  net.campaign("n1");
  const n1 = net.node("n1");
  n1.readIndex(bytes("r"));
  const rd = n1.ready();
  assert.equal(rd.readStates.length, 1);
  assert.ok(!rd.messages.some((m) => m.type === "heartbeat"));
  n1.advance(rd);
});

Deno.test("a lease-based read falls back to a heartbeat round when the quorum went silent", () => {
  const net = new Network(ids, {
    config: { readOnlyOption: "lease-based", checkQuorum: true, electionTicks: 10 },
  });
  net.campaign("n1");
  net.tick(9, ["n1"]);
  net.isolate("n1");
  net.tick(1, ["n1"]); // the check-quorum round passes on old answers, then nothing comes back
  const n1 = net.node("n1");
  assert.equal(n1.status().role, "leader");
  n1.readIndex(bytes("r"));
  net.settle();
  assert.equal(net.get("n1").readStates.length, 0, "no lease without a recent quorum");
  net.heal();
  net.tick(1, ["n1"]);
  assert.equal(net.get("n1").readStates.length, 1, "confirmed by the next heartbeat round");
});
