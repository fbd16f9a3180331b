/**
 * The service semantics a standalone node gives its clients (conditions, delete of a missing
 * key, batches, listings, versions), checked on the real path: a ReplicatedKvService over a
 * Raft group of one, with its WAL and store in a temp dir. Versions are Raft log indexes, so
 * a bootstrap membership entry and the leader's empty entry come before the first write:
 * the tests compare versions with each other, never with fixed numbers.
 */
import assert from "node:assert/strict";
import {
  defaultGroupId,
  openReplicatedService,
  type ReplicatedKvService,
} from "../../src/cluster/mod.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";

const b = (...bytes: number[]) => new Uint8Array(bytes);
const t = (s: string) => new TextEncoder().encode(s);

const silent = createLogger({ level: "error", sink: () => {} });

function configFor(dataDir: string): Config {
  const parsed = parseConfig(["--http", "127.0.0.1:0", "--data-dir", dataDir], { env: {} });
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.config;
}

/** Opens a standalone service in a fresh temp dir; closes it and removes the dir after `fn`. */
async function withService(fn: (service: ReplicatedKvService) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_standalone_service_" });
  const fatal: unknown[] = [];
  try {
    const service = await openReplicatedService(configFor(dir), {
      logger: silent,
      onFatal: (error) => fatal.push(error),
    });
    try {
      await fn(service);
    } finally {
      await service.close();
    }
    // A group that failed would have stopped a real node: no case may pass that way.
    assert.deepEqual(fatal, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const failed = (e: unknown) => (e as { code?: string }).code === "condition_failed";

Deno.test("put reports created, then replaced with a higher version", () =>
  withService(async (s) => {
    const first = await s.put(t("a"), t("1"));
    assert.equal(first.created, true);
    const second = await s.put(t("a"), t("2"));
    assert.equal(second.created, false);
    assert.ok(second.version > first.version, `${second.version} > ${first.version}`);
    // A version is the log index the write was applied at.
    assert.ok(second.version <= s.replicaFreshness().appliedIndex);
    assert.deepEqual(await s.get(t("a")), { value: t("2"), version: second.version });
  }));

Deno.test("delete of a missing key resolves undefined and writes nothing", () =>
  withService(async (s) => {
    await s.put(t("a"), t("1"));
    const before = s.status().version;
    assert.equal(await s.delete(t("missing")), undefined);
    assert.equal(s.status().version, before);
    assert.equal(s.status().keys, 1);
    const version = await s.delete(t("a"));
    assert.ok(version !== undefined && version > before, `${version} > ${before}`);
    assert.equal(await s.get(t("a")), undefined);
  }));

Deno.test("conditions: version, absent and present fail with code condition_failed", () =>
  withService(async (s) => {
    const { version } = await s.put(t("a"), t("1"));
    await assert.rejects(s.put(t("a"), t("x"), { condition: { version: version + 1 } }), failed);
    await assert.rejects(s.put(t("a"), t("x"), { condition: { absent: true } }), failed);
    await assert.rejects(s.put(t("b"), t("x"), { condition: { present: true } }), failed);
    await assert.rejects(s.delete(t("a"), { condition: { version: version + 1 } }), failed);
    assert.deepEqual(await s.get(t("a")), { value: t("1"), version });
    assert.equal(await s.get(t("b")), undefined);
    const replaced = await s.put(t("a"), t("2"), { condition: { version } });
    assert.deepEqual(await s.get(t("a")), { value: t("2"), version: replaced.version });
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

Deno.test("list reports each key's version as the write that made it", () =>
  withService(async (s) => {
    const a = await s.put(t("a"), t("1"));
    const { version: batched } = await s.batch([
      { type: "put", key: t("b"), value: t("2") },
      { type: "put", key: t("c"), value: t("3") },
    ]);
    assert.ok(batched > a.version, `${batched} > ${a.version}`);
    const page = await s.list({ limit: 10 });
    assert.deepEqual(page.entries.map((e) => e.version), [a.version, batched, batched]);
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

Deno.test("ready once it leads its group of one, and not after close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_standalone_service_" });
  try {
    const service = await openReplicatedService(configFor(dir), {
      logger: silent,
      onFatal: () => {},
    });
    try {
      const timing = service.host.timing;
      const leader = await service.host.group(defaultGroupId).waitForLeader(
        2 * timing.electionTicks * timing.tickMs,
      );
      assert.equal(leader, service.host.nodeId);
      assert.equal(service.ready(), true);
    } finally {
      await service.close();
    }
    assert.equal(service.ready(), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
