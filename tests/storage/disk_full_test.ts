/**
 * Disk full for real: a 2 MiB tmpfs mounted on a temp dir (needs root; skipped otherwise).
 */
import assert from "node:assert/strict";
import { DiskFullError, open } from "../../src/storage/mod.ts";
import { b } from "./helpers.ts";
import { withTmpfs } from "./common_helpers.ts";

for (const segmentBytesMax of [8 * 1024 * 1024, 64 * 1024]) {
  Deno.test(`a full disk fails the write with DiskFullError and the store recovers (segments of ${segmentBytesMax} bytes)`, async (t) => {
    await diskFull(t, segmentBytesMax);
  });
}

async function diskFull(t: Deno.TestContext, segmentBytesMax: number): Promise<void> {
  await withTmpfs(t, "disk-full test", async (mnt) => {
    const dir = `${mnt}/data`;
    const filler = `${mnt}/filler`;
    Deno.writeFileSync(filler, new Uint8Array(1024 * 1024));
    const store = await open(dir, { segmentBytesMax, mergeAuto: false });
    const acked: number[] = [];
    let failure: unknown;
    for (let i = 0; i < 200 && failure === undefined; i++) {
      try {
        await store.put(b(`k${i}`), new Uint8Array(50_000).fill(i % 256));
        acked.push(i);
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(failure instanceof DiskFullError, `expected DiskFullError, got ${failure}`);
    assert.equal(failure.code, "disk_full");
    assert.ok(acked.length > 0);
    // Still readable, and every acknowledged write is intact.
    for (const i of acked) assert.equal((await store.get(b(`k${i}`)))?.[49_999], i % 256);
    const failedKey = b(`k${acked.length}`);
    assert.equal(store.has(failedKey), false);
    // Space returns: writes are accepted again.
    Deno.removeSync(filler);
    await store.put(failedKey, b("after"));
    await store.close();
    const again = await open(dir, { mergeAuto: false });
    try {
      assert.equal(again.stats().keys, acked.length + 1);
      assert.equal(new TextDecoder().decode(await again.get(failedKey)), "after");
      for (const i of acked) assert.equal((await again.get(b(`k${i}`)))?.[0], i % 256);
    } finally {
      await again.close();
    }
  });
}

Deno.test("writes with explicit seqs that failed on a full disk can be made again with the same seqs", async (t) => {
  await withTmpfs(t, "disk-full seq test", async (mnt) => {
    const dir = `${mnt}/data`;
    const filler = `${mnt}/filler`;
    Deno.writeFileSync(filler, new Uint8Array(1024 * 1024));
    const store = await open(dir, { mergeAuto: false, sync: "interval" });
    try {
      const value = (i: number) => new Uint8Array(50_000).fill(i % 256);
      let failedSeq: number | undefined;
      for (let seq = 1; seq <= 200 && failedSeq === undefined; seq++) {
        // As a replica applies its log: each entry's index is its seq.
        const results = await Promise.allSettled([store.put(b(`k${seq}`), value(seq), { seq })]);
        if (results[0].status === "rejected") {
          assert.ok(results[0].reason instanceof DiskFullError);
          failedSeq = seq;
        }
      }
      assert.ok(failedSeq !== undefined, "the disk filled up");
      assert.equal(store.stats().lastSeq, failedSeq - 1);
      Deno.removeSync(filler);
      const again = await store.put(b(`k${failedSeq}`), value(failedSeq), { seq: failedSeq });
      assert.equal(again.seq, failedSeq);
      await store.put(b("next"), b("v"), { seq: failedSeq + 1 });
      assert.equal(store.stats().lastSeq, failedSeq + 1);
    } finally {
      await store.close();
    }
  });
});
