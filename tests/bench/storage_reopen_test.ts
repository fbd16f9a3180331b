import assert from "node:assert/strict";
import { openPeer } from "../../bench/storage_peers.ts";
import { measureReopen } from "../../bench/storage_reopen.ts";
import { preload } from "../../bench/storage_workloads.ts";

Deno.test("measureReopen reopens a filled directory in a child and reports its figures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv-reopen-test-" });
  try {
    const peer = await openPeer("sqlite", dir);
    await preload(peer, 2000);
    await peer.close();
    const result = await measureReopen("sqlite", dir, 2000, { timeoutMs: 60_000 });
    assert.equal(result.engine, "sqlite");
    assert.equal(result.keys, 2000);
    assert.ok(result.openMs > 0 && result.openMs < 60_000, `openMs ${result.openMs}`);
    assert.ok(Number.isFinite(result.rssDeltaBytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("measureReopen fails when a preloaded key is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv-reopen-test-" });
  try {
    const peer = await openPeer("sqlite", dir);
    await preload(peer, 10);
    await peer.close();
    await assert.rejects(() => measureReopen("sqlite", dir, 20, { timeoutMs: 60_000 }), /missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
