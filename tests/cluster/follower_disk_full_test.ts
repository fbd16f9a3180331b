/**
 * A follower whose disk fills up (its data directory moved onto a 2 MiB tmpfs; needs root,
 * skipped otherwise) stays up and out of the way while the other two go on acknowledging
 * writes, and catches up once space is freed.
 */
import assert from "node:assert/strict";
import { withTmpfs } from "../storage/common_helpers.ts";
import { waitUntil } from "../server/server_process.ts";
import { startCluster } from "./cluster_process.ts";

async function put(url: string, key: string, body: BodyInit): Promise<number> {
  const res = await fetch(`${url}/kv/${key}`, { method: "PUT", body });
  await res.body?.cancel();
  return res.status;
}

async function staleRead(url: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${url}/kv/${key}?consistency=stale`);
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  return await res.text();
}

Deno.test({
  name: "a follower with a full disk stays up, the others go on, and it catches up after",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await withTmpfs(t, "follower disk-full test", async (mnt) => {
      const cluster = await startCluster(3);
      try {
        const leader = await cluster.waitForLeader();
        const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
        assert.equal(await put(leader.proc!.url, "before", "1"), 201);
        // Move the follower's data onto the small disk, and fill most of that disk.
        await cluster.kill(follower.id);
        const moved = `${mnt}/${follower.id}`;
        const cp = await new Deno.Command("cp", { args: ["-a", follower.dataDir, moved] }).output();
        assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
        follower.dataDir = moved;
        // Each write takes its size twice there (WAL and store): small values and a big filler
        // leave room for the backlog once the filler is gone.
        Deno.writeFileSync(`${mnt}/filler`, new Uint8Array(1536 * 1024));
        const proc = await cluster.start(follower.id);
        await waitUntil(
          async () => (await staleRead(proc.url, "before")) === "1",
          "catch-up",
          20_000,
        );

        const value = new Uint8Array(20_000).fill(7);
        const full = () => proc.logs.some((line) => line.includes("the disk is full"));
        for (let i = 0; i < 100 && !full(); i++) {
          assert.equal(await put(leader.proc!.url, `big${i}`, value), 201, `big${i}`);
        }
        assert.ok(full(), "the follower's disk filled up");
        // The two others still make a quorum; the follower did not stop.
        for (let i = 0; i < 5; i++) assert.equal(await put(leader.proc!.url, `more${i}`, "x"), 201);
        assert.equal((await fetch(`${proc.url}/health`)).status, 200);

        Deno.removeSync(`${mnt}/filler`);
        assert.equal(await put(leader.proc!.url, "after", "space is back"), 201);
        await waitUntil(
          async () => (await staleRead(proc.url, "after")) === "space is back",
          "the follower to catch up once space is freed",
          30_000,
        ).catch((error) => {
          console.log(`${follower.id}'s last log lines:\n${proc.logs.slice(-25).join("\n")}`);
          throw error;
        });
        assert.equal((await staleRead(proc.url, "big0"))?.length, 20_000);
      } finally {
        await cluster.close();
      }
    });
  },
});
