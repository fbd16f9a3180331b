import assert from "node:assert/strict";
import { ConditionFailedError, HttpError, RingkvClient } from "../../src/client/mod.ts";
import { startNodeProcess } from "./node_process.ts";

const text = (bytes: Uint8Array | null) => bytes && new TextDecoder().decode(bytes);

Deno.test("client against a real node", async (t) => {
  const node = await startNodeProcess();
  const kv = new RingkvClient({ url: node.url });
  try {
    await t.step("keys with slash, percent, spaces, unicode and 0xFF round-trip", async () => {
      const keys: Uint8Array[] = [
        new TextEncoder().encode("a/b/c"),
        new TextEncoder().encode("100% sure?#&="),
        new TextEncoder().encode("ключ ✓"),
        new Uint8Array([0xff, 0xfe, 0x00, 0x2f]),
        new TextEncoder().encode("a/../b"),
      ];
      for (const [i, key] of keys.entries()) await kv.put(key, `value-${i}`);
      for (const [i, key] of keys.entries()) {
        assert.equal(text((await kv.get(key))?.value ?? null), `value-${i}`);
      }
      const listed = [];
      for await (const item of kv.scan()) listed.push(item.key);
      assert.equal(listed.length, keys.length);
      for (const key of keys) assert.ok(listed.some((k) => k.join() === key.join()));
    });

    await t.step("versions grow and compare-and-set follows them", async () => {
      const first = await kv.put("cas", "1");
      assert.equal(first.created, true);
      const second = await kv.put("cas", "2", { ifMatch: first.version });
      assert.ok(second.version > first.version);
      assert.equal(second.created, false);
      const error = await kv.put("cas", "3", { ifMatch: first.version }).catch((e) => e);
      assert.ok(error instanceof ConditionFailedError);
      assert.equal((await kv.get("cas"))?.version, second.version);
      await assert.rejects(kv.delete("cas", { ifMatch: first.version }), ConditionFailedError);
      assert.equal((await kv.delete("cas", { ifMatch: second.version })).deleted, true);
    });

    await t.step("create-only put succeeds once", async () => {
      await kv.put("once", "a", { ifNoneMatch: "*" });
      await assert.rejects(kv.put("once", "b", { ifNoneMatch: "*" }), ConditionFailedError);
      assert.equal((await kv.getText("once"))?.value, "a");
    });

    await t.step("list pages with cursors, by prefix and by range, both directions", async () => {
      for (let i = 0; i < 30; i++) await kv.put(`page/${String(i).padStart(2, "0")}`, `${i}`);
      const page = await kv.list({ prefix: "page/", limit: 7 });
      assert.equal(page.items.length, 7);
      assert.notEqual(page.next, null);
      const all = [];
      for await (const item of kv.scan({ prefix: "page/", limit: 7 })) all.push(text(item.key));
      assert.deepEqual(
        all,
        Array.from({ length: 30 }, (_, i) => `page/${String(i).padStart(2, "0")}`),
      );
      const range = [];
      for await (const item of kv.scan({ start: "page/10", end: "page/13", reverse: true })) {
        range.push(text(item.key));
      }
      assert.deepEqual(range, ["page/12", "page/11", "page/10"]);
      const keysOnly = await kv.list({ prefix: "page/", limit: 1, keysOnly: true });
      assert.equal(keysOnly.items[0].value, null);
    });

    await t.step("a non-UTF-8 prefix selects keys by their raw bytes", async () => {
      const page = await kv.list({ prefix: new Uint8Array([0xff]) });
      assert.equal(page.items.length, 1);
      assert.deepEqual(page.items[0].key, new Uint8Array([0xff, 0xfe, 0x00, 0x2f]));
    });

    await t.step("a batch is atomic and names the op whose condition failed", async () => {
      const { version } = await kv.batch([
        { op: "put", key: "batch/a", value: new Uint8Array([0xff]) },
        { op: "put", key: "batch/b", value: "b" },
      ]);
      assert.equal((await kv.get("batch/a"))?.version, version);
      const error = await kv.batch([
        { op: "delete", key: "batch/a" },
        { op: "put", key: "batch/b", value: "x", ifMatch: version - 1 },
      ]).catch((e) => e);
      assert.ok(error instanceof ConditionFailedError);
      assert.equal(error.opIndex, 1);
      assert.notEqual(await kv.get("batch/a"), null);
    });

    await t.step("status, health and ready answer with their documents", async () => {
      const status = await kv.status();
      assert.equal(typeof status.id, "string");
      assert.ok((status.keys ?? 0) > 30);
      assert.equal((await kv.health()).status, "ok");
      assert.equal(await kv.ready(), true);
    });

    await t.step("a value over the node's limit is an HttpError 413 with a problem", async () => {
      const error = await kv.put("big", new Uint8Array(1024 * 1024 + 1)).catch((e) => e);
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 413);
      assert.match(error.problem.type, /payload-too-large/);
      assert.ok(error.problem.detail.length > 0);
    });
  } finally {
    await node.stop();
  }
});
