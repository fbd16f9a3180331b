import assert from "node:assert/strict";
import { NotLeaderError, ProposalDroppedError } from "../../src/raft/mod.ts";
import { bytes, Network } from "./network.ts";

const ids = ["n1", "n2", "n3"];

Deno.test("a committed proposal is applied in the same order on every node", () => {
  const net = new Network(ids);
  net.campaign("n1");
  for (const v of ["a", "b", "c"]) net.propose("n1", v);
  for (const id of ids) assert.deepEqual(net.get(id).applied, ["a", "b", "c"]);
  assert.deepEqual(net.log("n2"), net.log("n1"));
});

Deno.test("a proposal on a follower is refused with the leader's id", () => {
  const net = new Network(ids);
  net.campaign("n1");
  assert.throws(
    () => net.node("n2").propose(bytes("x")),
    (e) => e instanceof NotLeaderError && e.leader === "n1",
  );
});

Deno.test("a proposal on a node that knows no leader is refused with a null leader", () => {
  const net = new Network(ids);
  assert.throws(
    () => net.node("n2").propose(bytes("x")),
    (e) => e instanceof NotLeaderError && e.leader === null,
  );
});

Deno.test("proposals between two Readies go out batched in one append per follower", () => {
  const net = new Network(ids);
  net.campaign("n1");
  const before = net.delivered.length;
  for (let i = 0; i < 50; i++) net.node("n1").propose(bytes(`v${i}`));
  net.settle();
  const appends = net.delivered.slice(before).filter((m) =>
    m.type === "append" && m.entries.length > 0
  );
  assert.equal(appends.length, 2);
  for (const a of appends) assert.equal(a.type === "append" && a.entries.length, 50);
  assert.equal(net.get("n3").applied.length, 50);
});

Deno.test("appends are split by maxEntriesPerAppend and pipelined within maxInflightMsgs", () => {
  const net = new Network(ids, { config: { maxEntriesPerAppend: 4, maxInflightMsgs: 3 } });
  net.campaign("n1");
  net.tick(1); // one heartbeat round so every follower is in replicate state
  const n1 = net.node("n1");
  for (let i = 0; i < 40; i++) n1.propose(bytes(`v${i}`));
  const rd = n1.ready();
  const toN2 = rd.messages.filter((m) => m.type === "append" && m.to === "n2");
  assert.equal(toN2.length, 3, "window of 3 appends in flight");
  for (const m of toN2) assert.equal(m.type === "append" && m.entries.length, 4);
  assert.equal(n1.status().progress?.n2.inflight, 3);
  net.get("n1").storage.append(rd.entries);
  if (rd.hardState) net.get("n1").storage.setHardState(rd.hardState);
  net.queue.push(...rd.messages);
  n1.advance(rd);
  net.settle();
  for (const id of ids) assert.equal(net.get(id).applied.length, 40);
});

Deno.test("a follower's conflicting uncommitted suffix is replaced by the leader's log", () => {
  const net = new Network(ids, { config: { checkQuorum: false } });
  net.campaign("n1");
  net.propose("n1", "committed");
  net.isolate("n1");
  for (let i = 0; i < 30; i++) net.node("n1").propose(bytes(`lost${i}`)); // never reaches a quorum
  net.settle();
  net.campaign("n2");
  for (const v of ["x", "y"]) net.propose("n2", v);
  assert.notDeepEqual(net.log("n1"), net.log("n2"));
  net.heal();
  const before = net.delivered.length;
  net.tick(2);
  assert.deepEqual(net.log("n1"), net.log("n2"));
  assert.deepEqual(net.get("n1").applied, ["committed", "x", "y"]);
  // Fast back-off: the 30-entry conflict is resolved in a couple of rejections, not 30.
  const rejects = net.delivered.slice(before).filter((m) =>
    m.type === "append-resp" && m.from === "n1" && m.reject
  );
  assert.ok(rejects.length <= 3, `${rejects.length} rejections`);
});

Deno.test("a follower missing entries is caught up by probing back from the leader's last index", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.isolate("n3");
  for (let i = 0; i < 20; i++) net.propose("n1", `v${i}`);
  net.heal();
  net.tick(2);
  assert.deepEqual(net.log("n3"), net.log("n1"));
  assert.equal(net.get("n3").applied.length, 20);
});

Deno.test("a lost append is retransmitted after the next heartbeat", () => {
  const net = new Network(ids);
  net.campaign("n1");
  net.tick(1);
  let blocked = true;
  net.addFilter((m) => !(blocked && m.type === "append" && m.to === "n3"));
  net.propose("n1", "a");
  assert.equal(net.get("n3").applied.length, 0);
  blocked = false;
  net.tick(2);
  assert.deepEqual(net.get("n3").applied, ["a"]);
});

Deno.test("the leader refuses proposals past maxUncommittedBytes until entries commit", () => {
  const net = new Network(ids, { config: { maxUncommittedBytes: 100, checkQuorum: false } });
  net.campaign("n1");
  net.isolate("n1");
  const n1 = net.node("n1");
  for (let i = 0; i < 5; i++) n1.propose(new Uint8Array(20));
  assert.throws(
    () => n1.propose(new Uint8Array(20)),
    (e) => e instanceof ProposalDroppedError && e.reason === "uncommitted-bytes-limit",
  );
  assert.equal(n1.status().uncommittedBytes, 100);
  net.heal();
  net.tick(2);
  assert.equal(n1.status().uncommittedBytes, 0);
  n1.propose(new Uint8Array(20));
});

Deno.test("Figure 8: an entry of an older term is not committed by counting replicas", () => {
  const { net, oldIndex } = figure8({});
  const n1 = net.node("n1").status();
  assert.equal(n1.role, "leader");
  assert.ok(n1.commit < oldIndex, `commit ${n1.commit} reached the term-2 entry at ${oldIndex}`);
  // Once the current term's no-op reaches a majority, both commit together.
  net.heal();
  net.tick(2, ["n1", "n2", "n3"]);
  assert.ok(net.node("n1").status().commit >= oldIndex + 1);
});

Deno.test("Figure 8: the commitPreviousTermByCount knob commits the older-term entry", () => {
  const { net, oldIndex } = figure8({ commitPreviousTermByCount: true });
  assert.ok(net.node("n1").status().commit >= oldIndex);
});

/**
 * Builds Figure 8's (c): n1 leads term 4 and knows its term-2 entry is on a majority
 * (n1, n2, n3), but its own no-op of term 4 only on n2 (n3's later acks are lost).
 */
function figure8(knobs: { commitPreviousTermByCount?: boolean }) {
  const five = ["n1", "n2", "n3", "n4", "n5"];
  const net = new Network(five, {
    config: { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1, knobs },
  });
  net.campaign("n1"); // term 2, no-op at 6 committed everywhere
  net.partition(["n1", "n2"], ["n3", "n4", "n5"]);
  net.propose("n1", "old"); // index 7, term 2: only n1 and n2
  const oldIndex = net.node("n1").status().lastIndex;
  assert.equal(net.node("n1").status().commit, oldIndex - 1);
  net.crash("n1");
  net.heal();
  net.cutOneWay("n5", "n2"); // n5 (term 3) gets votes from n3, n4 and itself
  net.addFilter((m) => !(m.from === "n5" && m.type === "append" && m.entries.length > 0));
  net.campaign("n5");
  assert.equal(net.node("n5").status().role, "leader");
  assert.equal(net.node("n5").status().term, 3);
  net.crash("n5");
  net.heal();
  net.restart("n1");
  net.isolate("n4");
  // n1 learns that n3 holds the term-2 entry, but no ack of anything later.
  net.addFilter((m) => !(m.type === "append-resp" && m.from === "n3" && m.index > oldIndex));
  // n1 campaigns (a first try at term 3 meets n3's vote for n5) and wins term 4 with n2, n3.
  for (let i = 0; i < 3 && net.node("n1").status().role !== "leader"; i++) net.campaign("n1");
  assert.equal(net.node("n1").status().role, "leader");
  assert.equal(net.node("n1").status().term, 4);
  net.tick(3, ["n1", "n2", "n3"]);
  assert.equal(net.log("n3")[oldIndex - 1], `${oldIndex}:2`);
  assert.equal(net.node("n1").status().progress?.n3.match, oldIndex);
  assert.equal(net.node("n1").status().progress?.n2.match, oldIndex + 1);
  return { net, oldIndex };
}
