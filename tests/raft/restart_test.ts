import assert from "node:assert/strict";
import {
  createRaftNode,
  MemoryStorage,
  type RaftConfig,
  restartRaftNode,
} from "../../src/raft/mod.ts";
import { Network } from "./network.ts";

const ids = ["n1", "n2", "n3"];

Deno.test("restartRaftNode refuses a founding member whose storage never persisted anything", () => {
  const storage = new MemoryStorage();
  const config: RaftConfig = { id: "n1", peers: ids };
  const node = createRaftNode(config, storage);
  assert.ok(node.hasReady(), "the bootstrap Ready was never persisted: the process crashed");
  assert.throws(
    () => restartRaftNode(config, storage),
    (e) => e instanceof RangeError && e.message.includes("use createRaftNode"),
  );
});

Deno.test("restartRaftNode refuses empty storage for a joiner too", () => {
  assert.throws(
    () => restartRaftNode({ id: "n4" }, new MemoryStorage()),
    (e) => e instanceof RangeError && e.message.includes("storage is empty"),
  );
});

Deno.test("restartRaftNode restarts a node whose storage holds only a hard state", () => {
  const storage = new MemoryStorage();
  storage.setHardState({ term: 5, vote: "n2", commit: 0 });
  const status = restartRaftNode({ id: "n4" }, storage).status();
  assert.equal(status.term, 5);
  assert.equal(status.vote, "n2");
  assert.deepEqual(status.conf.voters, [], "a joiner learns the membership from the leader");
});

Deno.test("a founding member that crashed before its first write boots again with createRaftNode", () => {
  const net = new Network(ids);
  net.crash("n3");
  const m = net.get("n3");
  m.storage = new MemoryStorage(); // it crashed before its first write and never sent a message
  net.campaign("n1");
  net.propose("n1", "a");
  assert.throws(() => restartRaftNode(m.config, m.storage), RangeError);
  m.node = createRaftNode(m.config, m.storage);
  m.applied = [];
  m.appliedIndex = 0;
  m.down = false;
  net.propose("n1", "b");
  net.tick(2);
  assert.equal(m.node.status().role, "follower");
  assert.equal(m.node.status().leader, "n1");
  assert.deepEqual(m.applied, ["a", "b"]);
  assert.deepEqual(m.node.status().conf.voters, ids);
});

Deno.test("a restarted voter refuses votes for one election timeout, then grants them", () => {
  // n1 leads and holds a lease; n2 restarts (forgetting it heard n1) while n3 campaigns. A
  // restarted n2 granting at once would let n3 win while n1 still serves lease reads.
  const electionTicks = 10;
  const net = new Network(ids, { config: { checkQuorum: true, electionTicks, heartbeatTicks: 1 } });
  net.campaign("n1");
  net.propose("n1", "a");
  net.crash("n2");
  net.restart("n2");
  const n2 = net.get("n2").node;
  const voteFrom = (term: number) => ({
    type: "vote" as const,
    from: "n3",
    to: "n2",
    term,
    lastLogIndex: 100,
    lastLogTerm: 100,
    transfer: false,
  });
  const term = n2.status().term;
  n2.step(voteFrom(term + 1));
  assert.equal(n2.status().term, term, "a vote request in the quiet period is ignored");
  assert.equal(n2.status().vote, net.get("n2").storage.hardState().vote);
  for (let i = 0; i < electionTicks; i++) n2.tick();
  n2.step(voteFrom(term + 1));
  assert.equal(n2.status().term, term + 1);
  assert.equal(n2.status().vote, "n3");
});
