import assert from "node:assert/strict";
import type { Message } from "../../src/raft/mod.ts";
import { bytes, Network, text } from "./network.ts";

const ids = ["n1", "n2", "n3"];
const lease = { readOnlyOption: "lease-based", checkQuorum: true, electionTicks: 10 } as const;

/** Cuts every message between n1 and the others except the ones `keep` lets through. */
function cutOffN1(net: Network, keep: (m: Message) => boolean = () => false): void {
  net.addFilter((m) => keep(m) || (m.from !== "n1" && m.to !== "n1"));
}

/** Lets n3 win a transfer election at once and commit "new" while n1 hears nothing. */
function electN3AndWrite(net: Network): number {
  net.settle();
  assert.equal(net.node("n3").status().role, "leader", "the transferee won at once");
  assert.equal(net.node("n1").status().role, "leader", "n1 was cut off and still leads");
  net.propose("n3", "new");
  return net.node("n3").status().commit;
}

Deno.test("a leader that sent TimeoutNow confirms a read by heartbeats, not its lease", () => {
  const net = new Network(ids, { config: lease });
  net.campaign("n1");
  net.propose("n1", "old");
  // Only the TimeoutNow gets out: n3 wins at once, n2 votes despite n1's fresh lease.
  cutOffN1(net, (m) => m.type === "timeout-now");
  net.node("n1").transferLeadership("n3");
  const commitN3 = electN3AndWrite(net);
  const n1 = net.node("n1");
  n1.readIndex(bytes("r"));
  const rd = n1.ready();
  assert.deepEqual(rd.readStates, [], "no lease read while the transfer is pending");
  assert.ok(rd.messages.some((m) => m.type === "heartbeat" && m.readSeq > 0), "a read round");
  n1.advance(rd);
  net.settle();
  assert.deepEqual(net.get("n1").readStates, [], "the cut-off round never confirms");
  assert.ok(n1.status().commit < commitN3, "a read at n1's commit would have missed n3's write");
});

Deno.test("a leader keeps off its lease for the rest of its term after an abandoned transfer", () => {
  const net = new Network(ids, { config: lease });
  net.campaign("n1");
  net.propose("n1", "old");
  // The TimeoutNow is held back in the network while the transfer times out.
  const held: Message[] = [];
  net.addFilter((m) => {
    if (m.type !== "timeout-now") return true;
    held.push(m);
    return false;
  });
  net.node("n1").transferLeadership("n3");
  net.tick(lease.electionTicks + 1, ["n1"]);
  const n1 = net.node("n1");
  assert.ok(held.length >= 1);
  assert.equal(n1.status().leadTransferee, null, "the transfer was abandoned");
  assert.equal(
    n1.status().role,
    "leader",
    "n2 and n3 answered in this window: the quorum is fresh",
  );
  // The late TimeoutNow arrives: n3 wins at once while n1 hears nothing more.
  net.heal();
  cutOffN1(net);
  net.get("n3").node.step(held[0]);
  const commitN3 = electN3AndWrite(net);
  n1.readIndex(bytes("r"));
  net.settle();
  assert.deepEqual(net.get("n1").readStates, [], "no lease read in the term TimeoutNow went out");
  assert.ok(n1.status().commit < commitN3, "a read at n1's commit would have missed n3's write");
});

Deno.test("during a pending transfer a read is released by a heartbeat quorum", () => {
  const net = new Network(ids, { config: lease });
  net.campaign("n1");
  net.addFilter((m) => m.to !== "n3" || m.type !== "append"); // n3 lags: no TimeoutNow yet
  net.propose("n1", "a");
  const n1 = net.node("n1");
  n1.transferLeadership("n3");
  assert.equal(n1.status().leadTransferee, "n3");
  n1.readIndex(bytes("r"));
  const rd = n1.ready();
  assert.deepEqual(rd.readStates, [], "not served from the lease");
  net.get("n1").storage.append(rd.entries);
  net.queue.push(...rd.messages);
  n1.advance(rd);
  net.settle();
  const states = net.get("n1").readStates;
  assert.equal(states.length, 1, "confirmed by n2 and n3's heartbeat answers");
  assert.equal(text(states[0].requestCtx), "r");
  assert.equal(states[0].index, n1.status().commit);
});

Deno.test("a leader that sent TimeoutNow in an earlier term serves lease reads again", () => {
  const net = new Network(ids, { config: lease });
  net.campaign("n1");
  net.node("n1").transferLeadership("n3");
  net.settle();
  net.node("n3").transferLeadership("n1");
  net.settle();
  const n1 = net.node("n1");
  assert.equal(n1.status().role, "leader");
  assert.equal(n1.status().term, 4, "n1 leads again two terms later");
  n1.readIndex(bytes("r"));
  const rd = n1.ready();
  assert.equal(rd.readStates.length, 1, "served from the lease of the new term");
  assert.ok(!rd.messages.some((m) => m.type === "heartbeat"));
  n1.advance(rd);
});
