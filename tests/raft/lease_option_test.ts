import assert from "node:assert/strict";
import { bytes, Network, text } from "./network.ts";

const ids = ["n1", "n2", "n3"];
const safe = { readOnlyOption: "safe", checkQuorum: true, electionTicks: 10 } as const;

Deno.test("a read asking for the lease is served at once by a leader configured for safe reads", () => {
  const net = new Network(ids, { config: safe });
  net.campaign("n1");
  net.propose("n1", "a");
  const n1 = net.node("n1");
  n1.readIndex(bytes("lease"), { lease: true });
  const rd = n1.ready();
  assert.equal(rd.readStates.length, 1, "served from the lease, no round trip");
  assert.equal(text(rd.readStates[0].requestCtx), "lease");
  assert.equal(rd.readStates[0].index, n1.status().commit);
  assert.ok(!rd.messages.some((m) => m.type === "heartbeat" && m.readSeq > 0), "no read round");
  n1.advance(rd);
});

Deno.test("a read without the lease option still waits for a heartbeat round", () => {
  const net = new Network(ids, { config: safe });
  net.campaign("n1");
  net.propose("n1", "a");
  const n1 = net.node("n1");
  n1.readIndex(bytes("safe"));
  const rd = n1.ready();
  assert.deepEqual(rd.readStates, [], "not served before the round");
  assert.ok(rd.messages.some((m) => m.type === "heartbeat" && m.readSeq > 0), "a read round");
  net.queue.push(...rd.messages);
  n1.advance(rd);
  net.settle();
  assert.equal(net.get("n1").readStates.length, 1, "released by the heartbeat quorum");
});

Deno.test("a lease read during a leadership transfer waits for a heartbeat round", () => {
  const net = new Network(ids, { config: safe });
  net.campaign("n1");
  net.addFilter((m) => m.to !== "n3" || m.type !== "append"); // n3 lags: no TimeoutNow yet
  net.propose("n1", "a");
  const n1 = net.node("n1");
  n1.transferLeadership("n3");
  n1.readIndex(bytes("r"), { lease: true });
  const rd = n1.ready();
  assert.deepEqual(rd.readStates, [], "no lease while a transfer is pending");
  net.get("n1").storage.append(rd.entries);
  net.queue.push(...rd.messages);
  n1.advance(rd);
  net.settle();
  assert.equal(net.get("n1").readStates.length, 1, "confirmed by heartbeats instead");
});

Deno.test("a lease read on a leader that stopped hearing from its quorum waits for a round", () => {
  const net = new Network(ids, { config: safe });
  net.campaign("n1");
  net.propose("n1", "a");
  net.isolate("n1");
  // One check-quorum round passes on earlier answers and clears them; none come after it.
  net.tick(safe.electionTicks, ["n1"]);
  const n1 = net.node("n1");
  assert.equal(n1.status().role, "leader", "still leading until the next check-quorum round");
  n1.readIndex(bytes("r"), { lease: true });
  const rd = n1.ready();
  assert.deepEqual(rd.readStates, [], "the lease ended with the silent check-quorum window");
  n1.advance(rd);
});
