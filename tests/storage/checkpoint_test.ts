import assert from "node:assert/strict";
import { join } from "node:path";
import { open, type StoreCheckpoint } from "../../src/storage/mod.ts";
import { b, s, withStore } from "./helpers.ts";

/** Copies the image's files (each up to its recorded size) into `out`, as a receiver does. */
async function materialize(image: string, cp: StoreCheckpoint, out: string): Promise<void> {
  await Deno.mkdir(out);
  for (const f of cp.files) {
    const bytes = await Deno.readFile(join(image, f.name));
    assert.ok(bytes.byteLength >= f.bytes);
    await Deno.writeFile(join(out, f.name), bytes.subarray(0, f.bytes));
  }
}

Deno.test("a checkpoint holds the store as of the moment it was taken, and later writes do not leak in", async () => {
  await withStore({ segmentBytesMax: 4096, sync: "interval" }, async (store, dir) => {
    for (let i = 0; i < 200; i++) await store.put(b(`k${i}`), b(`v${i}-old`));
    for (let i = 0; i < 100; i++) await store.put(b(`k${i}`), b(`v${i}-new`));
    await store.delete(b("k150"));
    const lastSeq = store.stats().lastSeq;
    const image = join(dir, "..", `${dir.split("/").pop()}-image`);
    const cp = await store.checkpoint!(image);
    try {
      assert.ok(cp !== undefined);
      assert.equal(cp.lastSeq, lastSeq);
      for (const f of cp.files) assert.equal(Deno.statSync(join(image, f.name)).size, f.bytes);
      assert.ok(cp.files.some((f) => f.name.endsWith(".hint")));
      // Writes, deletes and a merge after the checkpoint must not change the image.
      for (let i = 0; i < 200; i++) await store.put(b(`k${i}`), b(`after`));
      await store.put(b("k150"), b("back"));
      await store.delete(b("k3"));
      await store.merge();
      await materialize(image, cp, `${image}-copy`);
      const copy = await open(`${image}-copy`, { mergeAuto: false });
      try {
        assert.equal(copy.stats().lastSeq, lastSeq);
        assert.equal(s(await copy.get(b("k3"))), "v3-new");
        assert.equal(s(await copy.get(b("k120"))), "v120-old");
        assert.equal(await copy.get(b("k150")), undefined);
        assert.equal(copy.stats().keys, 199);
      } finally {
        await copy.close();
      }
      assert.equal(s(await store.get(b("k120"))), "after");
    } finally {
      await Deno.remove(image, { recursive: true }).catch(() => {});
      await Deno.remove(`${image}-copy`, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("a checkpoint of an empty store opens as an empty store", async () => {
  await withStore({}, async (store, dir) => {
    const image = `${dir}-image`;
    try {
      const cp = await store.checkpoint!(image);
      assert.ok(cp !== undefined);
      assert.equal(cp.lastSeq, 0);
      await materialize(image, cp, `${image}-copy`);
      const copy = await open(`${image}-copy`, { mergeAuto: false });
      assert.equal(copy.stats().keys, 0);
      await copy.close();
    } finally {
      await Deno.remove(image, { recursive: true }).catch(() => {});
      await Deno.remove(`${image}-copy`, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("a checkpoint refuses a directory that already exists", async () => {
  await withStore({}, async (store, dir) => {
    await store.put(b("a"), b("1"));
    await assert.rejects(store.checkpoint!(dir), Deno.errors.AlreadyExists);
  });
});
