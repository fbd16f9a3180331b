import assert from "node:assert/strict";
import { applyCommand, decodeCommand, encodeCommand } from "../../src/cluster/command.ts";
import type { KvCommand } from "../../src/cluster/command.ts";
import { open } from "../../src/storage/mod.ts";
import type { Store } from "../../src/storage/mod.ts";

const t = (s: string) => new TextEncoder().encode(s);

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_command_" });
  const store = await open(dir, { sync: "none" });
  try {
    await fn(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a command survives an encode/decode round trip with its bytes and condition", () => {
  const command: KvCommand = { op: "put", key: t("k"), value: t("v"), condition: { version: 7 } };
  assert.deepEqual(decodeCommand(encodeCommand(command)), command);
});

Deno.test("decoding an entry that is not a command throws", () => {
  assert.throws(() => decodeCommand(encodeCommand({ op: "nope" } as unknown as KvCommand)));
  assert.throws(() => decodeCommand(new Uint8Array([0xc0])));
});

Deno.test("a put is written with the entry index as its version", () =>
  withStore(async (store) => {
    const r = await applyCommand(store, {
      index: 42,
      command: { op: "put", key: t("a"), value: t("1") },
    });
    assert.deepEqual(r, { ok: true, version: 42, created: true });
    assert.equal(store.version(t("a")), 42);
    const again = await applyCommand(store, {
      index: 50,
      command: { op: "put", key: t("a"), value: t("2") },
    });
    assert.deepEqual(again, { ok: true, version: 50, created: false });
  }));

Deno.test("a failed condition is a result naming the current version, and writes nothing", () =>
  withStore(async (store) => {
    await applyCommand(store, { index: 5, command: { op: "put", key: t("a"), value: t("1") } });
    const r = await applyCommand(store, {
      index: 6,
      command: { op: "put", key: t("a"), value: t("2"), condition: { version: 4 } },
    });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, "condition_failed");
    assert.equal(!r.ok && r.currentSeq, 5);
    assert.equal(store.stats().lastSeq, 5);
  }));

Deno.test("deleting a missing key without a condition succeeds without a version", () =>
  withStore(async (store) => {
    const r = await applyCommand(store, { index: 3, command: { op: "delete", key: t("gone") } });
    assert.deepEqual(r, { ok: true });
    assert.equal(store.stats().lastSeq, 0);
  }));

Deno.test("a batch applies all its ops at one version or none of them", () =>
  withStore(async (store) => {
    const ok = await applyCommand(store, {
      index: 9,
      command: {
        op: "batch",
        ops: [{ type: "put", key: t("x"), value: t("1") }, {
          type: "put",
          key: t("y"),
          value: t("2"),
        }],
      },
    });
    assert.deepEqual(ok, { ok: true, version: 9 });
    const failed = await applyCommand(store, {
      index: 10,
      command: {
        op: "batch",
        ops: [
          { type: "delete", key: t("x") },
          { type: "put", key: t("z"), value: t("3"), condition: { present: true } },
        ],
      },
    });
    assert.equal(failed.ok, false);
    assert.equal(!failed.ok && failed.opIndex, 1);
    assert.equal(store.version(t("x")), 9, "the first op was not applied");
  }));

Deno.test("an I/O-level failure rejects instead of becoming a result", () =>
  withStore(async (store) => {
    await store.close();
    await assert.rejects(
      applyCommand(store, { index: 1, command: { op: "put", key: t("a"), value: t("1") } }),
      (e: unknown) => (e as { code?: string }).code === "closed",
    );
  }));
