import assert from "node:assert/strict";
import { open } from "../../src/storage/mod.ts";
import type { Store } from "../../src/storage/mod.ts";
import { b, filesEnding, s, waitFor, withTempDir } from "./helpers.ts";

const small = { segmentBytesMax: 1024, mergeAuto: false } as const;

async function overwriteMany(store: Store, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 10; i++) await store.put(b(`k${i}`), b(`r${r}-${"x".repeat(30)}`));
  }
}

Deno.test("merge rewrites dead segments, reclaims bytes and keeps every value", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    await overwriteMany(store, 20);
    const before = store.stats();
    const result = await store.merge();
    const after = store.stats();
    assert.ok(result.segmentsMerged > 0);
    assert.ok(result.bytesReclaimed > 0);
    assert.ok(after.diskBytes < before.diskBytes);
    assert.equal(after.merges, 1);
    for (let i = 0; i < 10; i++) {
      assert.equal(s(await store.get(b(`k${i}`))), `r19-${"x".repeat(30)}`);
    }
    await store.close();
    assert.equal(filesEnding(dir, ".tmp").length, 0);
    assert.equal(filesEnding(dir, "MERGE").length, 0);
    const again = await open(dir, small);
    try {
      assert.equal(again.stats().keys, 10);
      for (let i = 0; i < 10; i++) {
        assert.equal(s(await again.get(b(`k${i}`))), `r19-${"x".repeat(30)}`);
      }
    } finally {
      await again.close();
    }
  });
});

Deno.test("merge with nothing past the threshold does nothing", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    for (let i = 0; i < 50; i++) await store.put(b(`unique${i}`), b("v".repeat(30)));
    const files = filesEnding(dir, ".seg");
    assert.deepEqual(await store.merge(), { segmentsMerged: 0, bytesReclaimed: 0 });
    assert.deepEqual(filesEnding(dir, ".seg"), files);
    await store.close();
  });
});

Deno.test("a deleted key stays deleted after merge and reopen", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    await store.put(b("victim"), b("old value"));
    for (let i = 0; i < 30; i++) await store.put(b(`pad${i}`), b("p".repeat(40)));
    await store.delete(b("victim"));
    await overwriteMany(store, 10);
    await store.merge();
    await store.close();
    const again = await open(dir, small);
    try {
      assert.equal(await again.get(b("victim")), undefined);
      await again.merge();
      assert.equal(await again.get(b("victim")), undefined);
    } finally {
      await again.close();
    }
    const third = await open(dir, small);
    try {
      assert.equal(await third.get(b("victim")), undefined);
    } finally {
      await third.close();
    }
  });
});

Deno.test("a tombstone is kept while an unmerged segment holds an older put", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, { ...small, mergeDeadRatioMin: 0.5 });
    // Segment 1: the victim's put and enough live data that it stays below the threshold.
    await store.put(b("victim"), b("v".repeat(200)));
    for (let i = 0; i < 4; i++) await store.put(b(`live${i}`), b("l".repeat(150)));
    await store.put(b("pad"), b("p".repeat(50))); // 1012 bytes: the tombstone will not fit
    const first = filesEnding(dir, ".seg")[0];
    assert.equal(Deno.statSync(`${dir}/${first}`).size, 1012);
    // Later segments: the tombstone and churn, far past the threshold.
    await store.delete(b("victim"));
    for (let i = 0; i < 20; i++) await store.put(b("churn"), b("c".repeat(100)));
    const result = await store.merge();
    assert.ok(result.segmentsMerged > 0);
    assert.ok(filesEnding(dir, ".seg").includes(first), "the put's segment must stay unmerged");
    assert.equal(Deno.statSync(`${dir}/${first}`).size, 1012);
    await store.close();
    const again = await open(dir, small);
    try {
      assert.equal(await again.get(b("victim")), undefined);
      for (let i = 0; i < 4; i++) assert.ok(again.has(b(`live${i}`)));
    } finally {
      await again.close();
    }
  });
});

Deno.test("writes made while a merge runs are kept", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    await overwriteMany(store, 30);
    const merging = store.merge();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) writes.push(store.put(b(`k${i}`), b(`during-${i}`)));
    writes.push(store.delete(b("k0")));
    await Promise.all([merging, ...writes]);
    assert.equal(await store.get(b("k0")), undefined);
    for (let i = 1; i < 10; i++) assert.equal(s(await store.get(b(`k${i}`))), `during-${i}`);
    await store.close();
    const again = await open(dir, small);
    try {
      assert.equal(await again.get(b("k0")), undefined);
      for (let i = 1; i < 10; i++) assert.equal(s(await again.get(b(`k${i}`))), `during-${i}`);
    } finally {
      await again.close();
    }
  });
});

Deno.test("merged segments get hint files that reopen uses", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    await overwriteMany(store, 20);
    await store.merge();
    await store.close();
    assert.ok(filesEnding(dir, ".hint").length > 0);
    const again = await open(dir, small);
    try {
      assert.equal(again.stats().keys, 10);
    } finally {
      await again.close();
    }
  });
});

Deno.test("background merge starts by itself when mergeAuto is on", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, { ...small, mergeAuto: true });
    try {
      await overwriteMany(store, 20);
      await waitFor(() => store.stats().merges > 0, { what: "an automatic merge" });
      for (let i = 0; i < 10; i++) {
        assert.equal(s(await store.get(b(`k${i}`))), `r19-${"x".repeat(30)}`);
      }
    } finally {
      await store.close();
    }
  });
});

Deno.test("leftover temporary files of an uncommitted merge are removed on open", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir, small);
    await overwriteMany(store, 3);
    await store.close();
    Deno.writeFileSync(`${dir}/000099.seg.tmp`, new Uint8Array(100));
    Deno.writeFileSync(`${dir}/MERGE.tmp`, new Uint8Array(10));
    const again = await open(dir, small);
    try {
      assert.equal(filesEnding(dir, ".tmp").length, 0);
      assert.equal(again.stats().keys, 10);
    } finally {
      await again.close();
    }
  });
});

Deno.test("the merge observer hears each merge", async () => {
  await withTempDir(async (dir) => {
    const seen: number[] = [];
    const store = await open(dir, {
      ...small,
      observer: { merged: (r) => seen.push(r.segmentsMerged) },
    });
    await overwriteMany(store, 20);
    await store.merge();
    await store.close();
    assert.equal(seen.length, 1);
    assert.ok(seen[0] > 0);
  });
});
