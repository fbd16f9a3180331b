/** The beforeSync hook of the WAL and of the store: awaited before each fsync, absent by default. */
import assert from "node:assert/strict";
import { open } from "../../../src/storage/mod.ts";
import { makeEntries, withWal } from "./helpers.ts";
import { b } from "../common_helpers.ts";

Deno.test("the WAL awaits beforeSync before each fsync, so an append waits for it", async () => {
  let calls = 0;
  const hold = { delayMs: 0 };
  const beforeSync = () => {
    calls++;
    if (hold.delayMs === 0) return undefined;
    return new Promise<void>((resolve) => setTimeout(resolve, hold.delayMs));
  };
  await withWal({ beforeSync }, async (wal) => {
    const callsAtOpen = calls;
    assert.ok(callsAtOpen >= 1, "opening syncs the new file's checkpoint through the hook");
    await wal.append(1, { entries: makeEntries(1, 1, 1, 1) });
    assert.equal(calls, callsAtOpen + 1, "one flush, one fsync, one call");
    hold.delayMs = 80;
    const started = performance.now();
    await wal.append(1, { entries: makeEntries(1, 2, 2, 1) });
    assert.ok(performance.now() - started >= 75, "the append was durable only after the delay");
    assert.equal(wal.stats().syncs, 2);
  });
});

Deno.test("the store awaits beforeSync before each fdatasync of written data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_before_sync_" });
  let calls = 0;
  const store = await open(dir, {
    sync: "always",
    beforeSync: () => {
      calls++;
      return new Promise<void>((resolve) => setTimeout(resolve, 60));
    },
  });
  try {
    const started = performance.now();
    await store.put(b("k"), b("v"));
    assert.ok(performance.now() - started >= 55, "the write was acknowledged after the delay");
    assert.equal(calls, 1);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
