/**
 * A standalone node is a cluster of one: its writes go through the same Raft group, WAL and
 * store as a member's. These tests cover what only a node alone meets: a data directory from
 * before (the store at its top), a WAL that lost its unsynced tail while the store kept more,
 * the disk quota answered 507, and reads served locally yet linearizably.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node.ts";
import { open } from "../../src/storage/mod.ts";
import { freePorts } from "../../bench/child_server.ts";

const silent = createLogger({ level: "error", sink: () => {} });

function configFor(dataDir: string, extra: string[] = []): Config {
  const parsed = parseConfig(["--http", "127.0.0.1:0", "--data-dir", dataDir, ...extra], {
    env: {},
  });
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.config;
}

async function withNode<T>(
  dataDir: string,
  extra: string[],
  body: (node: NodeHandle) => Promise<T>,
): Promise<T> {
  const node = await startNode(configFor(dataDir, extra), { logger: silent });
  try {
    return await body(node);
  } finally {
    await node.close();
  }
}

async function put(url: string, key: string, value: string): Promise<Response> {
  const res = await fetch(`${url}/kv/${key}`, { method: "PUT", body: value });
  await res.body?.cancel();
  return res;
}

async function get(url: string, key: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/kv/${key}`);
  return { status: res.status, text: await res.text() };
}

function version(res: Response): number {
  return Number(JSON.parse(res.headers.get("etag") ?? "null"));
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_standalone_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a store at the top of the data directory is adopted, and the log continues after it",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      const store = await open(dir, {});
      for (let i = 0; i < 10; i++) {
        await store.put(new TextEncoder().encode(`k${i}`), new TextEncoder().encode(`v${i}`));
      }
      const lastSeq = store.stats().lastSeq;
      await store.close();
      await withNode(dir, [], async (node) => {
        for (let i = 0; i < 10; i++) {
          assert.deepEqual(await get(node.url, `k${i}`), {
            status: 200,
            text: `v${i}`,
          });
        }
        const res = await put(node.url, "new", "after");
        assert.equal(res.status, 201);
        assert.ok(version(res) > lastSeq, `version ${version(res)} follows ${lastSeq}`);
      });
      const top = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.equal(top.filter((n) => n.endsWith(".seg")).length, 0, `left at the top: ${top}`);
      await withNode(dir, [], async (node) => {
        assert.equal((await get(node.url, "new")).text, "after");
        assert.equal((await get(node.url, "k9")).text, "v9");
      });
    }),
});

Deno.test({
  name: "a WAL that lost its tail while the store kept more: the log continues after the store",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      let last = 0;
      await withNode(dir, ["--sync", "none"], async (node) => {
        for (let i = 0; i < 20; i++) last = version(await put(node.url, `k${i}`, `v${i}`));
      });
      // What a power loss can leave with an unsynced WAL: the store has writes the WAL lacks.
      await Deno.remove(join(dir, "wal"), { recursive: true });
      await withNode(dir, ["--sync", "none"], async (node) => {
        for (let i = 0; i < 20; i++) assert.equal((await get(node.url, `k${i}`)).text, `v${i}`);
        const res = await put(node.url, "k20", "v20");
        assert.equal(res.status, 201);
        assert.ok(version(res) > last, `version ${version(res)} follows ${last}`);
      });
      await withNode(dir, ["--sync", "none"], async (node) => {
        for (let i = 0; i <= 20; i++) assert.equal((await get(node.url, `k${i}`)).text, `v${i}`);
      });
    }),
});

Deno.test({
  name: "a member's data directory started without --cluster is refused, naming the other members",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      const secretFile = join(dir, "secret");
      await Deno.writeTextFile(secretFile, "a-cluster-secret-of-enough-bytes");
      const data = join(dir, "n1");
      const [p1, p2] = freePorts(2);
      const members = `n1=127.0.0.1:${p1},n2=127.0.0.1:${p2}`;
      const member = await startNode(
        configFor(data, ["--cluster", members, "--secret-file", secretFile]),
        { logger: silent },
      );
      await member.close(); // its log now names n1 and n2 (no leader: n2 never came)
      await assert.rejects(
        startNode(configFor(data), { logger: silent }),
        /belongs to a cluster \(its log names n2 as members\)/,
      );
    }),
});

Deno.test({
  name: "past --disk-quota a standalone node answers 507 and keeps what it acknowledged",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      await withNode(dir, ["--disk-quota", "65536"], async (node) => {
        const value = "x".repeat(4096);
        let acked = 0;
        let refused: Response | undefined;
        for (let i = 0; i < 40 && refused === undefined; i++) {
          const res = await fetch(`${node.url}/kv/k${i}`, { method: "PUT", body: value });
          if (res.status === 201) {
            await res.body?.cancel();
            acked++;
          } else {
            refused = res;
          }
        }
        assert.ok(refused !== undefined, "the quota refused a write");
        assert.equal(refused.status, 507);
        const problem = await refused.json();
        assert.match(problem.detail, /quota/);
        assert.ok(acked > 5, `${acked} writes fit before the quota`);
        for (let i = 0; i < acked; i++) assert.equal((await get(node.url, `k${i}`)).text, value);
        assert.equal((await get(node.url, `k${acked}`)).status, 404);
      });
    }),
});

Deno.test({
  name: "a standalone node is the leader of its one-member group and reads its writes at once",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      await withNode(dir, [], async (node) => {
        const cluster = await (await fetch(`${node.url}/cluster`)).json();
        assert.equal(cluster.leader, "n1");
        assert.deepEqual(
          cluster.members.map((m: { id: string; role: string }) => [m.id, m.role]),
          [["n1", "voter"]],
        );
        // Without a peer port nobody could reach a new member: refused, saying how to grow.
        const add = await fetch(`${node.url}/cluster/members`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: "n2", peer: "127.0.0.1:7999" }),
        });
        assert.equal(add.status, 409);
        assert.match((await add.json()).detail, /restart it with the same --data-dir plus --peer/);
        // Every read right after its write, on the fast path and the general one.
        for (let i = 0; i < 200; i++) {
          await put(node.url, "counter", String(i));
          assert.equal((await get(node.url, "counter")).text, String(i));
          const listed = await (await fetch(`${node.url}/kv?prefix=counter&encoding=text`)).json();
          assert.equal(listed.items[0].value, String(i));
        }
      });
    }),
});
