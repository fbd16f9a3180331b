import assert from "node:assert/strict";
import { ConditionFailedError, open, StoreClosedError } from "../../src/storage/mod.ts";
import { b, filesEnding, s, withStore, withTempDir } from "./helpers.ts";

Deno.test("get returns undefined for a missing key", async () => {
  await withStore({}, async (store) => {
    assert.equal(await store.get(b("nope")), undefined);
    assert.equal(await store.getVersioned(b("nope")), undefined);
  });
});

Deno.test("get returns the value last put", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), b("1"));
    await store.put(b("a"), b("2"));
    assert.equal(s(await store.get(b("a"))), "2");
  });
});

Deno.test("put assigns increasing seqs and reports whether the key existed", async () => {
  await withStore({}, async (store) => {
    const r1 = await store.put(b("a"), b("1"));
    const r2 = await store.put(b("a"), b("2"));
    const r3 = await store.put(b("b"), b("3"));
    assert.deepEqual([r1.existed, r2.existed, r3.existed], [false, true, false]);
    assert.ok(r1.seq < r2.seq && r2.seq < r3.seq);
    const v = await store.getVersioned(b("a"));
    assert.equal(v?.seq, r2.seq);
    assert.equal(store.version(b("a")), r2.seq);
    assert.equal(store.stats().lastSeq, r3.seq);
  });
});

Deno.test("an empty value is stored and read back as empty", async () => {
  await withStore({}, async (store) => {
    await store.put(b("e"), new Uint8Array(0));
    const v = await store.get(b("e"));
    assert.ok(v !== undefined);
    assert.equal(v.byteLength, 0);
  });
});

Deno.test("delete removes a key and reports whether it existed", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), b("1"));
    const d1 = await store.delete(b("a"));
    const d2 = await store.delete(b("a"));
    assert.equal(d1.existed, true);
    assert.equal(d2.existed, false);
    assert.equal(await store.get(b("a")), undefined);
    assert.equal(store.has(b("a")), false);
    assert.equal(store.version(b("a")), undefined);
  });
});

Deno.test("put with a caller seq uses it and refuses one not above the last", async () => {
  await withStore({}, async (store) => {
    const r = await store.put(b("a"), b("1"), { seq: 100 });
    assert.equal(r.seq, 100);
    assert.equal(store.version(b("a")), 100);
    await assert.rejects(store.put(b("a"), b("2"), { seq: 100 }), RangeError);
    const next = await store.put(b("a"), b("3"));
    assert.equal(next.seq, 101);
  });
});

Deno.test("a compare-and-set succeeds on the current version and fails on another", async () => {
  await withStore({}, async (store) => {
    const { seq } = await store.put(b("a"), b("1"));
    await store.put(b("a"), b("2"), { if: { seq } });
    const err = await store.put(b("a"), b("3"), { if: { seq } }).catch((e) => e);
    assert.ok(err instanceof ConditionFailedError);
    assert.equal(err.code, "condition_failed");
    assert.equal(err.currentSeq, seq + 1);
    assert.equal(s(await store.get(b("a"))), "2");
  });
});

Deno.test("create-only and present conditions hold only in their state", async () => {
  await withStore({}, async (store) => {
    await assert.rejects(
      store.put(b("a"), b("x"), { if: { present: true } }),
      ConditionFailedError,
    );
    await store.put(b("a"), b("1"), { if: { absent: true } });
    await assert.rejects(store.put(b("a"), b("2"), { if: { absent: true } }), ConditionFailedError);
    await store.delete(b("a"), { if: { present: true } });
    await assert.rejects(store.delete(b("a"), { if: { present: true } }), ConditionFailedError);
    assert.equal(await store.get(b("a")), undefined);
  });
});

Deno.test("of concurrent create-only writes of one key exactly the first wins", async () => {
  await withStore({}, async (store) => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.put(b("k"), b(`v${i}`), { if: { absent: true } })),
    );
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(s(await store.get(b("k"))), "v0");
  });
});

Deno.test("a batch applies every op with one seq", async () => {
  await withStore({}, async (store) => {
    await store.put(b("gone"), b("x"));
    const { seq } = await store.batch([
      { type: "put", key: b("a"), value: b("1") },
      { type: "put", key: b("b"), value: b("2") },
      { type: "delete", key: b("gone") },
    ]);
    assert.equal(store.version(b("a")), seq);
    assert.equal(store.version(b("b")), seq);
    assert.equal(await store.get(b("gone")), undefined);
  });
});

Deno.test("a batch with a failing condition writes nothing and names the op", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), b("old"));
    const err = await store.batch([
      { type: "put", key: b("a"), value: b("new") },
      { type: "put", key: b("b"), value: b("2"), if: { present: true } },
    ]).catch((e) => e);
    assert.ok(err instanceof ConditionFailedError);
    assert.equal(err.opIndex, 1);
    assert.equal(s(await store.get(b("a"))), "old");
    assert.equal(store.has(b("b")), false);
  });
});

Deno.test("a batch that writes one key twice keeps the later op", async () => {
  await withStore({}, async (store, dir) => {
    await store.batch([
      { type: "put", key: b("a"), value: b("1") },
      { type: "put", key: b("a"), value: b("2") },
    ]);
    assert.equal(s(await store.get(b("a"))), "2");
    await store.close();
    const again = await open(dir);
    try {
      assert.equal(s(await again.get(b("a"))), "2");
    } finally {
      await again.close();
    }
  });
});

Deno.test("scan returns keys in byte order within start and end", async () => {
  await withStore({}, async (store) => {
    for (const k of ["b", "a", "d", "c", "e"]) await store.put(b(k), b(k.toUpperCase()));
    const all = await store.scan();
    assert.deepEqual(all.map((e) => s(e.key)), ["a", "b", "c", "d", "e"]);
    assert.deepEqual(all.map((e) => s(e.value)), ["A", "B", "C", "D", "E"]);
    const mid = await store.scan({ start: b("b"), end: b("d") });
    assert.deepEqual(mid.map((e) => s(e.key)), ["b", "c"]);
  });
});

Deno.test("scan orders keys by unsigned bytes", async () => {
  await withStore({}, async (store) => {
    const keys = [[0xff], [0x80], [0x00], [0x7f], [0x80, 0x00], [0xc3, 0xa9]];
    for (const k of keys) await store.put(new Uint8Array(k), b("v"));
    const got = (await store.scan()).map((e) => [...e.key]);
    const want = keys.map((k) => [...k]).sort((x, y) => {
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    });
    assert.deepEqual(got, want);
  });
});

Deno.test("scan by prefix returns only keys with that prefix", async () => {
  await withStore({}, async (store) => {
    for (const k of ["app", "apple", "apq", "ap", "b", "aa"]) await store.put(b(k), b("v"));
    const got = await store.scan({ prefix: b("app") });
    assert.deepEqual(got.map((e) => s(e.key)), ["app", "apple"]);
    await store.put(new Uint8Array([1, 0xff]), b("x"));
    await store.put(new Uint8Array([1, 0xff, 3]), b("y"));
    await store.put(new Uint8Array([2]), b("z"));
    const ff = await store.scan({ prefix: new Uint8Array([1, 0xff]) });
    assert.equal(ff.length, 2);
  });
});

Deno.test("scan honours limit, reverse and keysOnly", async () => {
  await withStore({}, async (store) => {
    for (const k of ["a", "b", "c", "d"]) await store.put(b(k), b("v" + k));
    const rev = await store.scan({ reverse: true, limit: 2 });
    assert.deepEqual(rev.map((e) => s(e.key)), ["d", "c"]);
    const revRange = await store.scan({ reverse: true, start: b("b"), end: b("d") });
    assert.deepEqual(revRange.map((e) => s(e.key)), ["c", "b"]);
    const keys = await store.scan({ keysOnly: true, limit: 3 });
    assert.deepEqual(keys.map((e) => s(e.key)), ["a", "b", "c"]);
    assert.ok(keys.every((e) => e.value === undefined && e.seq > 0));
    assert.deepEqual(await store.scan({ limit: 0 }), []);
  });
});

Deno.test("scan refuses prefix together with start or end", async () => {
  await withStore({}, async (store) => {
    await assert.rejects(store.scan({ prefix: b("a"), start: b("a") }), RangeError);
  });
});

Deno.test("concurrent durable puts share syncs (group commit)", async () => {
  await withStore({}, async (store) => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.put(b(`k${i}`), b("v"))));
    const st = store.stats();
    assert.equal(st.syncedWrites, 200);
    assert.ok(st.syncs < 50, `expected shared syncs, got ${st.syncs} syncs for 200 writes`);
    assert.equal(st.keys, 200);
  });
});

Deno.test("the observer hears each sync with its group size", async () => {
  const sizes: number[] = [];
  await withStore({ observer: { synced: (_s, writes) => sizes.push(writes) } }, async (store) => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(b(`k${i}`), b("v"))));
    assert.equal(sizes.reduce((x, y) => x + y, 0), 10);
  });
});

Deno.test("writes survive close and reopen", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    await store.put(b("a"), b("1"));
    await store.batch([{ type: "put", key: b("b"), value: b("2") }]);
    await store.delete(b("a"));
    const last = store.stats().lastSeq;
    await store.close();
    const again = await open(dir);
    try {
      assert.equal(await again.get(b("a")), undefined);
      assert.equal(s(await again.get(b("b"))), "2");
      assert.equal(again.stats().lastSeq, last);
      assert.equal((await again.put(b("c"), b("3"))).seq, last + 1);
    } finally {
      await again.close();
    }
  });
});

Deno.test("sync mode none never syncs and interval syncs in the background", async () => {
  await withStore({ sync: "none" }, async (store) => {
    await store.put(b("a"), b("1"));
    assert.equal(store.stats().syncs, 0);
    await store.sync();
    assert.equal(store.stats().syncs, 1);
  });
  await withStore({ sync: "interval", syncIntervalMs: 5 }, async (store) => {
    await store.put(b("a"), b("1"));
    const deadline = Date.now() + 5000;
    while (store.stats().syncs === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(store.stats().syncs >= 1);
  });
});

Deno.test("every method throws StoreClosedError after close, and close is idempotent", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    await store.put(b("a"), b("1"));
    await Promise.all([store.close(), store.close()]);
    await store.close();
    await assert.rejects(store.get(b("a")), StoreClosedError);
    await assert.rejects(store.put(b("a"), b("2")), StoreClosedError);
    await assert.rejects(store.batch([]), StoreClosedError);
    await assert.rejects(store.scan(), StoreClosedError);
    await assert.rejects(store.sync(), StoreClosedError);
    await assert.rejects(store.merge(), StoreClosedError);
    assert.throws(() => store.has(b("a")), StoreClosedError);
  });
});

Deno.test("close waits for writes already queued", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    const writes = Array.from({ length: 50 }, (_, i) => store.put(b(`k${i}`), b("v")));
    await store.close();
    await Promise.all(writes);
    const again = await open(dir);
    try {
      assert.equal(again.stats().keys, 50);
    } finally {
      await again.close();
    }
  });
});

Deno.test("segments roll at segmentBytesMax", async () => {
  await withStore({ segmentBytesMax: 1024 }, async (store, dir) => {
    for (let i = 0; i < 100; i++) await store.put(b(`key${i}`), new Uint8Array(50));
    const segs = filesEnding(dir, ".seg");
    assert.ok(segs.length >= 5, `expected several segments, got ${segs.length}`);
    for (const name of segs) {
      assert.ok(Deno.statSync(`${dir}/${name}`).size <= 1024 + 100);
    }
    assert.equal(store.stats().segments, segs.length);
    assert.equal(store.stats().keys, 100);
  });
});

Deno.test("stats count live and dead bytes", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), new Uint8Array(100));
    const before = store.stats();
    await store.put(b("a"), new Uint8Array(100));
    const after = store.stats();
    assert.equal(after.liveBytes, before.liveBytes);
    assert.ok(after.deadBytes >= before.deadBytes + 100);
    assert.equal(after.keys, 1);
  });
});

Deno.test("the value cache serves repeated gets and can be disabled", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), b("1"));
    await store.get(b("a"));
    await store.get(b("a"));
    assert.ok(store.stats().cacheHits >= 2);
    assert.ok(store.stats().cacheBytes > 0);
  });
  await withStore({ cacheBytesMax: 0 }, async (store) => {
    await store.put(b("a"), b("1"));
    assert.equal(s(await store.get(b("a"))), "1");
    assert.equal(store.stats().cacheHits, 0);
    assert.equal(store.stats().cacheBytes, 0);
  });
});

Deno.test("an uncached value is read back from disk", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    await store.put(b("a"), b("disk value"));
    await store.close();
    const again = await open(dir);
    try {
      assert.equal(s(await again.get(b("a"))), "disk value");
      assert.equal(again.stats().cacheMisses, 1);
    } finally {
      await again.close();
    }
  });
});

Deno.test("a write is invisible to readers until it is acknowledged", async () => {
  await withStore({}, async (store) => {
    await store.put(b("a"), b("old"));
    const pending = store.put(b("a"), b("new"));
    const pendingNew = store.put(b("fresh"), b("x"));
    assert.equal(s(await store.get(b("a"))), "old");
    assert.equal(store.has(b("fresh")), false);
    await Promise.all([pending, pendingNew]);
    assert.equal(s(await store.get(b("a"))), "new");
    assert.equal(store.has(b("fresh")), true);
  });
});

Deno.test("a batch with a caller seq uses it for every op", async () => {
  await withStore({}, async (store) => {
    const { seq } = await store.batch([
      { type: "put", key: b("a"), value: b("1") },
      { type: "put", key: b("b"), value: b("2") },
    ], { seq: 42 });
    assert.equal(seq, 42);
    assert.equal(store.version(b("a")), 42);
    assert.equal(store.version(b("b")), 42);
    await assert.rejects(store.batch([], { seq: 42 }), RangeError);
  });
});

Deno.test("an empty batch still records its seq", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    await store.batch([], { seq: 77 });
    await store.close();
    const again = await open(dir);
    try {
      assert.equal(again.stats().lastSeq, 77);
    } finally {
      await again.close();
    }
  });
});

Deno.test("the last seq never goes back after merges drop the newest records", async () => {
  await withTempDir(async (dir) => {
    const opts = { segmentBytesMax: 512, mergeAuto: false };
    const store = await open(dir, opts);
    for (let i = 0; i < 20; i++) await store.put(b("k"), b("v".repeat(40)));
    const { seq } = await store.delete(b("k"));
    for (let i = 0; i < 3; i++) await store.merge();
    await store.close();
    const again = await open(dir, opts);
    try {
      assert.equal(again.has(b("k")), false);
      assert.ok(again.stats().lastSeq >= seq);
      assert.ok((await again.put(b("k"), b("new"))).seq > seq);
    } finally {
      await again.close();
    }
  });
});
