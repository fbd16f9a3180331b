import assert from "node:assert/strict";
import {
  applyConfChange,
  CompactedError,
  createRaftNode,
  decodeConfChange,
  encodeConfChange,
  MemoryStorage,
  RaftInvariantError,
  UnavailableError,
} from "../../src/raft/mod.ts";
import { Inflights, Progress } from "../../src/raft/progress.ts";
import { committedIndex, voteResult } from "../../src/raft/quorum.ts";
import type { Entry } from "../../src/raft/types.ts";

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: "normal", data: new Uint8Array(10) });
  }
  return out;
}

Deno.test("committedIndex is the highest index a majority of voters matched", () => {
  const match: Record<string, number> = { a: 5, b: 9, c: 7, d: 2, e: 7 };
  assert.equal(committedIndex(["a", "b", "c", "d", "e"], (id) => match[id]), 7);
  assert.equal(committedIndex(["a", "b"], (id) => match[id]), 5);
});

Deno.test("voteResult is won at a majority, lost once a majority is out of reach", () => {
  const voters = ["a", "b", "c"];
  assert.equal(voteResult(voters, new Map([["a", true]])), "pending");
  assert.equal(voteResult(voters, new Map([["a", true], ["b", true]])), "won");
  assert.equal(voteResult(voters, new Map([["a", true], ["b", false], ["c", false]])), "lost");
});

Deno.test("inflights refuse more than their capacity and free acknowledged appends", () => {
  const w = new Inflights(2);
  w.add(3);
  w.add(5);
  assert.ok(w.full());
  assert.throws(() => w.add(7), RaftInvariantError);
  w.freeLE(4);
  assert.equal(w.count, 1);
  w.add(7);
  w.freeLE(7);
  assert.equal(w.count, 0);
});

Deno.test("a probing progress ignores stale rejections and backs off to the hint", () => {
  const pr = new Progress(11, { maxInflight: 4, isLearner: false });
  assert.equal(pr.maybeDecrTo(5, 3), false, "not the outstanding probe");
  assert.equal(pr.maybeDecrTo(10, 4), true);
  assert.equal(pr.next, 4);
  pr.maybeUpdate(3);
  pr.becomeReplicate();
  assert.equal(pr.next, 4);
  assert.equal(pr.maybeDecrTo(2, 1), false, "at or below match is stale");
});

Deno.test("MemoryStorage replaces a conflicting suffix on append", () => {
  const s = new MemoryStorage();
  s.append(ents(1, 5, 1));
  s.append(ents(4, 6, 2));
  assert.deepEqual(s.entries(1, 7).map((e) => `${e.index}:${e.term}`), [
    "1:1",
    "2:1",
    "3:1",
    "4:2",
    "5:2",
    "6:2",
  ]);
});

Deno.test("MemoryStorage reports compacted and unavailable indexes", () => {
  const s = new MemoryStorage();
  s.append(ents(1, 10, 1));
  s.createSnapshot({
    metadata: { index: 6, term: 1, conf: { voters: ["a"], learners: [] } },
    data: new Uint8Array(0),
  });
  s.compact(6);
  assert.equal(s.firstIndex(), 7);
  assert.equal(s.term(6), 1);
  assert.throws(() => s.term(5), CompactedError);
  assert.throws(() => s.entries(5, 8), CompactedError);
  assert.throws(() => s.entries(8, 12), UnavailableError);
  assert.deepEqual(s.initialState().confState.voters, ["a"]);
});

Deno.test("MemoryStorage.entries stops at maxBytes but returns at least one entry", () => {
  const s = new MemoryStorage();
  s.append(ents(1, 10, 1));
  assert.equal(s.entries(1, 11, 25).length, 2);
  assert.equal(s.entries(1, 11, 1).length, 1);
});

Deno.test("conf changes round-trip through entry data and apply one server at a time", () => {
  const change = { type: "add-learner", nodeId: "n4" } as const;
  assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
  let conf = { voters: ["n1", "n2", "n3"], learners: [] as string[] };
  conf = applyConfChange(conf, change);
  assert.deepEqual(conf, { voters: ["n1", "n2", "n3"], learners: ["n4"] });
  conf = applyConfChange(conf, { type: "add-voter", nodeId: "n4" });
  assert.deepEqual(conf, { voters: ["n1", "n2", "n3", "n4"], learners: [] });
  conf = applyConfChange(conf, { type: "remove-node", nodeId: "n1" });
  assert.deepEqual(conf.voters, ["n2", "n3", "n4"]);
  assert.throws(() => decodeConfChange(new TextEncoder().encode("{}")), TypeError);
});

Deno.test("a conf change's opaque context rides in its entry and in bootstrap entries", () => {
  const change = { type: "add-learner", nodeId: "n4", context: '{"peer":"h:1"}' } as const;
  assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
  const badContext = '{"type":"add-voter","nodeId":"n1","context":7}';
  assert.throws(() => decodeConfChange(new TextEncoder().encode(badContext)), TypeError);
  const node = createRaftNode(
    { id: "n1", peers: ["n1", "n2"], peerContexts: { n2: "two" } },
    new MemoryStorage(),
  );
  const changes = node.ready().committedEntries.map((e) => decodeConfChange(e.data));
  assert.deepEqual(changes, [
    { type: "add-voter", nodeId: "n1" },
    { type: "add-voter", nodeId: "n2", context: "two" },
  ]);
});
