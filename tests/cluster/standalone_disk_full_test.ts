/**
 * A node whose disk fills up (a 2 MiB tmpfs; needs root, skipped otherwise) answers 507 for
 * the writes it could not make, keeps serving reads, takes writes again once space is freed,
 * and after a restart holds every acknowledged write and nothing it refused.
 */
import assert from "node:assert/strict";
import { withTmpfs } from "../storage/common_helpers.ts";
import { startServer, waitUntil } from "../server/server_process.ts";

const valueBytes = 50_000;

function valueOf(i: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(valueBytes).fill(i % 256);
}

async function put(url: string, key: string, body: BodyInit): Promise<Response> {
  const res = await fetch(`${url}/kv/${key}`, { method: "PUT", body });
  await res.body?.cancel();
  return res;
}

async function assertHolds(url: string, i: number): Promise<void> {
  const res = await fetch(`${url}/kv/k${i}`);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, `k${i}`);
  assert.equal(body.byteLength, valueBytes);
  assert.equal(body[valueBytes - 1], i % 256);
}

Deno.test("a full disk answers 507, keeps reads, and takes writes again once space is freed", async (t) => {
  await withTmpfs(t, "node disk-full test", async (mnt) => {
    const dataDir = `${mnt}/data`;
    const filler = `${mnt}/filler`;
    Deno.writeFileSync(filler, new Uint8Array(1024 * 1024));
    const server = await startServer(dataDir);
    const acked: number[] = [];
    const refused: number[] = [];
    try {
      for (let i = 0; i < 200 && refused.length === 0; i++) {
        const res = await put(server.url, `k${i}`, valueOf(i));
        if (res.status === 201) acked.push(i);
        else if (res.status === 507) refused.push(i);
        else assert.fail(`k${i}: status ${res.status}`);
      }
      assert.ok(refused.length > 0, "the disk filled up and a write was refused with 507");
      assert.ok(acked.length > 0, "some writes fit");
      assert.ok(server.logs.some((line) => line.includes("the disk is full")), "logged");
      // Still serving: every acknowledged write reads back, the refused one is absent.
      for (const i of acked) await assertHolds(server.url, i);
      assert.equal((await fetch(`${server.url}/kv/k${refused[0]}`)).status, 404);
      // Space returns: writes are taken again, without a restart.
      Deno.removeSync(filler);
      await waitUntil(
        async () => (await put(server.url, "after", "space is back")).status === 201,
        "a write to be taken again",
        20_000,
      );
      assert.equal(await (await fetch(`${server.url}/kv/after`)).text(), "space is back");
      assert.equal((await server.stop()).code, 0);
    } finally {
      await server.stop("SIGKILL");
    }
    const again = await startServer(dataDir);
    try {
      for (const i of acked) await assertHolds(again.url, i);
      assert.equal((await fetch(`${again.url}/kv/k${refused[0]}`)).status, 404);
      assert.equal(await (await fetch(`${again.url}/kv/after`)).text(), "space is back");
    } finally {
      assert.equal((await again.stop()).code, 0);
    }
  });
});
