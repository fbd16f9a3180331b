import assert from "node:assert/strict";
import { durableCommitted } from "../../src/cluster/group_host.ts";
import type { Entry, Ready } from "../../src/raft/mod.ts";

function entries(from: number, to: number, term = 2): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) {
    out.push({ index, term, type: "normal", data: new Uint8Array([index & 0xff]) });
  }
  return out;
}

function ready(parts: Partial<Ready>): Ready {
  return {
    entries: [],
    messages: [],
    committedEntries: [],
    readStates: [],
    mustSync: false,
    ...parts,
  };
}

Deno.test("committed entries of a Ready without new entries are all durable already", () => {
  assert.equal(durableCommitted(ready({ committedEntries: entries(5, 9) })), 5);
});

Deno.test("committed entries below the Ready's first new entry are durable, the rest wait", () => {
  // A follower told of a commit together with the entries it covers.
  const rd = ready({ entries: entries(8, 12), committedEntries: entries(5, 10), mustSync: true });
  assert.equal(durableCommitted(rd), 3);
});

Deno.test("a replaced suffix makes every committed entry at or past it wait for the persist", () => {
  const rd = ready({
    entries: entries(4, 6, 3),
    committedEntries: entries(4, 5, 3),
    mustSync: true,
  });
  assert.equal(durableCommitted(rd), 0);
});

Deno.test("a Ready carrying a snapshot applies nothing before its persist", () => {
  const rd = ready({
    committedEntries: entries(21, 22),
    snapshot: {
      metadata: { index: 20, term: 2, conf: { voters: ["a"], learners: [] } },
      data: new Uint8Array(0),
    },
  });
  assert.equal(durableCommitted(rd), 0);
});
