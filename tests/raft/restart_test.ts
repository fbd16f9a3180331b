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
