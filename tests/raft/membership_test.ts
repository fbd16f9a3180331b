import assert from "node:assert/strict";
import { NotLeaderError, ProposalDroppedError } from "../../src/raft/mod.ts";
import { bytes, Network } from "./network.ts";

const ids = ["n1", "n2", "n3"];

Deno.test("a joining learner catches up, does not count toward quorum, then is promoted", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.propose("n1", "a");
  net.addJoiner("n4");
  net.node("n1").proposeConfChange({ type: "add-learner", nodeId: "n4" });
  net.settle();
  net.tick(2);
  assert.deepEqual(net.node("n4").status().conf, { voters: ids, learners: ["n4"] });
  assert.deepEqual(net.get("n4").applied, ["a"]);
  // A learner never campaigns.
  net.tick(50, ["n4"]);
  assert.equal(net.node("n4").status().role, "follower");
  // With n2 and n3 cut off, n1 + learner n4 are no quorum: nothing commits.
  net.isolate("n2");
  net.isolate("n3");
  const commit = net.node("n1").status().commit;
  net.propose("n1", "b");
  assert.equal(net.node("n1").status().commit, commit);
  assert.equal(net.node("n1").status().progress?.n4.match, commit + 1);
  net.heal();
  net.tick(2);
  net.node("n1").proposeConfChange({ type: "add-voter", nodeId: "n4" });
  net.settle();
  net.tick(2);
  for (const id of [...ids, "n4"]) {
    assert.deepEqual(net.node(id).status().conf, { voters: [...ids, "n4"], learners: [] });
  }
});

Deno.test("a second membership change is refused while one is pending", () => {
  const net = new Network(ids, { config: { checkQuorum: false } });
  net.campaign("n1");
  net.isolate("n1");
  net.node("n1").proposeConfChange({ type: "add-learner", nodeId: "n4" });
  assert.throws(
    () => net.node("n1").proposeConfChange({ type: "add-learner", nodeId: "n5" }),
    (e) => e instanceof ProposalDroppedError && e.reason === "conf-change-pending",
  );
});

Deno.test("a removed leader steps down and the rest elect a leader among themselves", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.node("n1").proposeConfChange({ type: "remove-node", nodeId: "n1" });
  net.settle();
  assert.equal(net.node("n1").status().role, "follower");
  assert.deepEqual(net.node("n1").status().conf.voters, ["n2", "n3"]);
  for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tick(1);
  const [leader] = net.leaders();
  assert.ok(leader === "n2" || leader === "n3");
  net.propose(leader, "x");
  assert.deepEqual(net.get("n2").applied, ["x"]);
  net.tick(50, ["n1"]);
  assert.equal(net.node("n1").status().role, "follower", "a removed node never campaigns");
});

Deno.test("removing a follower shrinks the quorum", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.node("n1").proposeConfChange({ type: "remove-node", nodeId: "n3" });
  net.settle();
  net.isolate("n3");
  net.propose("n1", "x");
  assert.deepEqual(net.get("n2").applied, ["x"]);
});

Deno.test("leadership transfer hands over to a caught-up voter with TimeoutNow", () => {
  const net = new Network(ids);
  net.campaign("n1");
  const term = net.node("n1").status().term;
  net.node("n1").transferLeadership("n2");
  net.settle();
  assert.deepEqual(net.leaders(), ["n2"]);
  assert.equal(net.node("n2").status().term, term + 1);
  assert.ok(net.delivered.some((m) => m.type === "timeout-now" && m.to === "n2"));
  net.propose("n2", "x");
  assert.deepEqual(net.get("n1").applied, ["x"]);
});

Deno.test("leadership transfer to a lagging voter first catches it up", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.isolate("n3");
  for (let i = 0; i < 10; i++) net.propose("n1", `v${i}`);
  net.heal();
  net.node("n1").transferLeadership("n3");
  assert.throws(
    () => net.node("n1").propose(bytes("x")),
    (e) => e instanceof ProposalDroppedError && e.reason === "transfer-in-progress",
  );
  net.settle();
  assert.deepEqual(net.leaders(), ["n3"]);
  assert.equal(net.get("n3").applied.length, 10);
});

Deno.test("a leadership transfer to an unreachable voter is abandoned after an election timeout", () => {
  const net = new Network(ids, { config: { electionTicks: 10 } });
  net.campaign("n1");
  net.isolate("n3");
  net.propose("n1", "a");
  net.node("n1").transferLeadership("n3");
  net.tick(11, ["n1", "n2"]);
  assert.equal(net.node("n1").status().leadTransferee, null);
  net.propose("n1", "b");
  assert.deepEqual(net.get("n2").applied, ["a", "b"]);
});

Deno.test("transferLeadership off the leader throws NotLeaderError", () => {
  const net = new Network(ids);
  net.campaign("n1");
  assert.throws(
    () => net.node("n2").transferLeadership("n3"),
    (e) => e instanceof NotLeaderError && e.leader === "n1",
  );
});

Deno.test("a node joining after the log was compacted starts from a snapshot with the membership", () => {
  const net = new Network(ids, { config: { snapshotChunkBytes: 32 } });
  net.campaign("n1");
  for (let i = 0; i < 20; i++) net.propose("n1", `v${i}`);
  for (const id of ids) net.compact(id);
  net.addJoiner("n4");
  net.node("n1").proposeConfChange({ type: "add-learner", nodeId: "n4" });
  net.settle();
  net.tick(3);
  const n4 = net.get("n4");
  assert.ok(n4.storage.snapshot().metadata.index > 0, "caught up from a snapshot");
  assert.deepEqual(n4.applied, net.get("n1").applied);
  assert.deepEqual(net.node("n4").status().conf, { voters: ids, learners: ["n4"] });
  net.propose("n1", "later");
  assert.equal(n4.applied.at(-1), "later");
});
