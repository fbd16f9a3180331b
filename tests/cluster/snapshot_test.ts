import assert from "node:assert/strict";
import { join } from "node:path";
import { waitUntil } from "../server/server_process.ts";
import { getKey, putKey, startCluster, type TestCluster } from "./cluster_process.ts";

/** Small snapshot interval so a few hundred writes compact the log several times. */
const snapshotArgs = ["--snapshot-entries", "40"];

/** Log lines of a node's process whose message is `msg`, parsed. */
function logged(cluster: TestCluster, id: string, msg: string): Record<string, unknown>[] {
  const proc = cluster.nodes.find((n) => n.id === id)?.proc;
  if (proc === undefined) return [];
  return proc.logs.filter((l) => l.includes(`"${msg}"`)).map((l) => JSON.parse(l));
}

/** PUTs `${prefix}0..count-1` with a few writers at once; every write must be acknowledged. */
async function writeKeys(url: string, prefix: string, count: number): Promise<void> {
  const writers = 6;
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = w; i < count; i += writers) {
      const { status } = await putKey(url, `${prefix}${i}`, `value-${prefix}${i}`);
      assert.ok(status === 200 || status === 201, `PUT ${prefix}${i} answered ${status}`);
    }
  }));
}

async function assertKeys(url: string, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const got = await getKey(url, `${prefix}${i}`);
    assert.equal(got.status, 200, `GET ${prefix}${i} on ${url}`);
    assert.equal(got.body, `value-${prefix}${i}`);
  }
}

Deno.test({
  name: "a follower that missed more than the log holds catches up by a snapshot",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: snapshotArgs });
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n !== leader)!;
      await writeKeys(leader.proc!.url, "before", 20);
      await cluster.kill(follower.id);
      // More than the leader's in-flight window (appends it queued for the stopped follower
      // reach it on restart) and past two snapshots: the log no longer has what it needs.
      await writeKeys(leader.proc!.url, "missed", 900);
      await waitUntil(
        () =>
          logged(cluster, leader.id, "snapshot taken").some((l) =>
            Number(l.log_compacted_to) > 800
          ),
        "the leader compacting its log",
        30_000,
      );
      await cluster.start(follower.id);
      await waitUntil(
        () => logged(cluster, follower.id, "snapshot installed").length > 0,
        "the restarted follower installing a snapshot",
        60_000,
      );
      const url = follower.proc!.url;
      await assertKeys(url, "before", 20);
      await assertKeys(url, "missed", 900);
      // And it keeps replicating from the log after the snapshot.
      await writeKeys(leader.proc!.url, "after", 10);
      await assertKeys(url, "after", 10);
      assert.ok(
        logged(cluster, leader.id, "snapshot transfer started").length === 0,
        "the leader serves a snapshot; it does not fetch one",
      );
      assert.ok(logged(cluster, follower.id, "snapshot transfer finished").length >= 1);
    } catch (error) {
      for (const n of cluster.nodes) {
        const lines = n.proc?.logs.filter((l) => !/dial failed|membership change/.test(l)) ?? [];
        console.error(`--- ${n.id}\n${lines.slice(-12).join("\n")}`);
      }
      throw error;
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a restart of the whole cluster after log compaction keeps every acknowledged write",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: snapshotArgs });
    try {
      const leader = await cluster.waitForLeader();
      await writeKeys(leader.proc!.url, "k", 250);
      await waitUntil(
        () =>
          cluster.nodes.every((n) =>
            logged(cluster, n.id, "snapshot taken").some((l) => Number(l.log_compacted_to) > 0)
          ),
        "every node compacting its log",
        30_000,
      );
      for (const n of cluster.nodes) await cluster.kill(n.id);
      // The compacted WAL no longer holds the bootstrap: the membership comes from a snapshot.
      for (const n of cluster.nodes) {
        const snaps = [...Deno.readDirSync(join(n.dataDir, "groups", "1.snapshots"))];
        assert.ok(snaps.length >= 1, `${n.id} keeps snapshots`);
      }
      await Promise.all(cluster.nodes.map((n) => cluster.start(n.id)));
      const again = await cluster.waitForLeader();
      for (const n of cluster.nodes) await assertKeys(n.proc!.url, "k", 250);
      await writeKeys(again.proc!.url, "new", 5);
      await assertKeys(cluster.nodes[0].proc!.url, "new", 5);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a node joining after the log was compacted starts from a snapshot and restarts from it",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: snapshotArgs });
    try {
      const leader = await cluster.waitForLeader();
      await writeKeys(leader.proc!.url, "k", 200);
      await waitUntil(
        () =>
          logged(cluster, leader.id, "snapshot taken").some((l) =>
            Number(l.log_compacted_to) > 100
          ),
        "the leader compacting away the bootstrap entries",
        30_000,
      );
      // "j4" sorts first, so it dials the others: it needs their addresses, which only the
      // snapshot carries now that the entries adding them are compacted.
      const j4 = await cluster.join("j4", leader.proc!.url);
      await waitUntil(
        () => logged(cluster, "j4", "snapshot installed").length > 0,
        "the joining node installing a snapshot",
        60_000,
      );
      await waitUntil(
        () => j4.proc!.logs.some((l) => l.includes('"promoted to voter"')),
        "the joining node being promoted",
        60_000,
      );
      await assertKeys(j4.proc!.url, "k", 200);
      await cluster.kill("j4");
      await cluster.start("j4");
      await writeKeys(leader.proc!.url, "more", 20);
      await assertKeys(j4.proc!.url, "more", 20);
    } catch (error) {
      for (const n of cluster.nodes) {
        const lines = n.proc?.logs.filter((l) => !/dial failed|snapshot taken/.test(l)) ?? [];
        console.error(`--- ${n.id}\n${lines.slice(-15).join("\n")}`);
      }
      throw error;
    } finally {
      await cluster.close();
    }
  },
});
