/**
 * The Raft core alone: a 3-node in-memory cluster with no I/O. Each iteration proposes a
 * batch of 100 B entries on the leader and runs Ready/step rounds until every node has
 * applied them. Target: >= 1M committed entries per second.
 */

import { createRaftNode, MemoryStorage, type Message, type RaftNode } from "../src/raft/mod.ts";

const ENTRY_BYTES = 100;
const TARGET_PER_SEC = 1_000_000;

interface Host {
  node: RaftNode;
  storage: MemoryStorage;
  applied: number;
}

function makeCluster(): { hosts: Map<string, Host>; leader: Host } {
  const ids = ["n1", "n2", "n3"];
  const hosts = new Map<string, Host>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    const node = createRaftNode({ id, peers: ids, maxInflightMsgs: 256 }, storage);
    hosts.set(id, { node, storage, applied: 0 });
  }
  const leader = hosts.get("n1")!;
  leader.node.campaign();
  run(hosts);
  if (leader.node.status().role !== "leader") throw new Error("bench cluster has no leader");
  return { hosts, leader };
}

/** Runs Ready rounds (persist, send, apply) until no node has work; bounded. */
function run(hosts: Map<string, Host>): void {
  for (let round = 0; round < 10_000; round++) {
    const inbox: Message[] = [];
    for (const h of hosts.values()) {
      if (!h.node.hasReady()) continue;
      const rd = h.node.ready();
      if (rd.snapshot) h.storage.applySnapshot(rd.snapshot);
      h.storage.append(rd.entries);
      if (rd.hardState) h.storage.setHardState(rd.hardState);
      for (const m of rd.messages) inbox.push(m);
      const n = rd.committedEntries.length;
      if (n > 0) h.applied = rd.committedEntries[n - 1].index;
      h.node.advance(rd);
    }
    if (inbox.length === 0) return;
    for (const m of inbox) hosts.get(m.to)!.node.step(m);
  }
  throw new Error("bench cluster did not settle");
}

/** Keeps memory bounded: snapshot and compact every node's log behind what it applied. */
function compactAll(hosts: Map<string, Host>): void {
  for (const h of hosts.values()) {
    if (h.applied - h.storage.firstIndex() < 200_000) continue;
    const snap = h.node.createSnapshot(h.applied, new Uint8Array(0));
    h.storage.createSnapshot(snap);
    h.storage.compact(h.applied);
  }
}

function benchBatch(batch: number) {
  const { hosts, leader } = makeCluster();
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  return (b: Deno.BenchContext) => {
    b.start();
    for (let i = 0; i < batch; i++) leader.node.propose(payload);
    run(hosts);
    b.end();
    const last = leader.node.status().lastIndex;
    for (const h of hosts.values()) {
      if (h.applied !== last) throw new Error(`${h.node.id} applied ${h.applied} of ${last}`);
    }
    compactAll(hosts);
  };
}

for (const batch of [100, 1000, 4000]) {
  Deno.bench({
    name: `commit ${batch} x ${ENTRY_BYTES} B entries on 3 nodes`,
    group: "raft-commit",
    baseline: batch === 1000,
    fn: benchBatch(batch),
  });
}

// A direct figure in entries per second, printed once, against the target.
if (import.meta.main || Deno.env.get("RAFT_BENCH_SUMMARY") !== "0") {
  const batch = 1000;
  const fn = benchBatch(batch);
  const ctx = { start() {}, end() {} } as unknown as Deno.BenchContext;
  for (let i = 0; i < 200; i++) fn(ctx); // warm up
  const iterations = 1000;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) fn(ctx);
  const seconds = (performance.now() - t0) / 1000;
  const perSec = Math.round((batch * iterations) / seconds);
  const verdict = perSec >= TARGET_PER_SEC ? "meets" : "misses";
  console.log(
    `raft core: ${
      perSec.toLocaleString("en-US")
    } committed entries/s (${ENTRY_BYTES} B, batches of ${batch}, ` +
      `3 nodes, no I/O; incl. apply check) ${verdict} target ${
        TARGET_PER_SEC.toLocaleString("en-US")
      }/s ` +
      `on ${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}`,
  );
}
