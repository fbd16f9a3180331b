/**
 * bench/etcd_cluster.ts: the etcd peer of the replicated benchmarks starts as one cluster on
 * loopback, serves the v3 JSON gateway bench/load.ts speaks, and leaves nothing behind.
 * Tests that need etcd are skipped (with the reason in their name) where it is not installed.
 */
import assert from "node:assert/strict";
import { type EtcdCluster, findEtcd, startEtcdCluster } from "../../bench/etcd_cluster.ts";
import { loadDefaults, runLoad } from "../../bench/load.ts";
import { exists } from "./helpers.ts";

const etcdMissing = findEtcd() === undefined;
const skipNote = " (skipped: etcd is not installed; apt-get install etcd-server or set ETCD_BIN)";

function etcdTest(name: string, fn: (cluster: EtcdCluster) => Promise<void>): void {
  Deno.test({
    name: etcdMissing ? name + skipNote : name,
    ignore: etcdMissing,
    fn: async () => {
      const cluster = await startEtcdCluster({ startTimeoutMs: 60_000 });
      try {
        await fn(cluster);
      } finally {
        await cluster.stop();
      }
    },
  });
}

const b64 = (text: string) => btoa(text);

async function gateway(url: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return await response.json();
}

Deno.test("startEtcdCluster rejects a member count outside 1..7", async () => {
  await assert.rejects(startEtcdCluster({ members: 0 }), RangeError);
  await assert.rejects(startEtcdCluster({ members: 8 }), RangeError);
});

Deno.test("startEtcdCluster says how to get etcd when the executable is missing", async () => {
  assert.equal(findEtcd("/nonexistent/etcd"), undefined);
  await assert.rejects(
    startEtcdCluster({ etcdPath: "/nonexistent/etcd" }),
    /etcd not found: install Debian's etcd-server or set ETCD_BIN/,
  );
});

etcdTest("a put through one member's v3 gateway is read from another member", async (cluster) => {
  assert.equal(cluster.members.length, 3);
  assert.equal(new Set(cluster.clientUrls).size, 3);
  assert.match(cluster.version, /^3\.\d+\.\d+/);
  await gateway(cluster.clientUrls[0], "/v3/kv/put", { key: b64("k1"), value: b64("v1") });
  const range = await gateway(cluster.clientUrls[2], "/v3/kv/range", { key: b64("k1") }) as {
    kvs?: { value: string }[];
  };
  assert.equal(range.kvs?.length, 1);
  assert.equal(atob(range.kvs![0].value), "v1");
});

etcdTest("load.ts --target etcd writes keys it then reads back, without errors", async (c) => {
  const report = await runLoad({
    ...loadDefaults,
    urls: c.clientUrls,
    target: "etcd",
    connections: 4,
    durationS: 1,
    keys: 50,
    readRatio: 1,
    preload: true,
    progress: null,
  });
  assert.equal(report.preload?.errors, 0);
  assert.equal(report.preload?.keys, 50);
  assert.equal(report.errors, 0, JSON.stringify(report.errorsByKind));
  assert.ok(report.reads > 0);
  assert.equal(report.notFound, 0, "every preloaded key is found");
});

etcdTest("stop ends every member and removes the data directory", async (cluster) => {
  const pids = cluster.members.map((m) => m.pid);
  assert.ok(exists(cluster.baseDir));
  assert.ok(pids.every((pid) => exists(`/proc/${pid}`)), "members run");
  await cluster.stop();
  await cluster.stop(); // idempotent
  assert.ok(!exists(cluster.baseDir), "data directory removed");
  const alive = pids.filter((pid) => {
    try {
      return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, []);
});
