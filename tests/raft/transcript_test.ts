import assert from "node:assert/strict";
import { describe, Network } from "./network.ts";

Deno.test("transcript: a pre-vote election, the no-op and its commit", () => {
  const net = new Network(["n1", "n2", "n3"]);
  net.campaign("n1");
  assert.deepEqual(net.delivered.map(describe), [
    "n1->n2 pre-vote t2 last=3/1",
    "n1->n3 pre-vote t2 last=3/1",
    "n2->n1 pre-vote-resp t2",
    "n3->n1 pre-vote-resp t2",
    "n1->n2 vote t2 last=3/1",
    "n1->n3 vote t2 last=3/1",
    "n2->n1 vote-resp t2",
    "n3->n1 vote-resp t2",
    "n1->n2 append t2 prev=3/1 ents=[4/2] commit=3",
    "n1->n3 append t2 prev=3/1 ents=[4/2] commit=3",
    "n2->n1 append-resp t2 index=4",
    "n3->n1 append-resp t2 index=4",
    "n1->n3 append t2 prev=4/2 ents=[] commit=4",
    "n1->n2 append t2 prev=4/2 ents=[] commit=4",
    "n2->n1 append-resp t2 index=4",
    "n3->n1 append-resp t2 index=4",
  ]);
});

Deno.test("transcript: a diverged follower is repaired with one hinted rejection", () => {
  const net = new Network(["n1", "n2", "n3"], { config: { checkQuorum: false } });
  net.campaign("n1");
  net.isolate("n1");
  for (let i = 0; i < 3; i++) net.node("n1").propose(new Uint8Array(1)); // 5..7 at term 2, lost
  net.settle();
  net.campaign("n2"); // term 3: no-op at 5
  for (let i = 0; i < 2; i++) net.propose("n2", "x"); // 6, 7 at term 3
  net.heal();
  net.isolate("n1");
  net.campaign("n3"); // term 4 with n2's vote: no-op at 8
  net.heal();
  net.isolate("n2");
  net.delivered = [];
  net.tick(1, ["n3"]);
  assert.deepEqual(net.delivered.map(describe), [
    "n3->n1 heartbeat t4 commit=0",
    "n1->n3 heartbeat-resp t4",
    "n3->n1 append t4 prev=7/3 ents=[8/4] commit=8",
    "n1->n3 append-resp t4 reject index=7 hint=7/2",
    "n3->n1 append t4 prev=4/2 ents=[5/3,6/3,7/3,8/4] commit=8",
    "n1->n3 append-resp t4 index=8",
  ]);
  assert.deepEqual(net.log("n1"), net.log("n3"));
});
