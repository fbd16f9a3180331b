/**
 * Read consistency levels on a real 3-process cluster: lease reads see the latest
 * acknowledged write, and once a quorum is gone a stale read still answers (saying how far
 * behind it may be) while linearizable and lease reads answer 503.
 */
import assert from "node:assert/strict";
import { waitUntil } from "../server/server_process.ts";
import { pauseNode, putKey, resumeNode, startCluster } from "./cluster_process.ts";

interface Read {
  status: number;
  body: string;
  etag: string | null;
  headers: Headers;
}

async function read(url: string, key: string, consistency: string): Promise<Read> {
  const res = await fetch(`${url}/kv/${key}?consistency=${consistency}`, {
    signal: AbortSignal.timeout(20_000),
  });
  return {
    status: res.status,
    body: await res.text(),
    etag: res.headers.get("etag"),
    headers: res.headers,
  };
}

Deno.test({
  name: "lease reads on the leader and through a follower return the latest acknowledged write",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      for (let i = 0; i < 40; i++) {
        const via = i % 2 === 0 ? leader : follower;
        const put = await putKey(via.proc!.url, "lease-key", `v${i}`);
        assert.ok(put.status === 200 || put.status === 201, `put ${i}: ${put.status}`);
        for (const node of [leader, follower]) {
          const got = await read(node.proc!.url, "lease-key", "lease");
          assert.deepEqual(
            [got.status, got.body, got.etag],
            [200, `v${i}`, put.etag],
            `lease read ${i} on ${node.id}`,
          );
        }
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "without a quorum a stale read answers from the survivor while the others get 503",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader();
      const put = await putKey(leader.proc!.url, "k", "before");
      assert.equal(put.status, 201);
      const version = Number(put.etag!.replaceAll('"', ""));
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      await waitUntil(
        async () => (await read(follower.proc!.url, "k", "stale")).body === "before",
        "the follower applied the write",
        20_000,
      );
      const fresh = await read(follower.proc!.url, "k", "stale");
      assert.ok(Number(fresh.headers.get("RingKV-Applied-Index")) >= version);
      assert.match(fresh.headers.get("RingKV-Stale-Ms") ?? "", /^\d+$/, "heard from the leader");
      // Kill both followers: the leader is left alone, without a quorum.
      for (const n of cluster.nodes.filter((n) => n.id !== leader.id)) await cluster.kill(n.id);
      const url = leader.proc!.url;
      // Its lease and leadership end within an election timeout (200 ms by default).
      for (const level of ["lease", "linearizable"]) {
        let last: Read | undefined;
        await waitUntil(
          async () => (last = await read(url, "k", level)).status === 503,
          `a ${level} read answers 503`,
          30_000,
        );
        assert.equal(JSON.parse(last!.body).type, "urn:ringkv:problem:no-leader", level);
        assert.ok(last!.headers.get("retry-after") !== null);
      }
      const stale = await read(url, "k", "stale");
      assert.deepEqual([stale.status, stale.body, stale.etag], [200, "before", put.etag]);
      assert.ok(Number(stale.headers.get("RingKV-Applied-Index")) >= version);
      const staleMs = Number(stale.headers.get("RingKV-Stale-Ms"));
      assert.ok(staleMs >= 200, `behind by at least an election timeout: ${staleMs} ms`);
      const missing = await read(url, "no-such-key", "stale");
      assert.equal(missing.status, 404, "a stale 404 needs no leader either");
      assert.ok(missing.headers.get("RingKV-Applied-Index") !== null);
      const list = await fetch(`${url}/kv?consistency=stale`);
      assert.equal(list.status, 200);
      assert.deepEqual((await list.json()).items.map((i: { key: string }) => i.key), ["k"]);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a leader frozen past its lease does not serve a lease read from it once it wakes",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: ["--enable-fault-injection"] });
    try {
      const leader = await cluster.waitForLeader();
      const others = cluster.nodes.filter((n) => n.id !== leader.id);
      assert.equal((await putKey(leader.proc!.url, "k", "old")).status, 201);
      assert.equal((await read(leader.proc!.url, "k", "lease")).body, "old", "lease in force");
      // Cut the leader off, then freeze it before its ticks can tell it its quorum is gone.
      const cut = await fetch(`${leader.proc!.url}/admin/faults`, {
        method: "PUT",
        body: JSON.stringify({ cut: others.map((n) => n.id) }),
      });
      assert.equal(cut.status, 200, await cut.text());
      pauseNode(leader);
      try {
        // The others elect a leader among themselves and acknowledge a newer write.
        await waitUntil(
          async () => (await putKey(others[0].proc!.url, "k", "new", 2000)).status === 200,
          "a write acknowledged by the new majority",
          30_000,
        );
      } finally {
        resumeNode(leader);
      }
      // Its ticks say little time passed, but the lease is over in real time.
      const got = await read(leader.proc!.url, "k", "lease");
      assert.notEqual(got.body, "old", `a stale lease read after the pause (${got.status})`);
      assert.equal(got.status, 503);
    } finally {
      await cluster.close();
    }
  },
});
