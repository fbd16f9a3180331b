import assert from "node:assert/strict";
import { createRaftNode, MemoryStorage } from "../../src/raft/mod.ts";
import { Network } from "./network.ts";

const ids = ["n1", "n2", "n3"];

Deno.test("a single voter elects itself and commits its no-op", () => {
  const net = new Network(["n1"]);
  net.campaign("n1");
  const s = net.node("n1").status();
  assert.equal(s.role, "leader");
  assert.equal(s.term, 2);
  assert.equal(s.commit, 2); // bootstrap entry 1 + the leader's no-op
});

Deno.test("the first node to time out wins the election and every node follows it", () => {
  const net = new Network(ids, { config: { electionTicks: 10 } });
  net.tick(25, ["n2"]); // only n2's clock runs: it times out first
  assert.deepEqual(net.leaders(), ["n2"]);
  for (const id of ids) {
    const s = net.node(id).status();
    assert.equal(s.term, 2);
    assert.equal(s.leader, "n2");
    assert.equal(s.commit, 4); // three bootstrap entries and the no-op of term 2
  }
});

Deno.test("a voter grants at most one vote per term", () => {
  const net = new Network(ids, { config: { preVote: false } });
  net.campaign("n1");
  const votes = net.delivered.filter((m) => m.type === "vote-resp" && !m.reject && m.term === 2);
  const voters = votes.map((m) => m.from);
  assert.equal(new Set(voters).size, voters.length);
  assert.deepEqual(net.leaders(), ["n1"]);
});

Deno.test("a split vote elects no one and a later term elects one leader", () => {
  const net = new Network(["n1", "n2", "n3", "n4"], { config: { preVote: false } });
  // n3 hears only n1, n4 hears only n2: each candidate gets 2 of 4 votes, short of 3.
  net.partition(["n1"], ["n2", "n4"]);
  net.partition(["n2"], ["n3"]);
  net.node("n1").campaign();
  net.node("n2").campaign();
  net.settle();
  assert.deepEqual(net.leaders(), []);
  assert.equal(net.node("n1").status().role, "candidate");
  assert.equal(net.node("n2").status().role, "candidate");
  assert.equal(net.node("n1").status().term, 2);
  net.heal();
  for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tick(1);
  const leaders = net.leaders();
  assert.equal(leaders.length, 1);
  assert.ok(net.node(leaders[0]).status().term >= 3);
});

Deno.test("a candidate with a stale log loses the election", () => {
  const net = new Network(ids, { config: { preVote: false, checkQuorum: false } });
  net.campaign("n1");
  net.isolate("n3");
  net.propose("n1", "x");
  net.heal();
  net.isolate("n1");
  net.campaign("n3"); // n3 lacks "x": n2 refuses it
  assert.notEqual(net.node("n3").status().role, "leader");
  const refusal = net.delivered.find((m) =>
    m.type === "vote-resp" && m.from === "n2" && m.to === "n3"
  );
  assert.ok(refusal !== undefined && refusal.type === "vote-resp" && refusal.reject);
});

Deno.test("the voteWithoutLogCheck knob lets a stale candidate win and overwrite a commit", () => {
  const net = new Network(ids, {
    config: { preVote: false, checkQuorum: false, knobs: { voteWithoutLogCheck: true } },
  });
  net.campaign("n1");
  net.isolate("n3");
  net.propose("n1", "x");
  net.heal();
  net.isolate("n1");
  // n3 wins without "x" and its no-op replaces the committed "x" on n2.
  assert.throws(() => net.campaign("n3"), /state machine safety/);
  assert.equal(net.node("n3").status().role, "leader");
});

Deno.test("pre-vote keeps a rejoining partitioned node from disrupting the leader", () => {
  const net = new Network(ids, { config: { preVote: true, checkQuorum: true } });
  net.campaign("n1");
  const term = net.node("n1").status().term;
  net.isolate("n3");
  net.tick(100, ["n3"]); // n3 campaigns again and again, alone
  assert.equal(net.node("n3").status().term, term, "pre-vote does not raise the term");
  assert.equal(net.node("n3").status().role, "pre-candidate");
  net.heal();
  net.tick(5);
  assert.deepEqual(net.leaders(), ["n1"]);
  for (const id of ids) assert.equal(net.node(id).status().term, term);
  assert.equal(net.node("n3").status().leader, "n1");
});

Deno.test("without pre-vote a rejoining node with a raised term deposes the leader", () => {
  const net = new Network(ids, { config: { preVote: false, checkQuorum: false } });
  net.campaign("n1");
  const term = net.node("n1").status().term;
  net.isolate("n3");
  net.tick(100, ["n3"]);
  assert.ok(net.node("n3").status().term > term);
  net.heal();
  net.tick(30, ["n3"]); // n3 campaigns again: its higher term reaches n1
  assert.notEqual(net.node("n1").status().role, "leader");
  assert.ok(net.node("n1").status().term > term);
});

Deno.test("followers in a leader's lease ignore vote requests (check-quorum)", () => {
  const net = new Network(ids, { config: { preVote: false, checkQuorum: true } });
  net.campaign("n1");
  const term = net.node("n1").status().term;
  net.node("n2").campaign(); // n2 campaigns although n1 is alive
  net.settle();
  assert.equal(net.node("n3").status().term, term, "n3 ignored the vote request");
  assert.equal(net.node("n3").status().leader, "n1");
});

Deno.test("a leader that lost its quorum steps down after an election timeout", () => {
  const net = new Network(ids, { config: { checkQuorum: true, electionTicks: 10 } });
  net.campaign("n1");
  net.isolate("n1");
  net.tick(9, ["n1"]);
  assert.equal(net.node("n1").status().role, "leader");
  net.tick(11, ["n1"]);
  assert.equal(net.node("n1").status().role, "follower");
});

Deno.test("a leader with a live quorum stays leader across many election timeouts", () => {
  const net = new Network(ids, { config: { checkQuorum: true, electionTicks: 10 } });
  net.campaign("n1");
  net.isolate("n3");
  net.tick(100);
  assert.equal(net.node("n1").status().role, "leader");
});

Deno.test("the majority side of a partition elects a new leader and the old one follows on heal", () => {
  const net = new Network(ids, { config: { checkQuorum: true } });
  net.campaign("n1");
  net.isolate("n1");
  for (let i = 0; i < 100 && !net.leaders().some((id) => id !== "n1"); i++) net.tick(1);
  const newLeader = net.leaders().find((id) => id !== "n1");
  assert.ok(newLeader !== undefined);
  net.heal();
  net.tick(3);
  assert.deepEqual(net.leaders(), [newLeader]);
  assert.equal(net.node("n1").status().leader, newLeader);
});

Deno.test("a restarted node keeps its vote and refuses a second candidate in the same term", () => {
  const net = new Network(ids, { config: { preVote: false, checkQuorum: false } });
  net.campaign("n1");
  const term = net.node("n2").status().term;
  assert.equal(net.node("n2").status().vote, "n1");
  net.crash("n2");
  net.restart("n2");
  assert.equal(net.node("n2").status().vote, "n1");
  assert.equal(net.node("n2").status().term, term);
});

Deno.test("the forgetVoteOnRestart knob drops the persisted vote", () => {
  const net = new Network(ids, { config: { preVote: false } });
  net.campaign("n1");
  net.crash("n2");
  net.restart("n2", { knobs: { forgetVoteOnRestart: true } });
  assert.equal(net.node("n2").status().vote, null);
});

Deno.test("createRaftNode refuses a config whose electionTicks is not above heartbeatTicks", () => {
  assert.throws(
    () =>
      createRaftNode(
        { id: "a", peers: ["a"], electionTicks: 2, heartbeatTicks: 2 },
        new MemoryStorage(),
      ),
    RangeError,
  );
});

Deno.test("createRaftNode refuses storage that already holds state", () => {
  const storage = new MemoryStorage();
  storage.append([{ index: 1, term: 1, type: "noop", data: new Uint8Array(0) }]);
  assert.throws(() => createRaftNode({ id: "a", peers: ["a"] }, storage), RangeError);
});

Deno.test("randomized election timeouts differ between seeds and repeat for one seed", () => {
  const firstCampaignTick = (seed: number) => {
    const node = createRaftNode(
      { id: "a", peers: ["a", "b", "c"], randomSeed: seed },
      new MemoryStorage(),
    );
    node.advance(node.ready());
    for (let t = 1; t <= 40; t++) {
      node.tick();
      if (node.status().role !== "follower") return t;
    }
    return -1;
  };
  assert.equal(firstCampaignTick(1), firstCampaignTick(1));
  const ticks = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(firstCampaignTick));
  assert.ok(ticks.size > 1);
  for (const t of ticks) assert.ok(t >= 10 && t < 20, `campaigned at tick ${t}`);
});
