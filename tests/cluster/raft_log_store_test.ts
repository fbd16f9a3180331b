import assert from "node:assert/strict";
import { RaftLogStore } from "../../src/cluster/raft_log_store.ts";
import {
  CompactedError,
  createRaftNode,
  restartRaftNode,
  UnavailableError,
} from "../../src/raft/mod.ts";
import type { Ready } from "../../src/raft/mod.ts";
import { openWal } from "../../src/storage/wal/mod.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_raftlog_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ready(partial: Partial<Ready>): Ready {
  return {
    entries: [],
    messages: [],
    committedEntries: [],
    readStates: [],
    mustSync: false,
    ...partial,
  };
}

Deno.test("a bootstrapped group restarts from the WAL with its membership and hard state", () =>
  withDir(async (dir) => {
    const wal = await openWal(dir);
    const store = new RaftLogStore(wal, 1);
    assert.equal(store.hasState(), false);
    const node = createRaftNode({ id: "n1", peers: ["n1", "n2", "n3"] }, store);
    const rd = node.ready();
    await store.persist(rd);
    node.advance(rd);
    await wal.close();

    const reopened = await openWal(dir);
    try {
      const again = new RaftLogStore(reopened, 1);
      assert.equal(again.hasState(), true);
      assert.equal(again.lastIndex(), 3);
      assert.equal(again.initialState().hardState.commit, 3);
      assert.deepEqual(again.entries(1, 4).map((e) => e.type), [
        "conf-change",
        "conf-change",
        "conf-change",
      ]);
      const restarted = restartRaftNode({ id: "n1" }, again);
      assert.deepEqual(restarted.status().conf.voters, ["n1", "n2", "n3"]);
      assert.equal(restarted.status().term, 1);
    } finally {
      await reopened.close();
    }
  }));

Deno.test("a commit-only hard state waits for the next append instead of its own sync", () =>
  withDir(async (dir) => {
    const wal = await openWal(dir);
    try {
      const store = new RaftLogStore(wal, 7);
      const e1 = { term: 1, index: 1, type: "normal" as const, data: new Uint8Array([1]) };
      await store.persist(
        ready({ entries: [e1], hardState: { term: 1, vote: "n2", commit: 0 }, mustSync: true }),
      );
      const syncs = wal.stats().syncs;
      await store.persist(ready({ hardState: { term: 1, vote: "n2", commit: 1 } }));
      assert.equal(wal.stats().syncs, syncs, "no write for a commit-only change");
      assert.equal(wal.hardState(7).commit, 0);
      const e2 = { term: 1, index: 2, type: "noop" as const, data: new Uint8Array(0) };
      await store.persist(ready({ entries: [e2], mustSync: true }));
      assert.deepEqual(wal.hardState(7), { term: 1, vote: "n2", commit: 1 });
      assert.equal(store.term(2), 1);
    } finally {
      await wal.close();
    }
  }));

Deno.test("reads outside the held log throw the errors the Raft core expects", () =>
  withDir(async (dir) => {
    const wal = await openWal(dir);
    try {
      const store = new RaftLogStore(wal, 1);
      assert.equal(store.term(0), 0);
      assert.throws(() => store.term(1), UnavailableError);
      assert.throws(() => store.entries(1, 2), UnavailableError);
      await wal.append(1, { snapshot: { index: 5, term: 2 } });
      assert.throws(() => store.entries(3, 4), CompactedError);
    } finally {
      await wal.close();
    }
  }));

Deno.test("a Ready carrying a snapshot records it as the log's start, with its membership", () =>
  withDir(async (dir) => {
    const wal = await openWal(dir);
    try {
      const conf = { voters: ["n1", "n2", "n3"], learners: ["n4"] };
      const snapshot = { metadata: { index: 40, term: 3, conf }, data: new Uint8Array(0) };
      const store = new RaftLogStore(wal, 1, {
        snapshot: () => snapshot,
        metaAt: (index) => index === 40 ? { conf } : undefined,
      });
      await store.persist(ready({ snapshot, mustSync: true }));
      assert.equal(store.firstIndex(), 41);
      assert.equal(store.lastIndex(), 40);
      assert.equal(store.term(40), 3);
      assert.deepEqual(store.initialState().confState, conf);
      assert.deepEqual(store.snapshot().metadata, snapshot.metadata);
      // Without the snapshot's metadata the membership is unknown: refuse to start.
      assert.throws(() => new RaftLogStore(wal, 1).initialState(), /snapshot there/);
    } finally {
      await wal.close();
    }
  }));
