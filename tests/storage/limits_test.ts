import assert from "node:assert/strict";
import {
  BatchTooLargeError,
  DirectoryLockedError,
  KeyInvalidError,
  open,
  QuotaExceededError,
  ValueTooLargeError,
} from "../../src/storage/mod.ts";
import { b, s, withStore, withTempDir } from "./helpers.ts";

Deno.test("rejects an empty key", async () => {
  await withStore({}, async (store) => {
    const err = await store.put(new Uint8Array(0), b("v")).catch((e) => e);
    assert.ok(err instanceof KeyInvalidError);
    assert.equal(err.code, "key_invalid");
    await assert.rejects(store.get(new Uint8Array(0)), KeyInvalidError);
  });
});

Deno.test("rejects a key longer than keyBytesMax", async () => {
  await withStore({ keyBytesMax: 8 }, async (store) => {
    await store.put(new Uint8Array(8).fill(65), b("ok"));
    await assert.rejects(store.put(new Uint8Array(9).fill(65), b("v")), KeyInvalidError);
    await assert.rejects(store.delete(new Uint8Array(9).fill(65)), KeyInvalidError);
  });
});

Deno.test("rejects a value longer than valueBytesMax", async () => {
  await withStore({ valueBytesMax: 100 }, async (store) => {
    await store.put(b("a"), new Uint8Array(100));
    const err = await store.put(b("b"), new Uint8Array(101)).catch((e) => e);
    assert.ok(err instanceof ValueTooLargeError);
    assert.equal(err.code, "value_too_large");
    assert.equal(store.has(b("b")), false);
  });
});

Deno.test("refuses a valueBytesMax above 64 MiB", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(open(dir, { valueBytesMax: 64 * 1024 * 1024 + 1 }), RangeError);
  });
});

Deno.test("rejects a batch with more ops than batchOpsMax", async () => {
  await withStore({ batchOpsMax: 3 }, async (store) => {
    const ops = Array.from({ length: 4 }, (_, i) => ({
      type: "put" as const,
      key: b(`k${i}`),
      value: b("v"),
    }));
    const err = await store.batch(ops).catch((e) => e);
    assert.ok(err instanceof BatchTooLargeError);
    assert.equal(store.stats().keys, 0);
    await store.batch(ops.slice(0, 3));
    assert.equal(store.stats().keys, 3);
  });
});

Deno.test("rejects a batch with more bytes than batchBytesMax", async () => {
  await withStore({ batchBytesMax: 100 }, async (store) => {
    const ops = [
      { type: "put" as const, key: b("a"), value: new Uint8Array(60) },
      { type: "put" as const, key: b("b"), value: new Uint8Array(60) },
    ];
    await assert.rejects(store.batch(ops), BatchTooLargeError);
    assert.equal(store.stats().keys, 0);
  });
});

Deno.test("a second opener of a directory gets DirectoryLockedError naming the holder", async () => {
  await withTempDir(async (dir) => {
    const store = await open(dir);
    try {
      const err = await open(dir).catch((e) => e);
      assert.ok(err instanceof DirectoryLockedError);
      assert.equal(err.code, "locked");
      assert.match(err.message, new RegExp(`pid=${Deno.pid}`));
    } finally {
      await store.close();
    }
    const again = await open(dir);
    await again.close();
  });
});

Deno.test("a directory locked by another process is refused with its pid", async () => {
  await withTempDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./lock_holder.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    try {
      const { value } = await reader.read();
      assert.match(new TextDecoder().decode(value), /locked/);
      const err = await open(dir).catch((e) => e);
      assert.ok(err instanceof DirectoryLockedError);
      assert.match(err.message, new RegExp(`pid=${child.pid}`));
    } finally {
      child.kill("SIGKILL");
      await reader.cancel();
      await child.status;
    }
    const store = await open(dir);
    await store.close();
  });
});

Deno.test("diskBytesMax refuses writes past it while reads go on", async () => {
  await withStore({ diskBytesMax: 4096 }, async (store) => {
    let refused: unknown;
    let i = 0;
    for (; i < 100; i++) {
      try {
        await store.put(b(`k${i}`), new Uint8Array(200).fill(i));
      } catch (err) {
        refused = err;
        break;
      }
    }
    assert.ok(refused instanceof QuotaExceededError, `expected a refusal, got ${refused}`);
    assert.equal((refused as QuotaExceededError).code, "quota_exceeded");
    assert.ok(store.stats().diskBytes <= 4096);
    assert.equal((await store.get(b("k0")))?.[0], 0);
    assert.equal(store.has(b(`k${i}`)), false);
  });
});

Deno.test("a merge under quota reclaims space so writes are accepted again", async () => {
  await withStore({ diskBytesMax: 8192, segmentBytesMax: 1024 }, async (store) => {
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      await store.put(b("same"), new Uint8Array(100)).catch((err) => {
        assert.ok(err instanceof QuotaExceededError);
        refused = true;
      });
    }
    assert.ok(refused);
    const result = await store.merge();
    assert.ok(result.bytesReclaimed > 0);
    await store.put(b("other"), b("fits now"));
    assert.equal(s(await store.get(b("other"))), "fits now");
  });
});
