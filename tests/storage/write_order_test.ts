/**
 * Writes take effect in queue order or not at all: a write group that fails (here: a full
 * disk, a 2 MiB tmpfs; needs root, skipped otherwise) fails the writes queued behind it, so a
 * caller that queues writes back to back (a Raft replica applying its log) never finds a
 * later one applied after an earlier one failed.
 */
import assert from "node:assert/strict";
import { DiskFullError, open } from "../../src/storage/mod.ts";
import { b } from "./helpers.ts";
import { withTmpfs } from "./common_helpers.ts";

const MiB = 1024 * 1024;

Deno.test("a failed write group fails the writes queued behind it", async (t) => {
  await withTmpfs(t, "write order test", async (mnt) => {
    const store = await open(`${mnt}/data`, { valueBytesMax: 9 * MiB, mergeAuto: false });
    try {
      await store.put(b("before"), b("kept"));
      // Queued in one tick: the 9 MiB write is a group of its own (over the group byte
      // limit) and cannot fit on the 2 MiB disk; the small ones form the next group, which
      // would fit.
      const big = store.put(b("big"), new Uint8Array(9 * MiB), { seq: 10 });
      const small = [11, 12, 13].map((seq) => store.put(b(`small${seq}`), b("v"), { seq }));
      const results = await Promise.allSettled([big, ...small]);
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok(r.reason instanceof DiskFullError, `expected DiskFullError, got ${r.reason}`);
      }
      for (const key of ["big", "small11", "small12", "small13"]) {
        assert.equal(store.has(b(key)), false, `${key} must not be applied`);
      }
      assert.equal(store.has(b("before")), true);
      // Writes queued after the failure are served again.
      const after = await store.put(b("after"), b("v"), { seq: 20 });
      assert.equal(after.seq, 20);
    } finally {
      await store.close();
    }
  });
});
