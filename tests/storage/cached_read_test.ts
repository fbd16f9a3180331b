/** getCachedVersioned: the synchronous, memory-only read behind the HTTP GET fast path. */
import assert from "node:assert/strict";
import { open, type Store, StoreClosedError } from "../../src/storage/mod.ts";

const encoder = new TextEncoder();
const key = (text: string) => encoder.encode(text);

async function withStore(
  options: { cacheBytesMax?: number },
  fn: (store: Store) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_cached_read_" });
  const store = await open(dir, { sync: "none", ...options });
  try {
    await fn(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("getCachedVersioned returns the value and seq of a key just put", async () => {
  await withStore({}, async (store) => {
    const { seq } = await store.put(key("a"), key("one"));
    const found = store.getCachedVersioned!(key("a"));
    assert.ok(found);
    assert.deepEqual(found.value, key("one"));
    assert.equal(found.seq, seq);
    const replaced = await store.put(key("a"), key("two"));
    assert.deepEqual(store.getCachedVersioned!(key("a")), { value: key("two"), seq: replaced.seq });
  });
});

Deno.test("getCachedVersioned returns null for a missing or deleted key", async () => {
  await withStore({}, async (store) => {
    assert.equal(store.getCachedVersioned!(key("nope")), null);
    await store.put(key("b"), key("x"));
    await store.delete(key("b"));
    assert.equal(store.getCachedVersioned!(key("b")), null);
  });
});

Deno.test("getCachedVersioned returns undefined for a value not cached, until a read caches it", async () => {
  await withStore({}, async (store) => {
    // Batches do not fill the cache.
    const { seq } = await store.batch([{ type: "put", key: key("c"), value: key("v") }]);
    assert.equal(store.getCachedVersioned!(key("c")), undefined);
    assert.deepEqual(await store.getVersioned(key("c")), { value: key("v"), seq });
    assert.deepEqual(store.getCachedVersioned!(key("c")), { value: key("v"), seq });
  });
});

Deno.test("getCachedVersioned never answers a value when the cache is off", async () => {
  await withStore({ cacheBytesMax: 0 }, async (store) => {
    await store.put(key("d"), key("v"));
    await store.getVersioned(key("d"));
    assert.equal(store.getCachedVersioned!(key("d")), undefined);
    assert.equal(store.getCachedVersioned!(key("missing")), null);
  });
});

Deno.test("getCachedVersioned throws for an empty key and after close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_cached_read_" });
  try {
    const store = await open(dir, { sync: "none" });
    assert.throws(() => store.getCachedVersioned!(new Uint8Array(0)));
    await store.close();
    assert.throws(() => store.getCachedVersioned!(key("a")), StoreClosedError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
