import assert from "node:assert/strict";
import { LocalKvService } from "../../src/cluster/mod.ts";
import { open } from "../../src/storage/mod.ts";

const b = (...bytes: number[]) => new Uint8Array(bytes);
const t = (s: string) => new TextEncoder().encode(s);

async function withService(fn: (service: LocalKvService) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_local_" });
  const service = new LocalKvService(await open(dir, { sync: "none" }));
  try {
    await fn(service);
  } finally {
    await service.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("put reports created, then replaced with a higher version", () =>
  withService(async (s) => {
    const first = await s.put(t("a"), t("1"));
    assert.equal(first.created, true);
    const second = await s.put(t("a"), t("2"));
    assert.equal(second.created, false);
    assert.ok(second.version > first.version);
    assert.deepEqual(await s.get(t("a")), { value: t("2"), version: second.version });
  }));

Deno.test("delete of a missing key resolves undefined and writes nothing", () =>
  withService(async (s) => {
    await s.put(t("a"), t("1"));
    const before = s.status().version;
    assert.equal(await s.delete(t("missing")), undefined);
    assert.equal(s.status().version, before);
    const version = await s.delete(t("a"));
    assert.ok(version !== undefined && version > before);
    assert.equal(await s.get(t("a")), undefined);
  }));

Deno.test("conditions: version, absent and present fail with code condition_failed", () =>
  withService(async (s) => {
    const { version } = await s.put(t("a"), t("1"));
    const failed = (e: unknown) => (e as { code?: string }).code === "condition_failed";
    await assert.rejects(s.put(t("a"), t("x"), { condition: { version: version + 1 } }), failed);
    await assert.rejects(s.put(t("a"), t("x"), { condition: { absent: true } }), failed);
    await assert.rejects(s.put(t("b"), t("x"), { condition: { present: true } }), failed);
    await assert.rejects(s.delete(t("a"), { condition: { version: version + 1 } }), failed);
    await s.put(t("a"), t("2"), { condition: { version } });
    assert.deepEqual((await s.get(t("a")))?.value, t("2"));
  }));

Deno.test("list pages through a prefix in both directions without repeats or gaps", () =>
  withService(async (s) => {
    const keys = [b(1), b(1, 0), b(1, 0xff), b(1, 0xff, 0xff), b(2), b(0xff), b(0xff, 1)];
    for (const key of keys) await s.put(key, key);
    for (
      const [prefix, expected] of [[b(1), keys.slice(0, 4)], [b(0xff), keys.slice(5)]] as const
    ) {
      for (const reverse of [false, true]) {
        const seen: Uint8Array[] = [];
        let after: Uint8Array | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await s.list({ prefix, limit: 2, after, reverse });
          seen.push(...page.entries.map((e) => e.key));
          if (!page.more) break;
          after = page.entries[page.entries.length - 1].key;
        }
        assert.deepEqual(seen, reverse ? [...expected].reverse() : [...expected]);
      }
    }
  }));

Deno.test("list honours start/end, keysOnly and reports more only when keys remain", () =>
  withService(async (s) => {
    for (const k of ["a", "b", "c", "d"]) await s.put(t(k), t("v" + k));
    const page = await s.list({ start: t("b"), end: t("d"), limit: 2, keysOnly: true });
    assert.deepEqual(page.entries.map((e) => new TextDecoder().decode(e.key)), ["b", "c"]);
    assert.equal(page.entries[0].value, undefined);
    assert.equal(page.more, false);
    assert.equal((await s.list({ limit: 3 })).more, true);
    assert.equal((await s.list({ start: t("c"), end: t("c"), limit: 3 })).entries.length, 0);
  }));

Deno.test("batch is all or nothing and names the failing op", () =>
  withService(async (s) => {
    await s.put(t("a"), t("1"));
    await assert.rejects(
      s.batch([
        { type: "put", key: t("new"), value: t("n") },
        { type: "put", key: t("a"), value: t("2"), condition: { absent: true } },
      ]),
      (e) =>
        (e as { code?: string; opIndex?: number }).code === "condition_failed" &&
        (e as { opIndex?: number }).opIndex === 1,
    );
    assert.equal(await s.get(t("new")), undefined);
    const { version } = await s.batch([{ type: "put", key: t("x"), value: t("1") }, {
      type: "delete",
      key: t("a"),
    }]);
    assert.equal((await s.get(t("x")))?.version, version);
    assert.equal(await s.get(t("a")), undefined);
    assert.equal(s.status().keys, 1);
  }));

Deno.test("ready until closed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_local_" });
  const service = new LocalKvService(await open(dir));
  assert.equal(service.ready(), true);
  await service.close();
  assert.equal(service.ready(), false);
  await Deno.remove(dir, { recursive: true });
});
