/**
 * A node whose disk fills up (a 2 MiB tmpfs; needs root, skipped otherwise) stops with a clear
 * log line rather than acknowledging what it could not write, and once space is freed it
 * restarts with every acknowledged write.
 */
import assert from "node:assert/strict";
import { withTmpfs } from "../storage/common_helpers.ts";
import { startServer } from "../server/server_process.ts";

Deno.test("a full disk stops a node; after space is freed it restarts with every acknowledged write", async (t) => {
  await withTmpfs(t, "node disk-full test", async (mnt) => {
    const dataDir = `${mnt}/data`;
    const filler = `${mnt}/filler`;
    Deno.writeFileSync(filler, new Uint8Array(1024 * 1024));
    const server = await startServer(dataDir);
    const acked: number[] = [];
    let failed: string | undefined;
    try {
      for (let i = 0; i < 200 && failed === undefined; i++) {
        try {
          const value = new Uint8Array(50_000).fill(i % 256);
          const res = await fetch(`${server.url}/kv/k${i}`, { method: "PUT", body: value });
          await res.body?.cancel();
          if (res.status === 201) acked.push(i);
          else failed = `status ${res.status}`;
        } catch (error) {
          failed = `connection: ${(error as Error).message}`;
        }
      }
      assert.ok(failed !== undefined, "the disk filled up");
      assert.ok(acked.length > 0, "some writes fit");
      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 1, `the node stopped on its own: ${failed}`);
      assert.ok(
        server.logs.some((line) => line.includes("disk is full")),
        "the log says the disk is full",
      );
    } finally {
      await server.stop("SIGKILL");
    }
    Deno.removeSync(filler);
    const again = await startServer(dataDir);
    try {
      for (const i of acked) {
        const res = await fetch(`${again.url}/kv/k${i}`);
        const body = new Uint8Array(await res.arrayBuffer());
        assert.equal(res.status, 200, `k${i}`);
        assert.equal(body.byteLength, 50_000);
        assert.equal(body[49_999], i % 256);
      }
      const res = await fetch(`${again.url}/kv/after`, { method: "PUT", body: "space is back" });
      await res.body?.cancel();
      assert.equal(res.status, 201);
    } finally {
      assert.equal((await again.stop()).code, 0);
    }
  });
});
