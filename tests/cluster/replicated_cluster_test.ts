/**
 * A replicated cluster of three real processes on loopback: election, reads and writes
 * through any node, kill -9 of the leader under write load, catch-up of a restarted node.
 */
import assert from "node:assert/strict";
import { waitUntil } from "../server/server_process.ts";
import { getKey, putKey, startCluster } from "./cluster_process.ts";

Deno.test({
  name: "a 3-node cluster elects one leader and a PUT on any node is readable from every node",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      const viaFollower = await putKey(follower.proc!.url, "from-follower", "f-value");
      assert.equal(viaFollower.status, 201, "a follower forwards the write to the leader");
      const viaLeader = await putKey(leader.proc!.url, "from-leader", "l-value");
      assert.equal(viaLeader.status, 201);
      assert.notEqual(viaFollower.etag, viaLeader.etag, "each write gets its own Raft index");
      const cas = await fetch(`${follower.proc!.url}/kv/from-leader`, {
        method: "PUT",
        body: "stale",
        headers: { "if-match": viaFollower.etag! },
      });
      const problem = await cas.json();
      assert.equal(cas.status, 412, "a failed condition decided on the leader reaches the client");
      assert.equal(`"${problem.current_version}"`, viaLeader.etag);
      for (const node of cluster.nodes) {
        const a = await getKey(node.proc!.url, "from-follower");
        assert.deepEqual([a.status, a.body, a.etag], [200, "f-value", viaFollower.etag], node.id);
        const b = await getKey(node.proc!.url, "from-leader");
        assert.deepEqual([b.status, b.body, b.etag], [200, "l-value", viaLeader.etag], node.id);
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "after kill -9 of the leader under write load every acknowledged write is readable",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const acked = new Map<string, string>();
      const ackTimes: number[] = [];
      let stop = false;
      let seq = 0;
      // Two writers per node, each writing unique keys in a loop until told to stop.
      const writer = async (nodeIndex: number) => {
        for (let i = 0; i < 10_000 && !stop; i++) {
          const node = cluster.nodes[nodeIndex];
          if (node.proc === undefined) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          const key = `load-${nodeIndex}-${seq++}`;
          const value = `value-of-${key}`;
          const r = await putKey(node.proc.url, key, value, 10_000);
          if (r.status === 201) {
            acked.set(key, value);
            ackTimes.push(Date.now());
          }
        }
      };
      const writers = [0, 0, 1, 1, 2, 2].map(writer);
      const ackedAtLeast = async (n: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while (acked.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        return acked.size >= n;
      };
      assert.ok(await ackedAtLeast(50, 20_000), "writes are acknowledged before the kill");
      const killedAt = Date.now();
      await cluster.kill(leader.id);
      const before = acked.size;
      const next = await cluster.waitForLeader({ not: leader.id, timeoutMs: 20_000 });
      const electedMs = Date.now() - killedAt;
      assert.notEqual(next.id, leader.id);
      assert.ok(await ackedAtLeast(before + 50, 20_000), "writes are acknowledged after failover");
      stop = true;
      await Promise.all(writers);
      // The write error window: the longest time without an acknowledgement around the kill.
      const times = ackTimes.filter((t) => t >= killedAt - 5000).sort((a, b) => a - b);
      let gapMs = 0;
      for (let i = 1; i < times.length; i++) gapMs = Math.max(gapMs, times[i] - times[i - 1]);
      console.log(
        `new leader ${next.id} seen ${electedMs} ms after kill -9; longest gap between ` +
          `acknowledgements ${gapMs} ms; ${acked.size} writes acknowledged`,
      );
      for (const node of cluster.nodes.filter((n) => n.proc !== undefined)) {
        for (const [key, value] of acked) {
          const got = await getKey(node.proc!.url, key);
          assert.deepEqual([got.status, got.body], [200, value], `${key} on ${node.id}`);
        }
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a follower restarted from its data dir catches up on the writes it missed",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      assert.equal((await putKey(leader.proc!.url, "before", "b")).status, 201);
      await cluster.kill(follower.id);
      const missed = new Map<string, string>();
      for (let i = 0; i < 30; i++) {
        const r = await putKey(leader.proc!.url, `missed-${i}`, `m-${i}`);
        assert.equal(r.status, 201, "two of three nodes are a quorum");
        missed.set(`missed-${i}`, `m-${i}`);
      }
      const restarted = await cluster.start(follower.id);
      assert.ok(
        restarted.logs.some((l) => l.includes('"raft group restarted"')),
        "a node with a data dir restarts from it and never bootstraps again",
      );
      for (const [key, value] of [["before", "b"], ...missed] as [string, string][]) {
        const got = await getKey(restarted.url, key);
        assert.deepEqual([got.status, got.body], [200, value], key);
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "without a quorum a write answers 503 no-leader with Retry-After and has no effect",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const others = cluster.nodes.filter((n) => n.id !== leader.id);
      await Promise.all(others.map((n) => cluster.kill(n.id)));
      // Check-quorum: the isolated leader steps down within an election timeout.
      await waitUntil(
        () => {
          const line = leader.proc!.logs.findLast((l) => l.includes('"raft role changed"'));
          return line !== undefined && JSON.parse(line).leader === null;
        },
        "the isolated leader to step down",
        20_000,
      );
      const res = await fetch(`${leader.proc!.url}/kv/lost`, { method: "PUT", body: "x" });
      const problem = await res.json();
      assert.equal(res.status, 503);
      assert.equal(problem.type, "urn:ringkv:problem:no-leader");
      assert.equal(res.headers.get("retry-after"), "1");
      await cluster.start(others[0].id);
      await cluster.waitForLeader();
      assert.equal((await getKey(others[0].proc!.url, "lost")).status, 404);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a write whose leader lost its quorum answers 503 outcome-unknown, and may still apply",
  sanitizeResources: false,
  async fn() {
    // A long election timeout keeps the isolated leader leading while its proposal times out.
    const cluster = await startCluster(3, {
      extraArgs: ["--raft-election-ticks", "150", "--raft-proposal-timeout-ms", "300"],
    });
    try {
      const leader = await cluster.waitForLeader({ timeoutMs: 30_000 });
      const others = cluster.nodes.filter((n) => n.id !== leader.id);
      await Promise.all(others.map((n) => cluster.kill(n.id)));
      const res = await fetch(`${leader.proc!.url}/kv/maybe`, { method: "PUT", body: "m" });
      const problem = await res.json();
      assert.equal(res.status, 503);
      assert.equal(problem.type, "urn:ringkv:problem:outcome-unknown");
      assert.equal(res.headers.get("retry-after"), "1");
      // The entry is in the old leader's log, which wins the next election and commits it.
      await cluster.start(others[0].id);
      await cluster.waitForLeader({ timeoutMs: 30_000 });
      const got = await getKey(others[0].proc!.url, "maybe");
      assert.deepEqual([got.status, got.body], [200, "m"]);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "acknowledged writes survive kill -9 of every node and a restart of the whole cluster",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      await cluster.waitForLeader();
      const written = new Map<string, string>();
      for (let i = 0; i < 40; i++) {
        const node = cluster.nodes[i % 3];
        const r = await putKey(node.proc!.url, `crash-${i}`, `c-${i}`);
        assert.equal(r.status, 201);
        written.set(`crash-${i}`, `c-${i}`);
      }
      // Overwrite and delete some keys, so replay must land on the latest state.
      assert.equal((await putKey(cluster.nodes[0].proc!.url, "crash-0", "again")).status, 200);
      written.set("crash-0", "again");
      const del = await fetch(`${cluster.nodes[1].proc!.url}/kv/crash-1`, { method: "DELETE" });
      await del.body?.cancel();
      assert.equal(del.status, 204);
      written.delete("crash-1");
      await Promise.all(cluster.nodes.map((n) => cluster.kill(n.id)));
      await Promise.all(cluster.nodes.map((n) => cluster.start(n.id)));
      await cluster.waitForLeader();
      for (const node of cluster.nodes) {
        for (const [key, value] of written) {
          const got = await getKey(node.proc!.url, key);
          assert.deepEqual([got.status, got.body], [200, value], `${key} on ${node.id}`);
        }
        assert.equal((await getKey(node.proc!.url, "crash-1")).status, 404);
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a node whose store lost applied writes rebuilds them from its WAL on restart",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      for (let i = 0; i < 20; i++) {
        assert.equal((await putKey(leader.proc!.url, `wal-${i}`, `w-${i}`)).status, 201);
      }
      // Make sure the follower applied everything, then take the whole cluster down and
      // drop the follower's store: only its WAL still holds the writes.
      assert.equal((await getKey(follower.proc!.url, "wal-19")).body, "w-19");
      await Promise.all(cluster.nodes.map((n) => cluster.kill(n.id)));
      await Deno.remove(`${follower.dataDir}/groups/1`, { recursive: true });
      const restarted = await cluster.start(follower.id);
      assert.ok(restarted.logs.some((l) => l.includes('"raft group restarted"')));
      // Its log is intact, so no leader resends the old entries: only a replay of its own
      // WAL can rebuild the store.
      await Promise.all(
        cluster.nodes.filter((n) => n !== follower).map((n) => cluster.start(n.id)),
      );
      await cluster.waitForLeader();
      for (let i = 0; i < 20; i++) {
        const got = await getKey(restarted.url, `wal-${i}`);
        assert.deepEqual([got.status, got.body], [200, `w-${i}`]);
      }
    } finally {
      await cluster.close();
    }
  },
});
