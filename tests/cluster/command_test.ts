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

Deno.test("unconditional puts and deletes round-trip in their compact form", () => {
  const cases: Exclude<KvCommand, { op: "batch" }>[] = [
    { op: "put", key: t("k"), value: t("value") },
    { op: "put", key: t("a/b c"), value: new Uint8Array(0) },
    { op: "put", key: new Uint8Array([0, 255, 1]), value: new Uint8Array(70_000).fill(7) },
    { op: "delete", key: t("gone") },
  ];
  for (const command of cases) {
    const bytes = encodeCommand(command);
    assert.ok(bytes[0] === 1 || bytes[0] === 2, "the compact form");
    const key = command.key.byteLength;
    const value = command.op === "put" ? command.value.byteLength : 0;
    assert.equal(bytes.byteLength, 5 + key + value, "no more than tag, length, key and value");
    assert.deepEqual(decodeCommand(bytes), command);
  }
  // A conditional write and a batch keep the general form.
  const conditional = encodeCommand({ op: "delete", key: t("k"), condition: { present: true } });
  assert.ok(conditional[0] >= 0x80);
  const batch = encodeCommand({ op: "batch", ops: [{ type: "delete", key: t("k") }] });
  assert.ok(batch[0] >= 0x80);
});

Deno.test("a damaged compact command is refused", () => {
  const put = encodeCommand({ op: "put", key: t("key"), value: t("v") });
  assert.throws(() => decodeCommand(put.subarray(0, 4)), /truncated/);
  const longKey = put.slice();
  new DataView(longKey.buffer).setUint32(1, 1000);
  assert.throws(() => decodeCommand(longKey), /past its end/);
  const del = encodeCommand({ op: "delete", key: t("key") });
  assert.throws(() => decodeCommand(new Uint8Array([...del, 9])), /trailing/);
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
