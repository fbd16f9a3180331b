/**
 * The `consistency` parameter of reads, without a socket: parsing and 400s, what the service
 * is asked, the headers of a stale read, and the client and CLI passing the level through.
 */
import assert from "node:assert/strict";
import type {
  Bytes,
  KvListOptions,
  KvListPage,
  KvReadOptions,
  KvValue,
} from "../../src/cluster/mod.ts";
import { RingkvClient } from "../../src/client/mod.ts";
import { commands, parseCommandArgs } from "../../src/cli/commands.ts";
import type { CliIo } from "../../src/cli/mod.ts";
import { json, testApi } from "./helpers.ts";

/** A test API whose service records the read options of every get and list. */
function recordingApi(freshness?: { appliedIndex: number; leaderContactAgoMs: number | null }) {
  const t = testApi();
  const reads: (KvReadOptions | undefined)[] = [];
  const service = t.service;
  const get = service.get.bind(service);
  const list = service.list.bind(service);
  service.get = (key: Bytes, read?: KvReadOptions): Promise<KvValue | undefined> => {
    reads.push(read);
    return get(key);
  };
  service.list = (options: KvListOptions, read?: KvReadOptions): Promise<KvListPage> => {
    reads.push(read);
    return list(options);
  };
  if (freshness !== undefined) {
    Object.assign(service, { replicaFreshness: () => freshness });
  }
  return { ...t, reads };
}

Deno.test("an unknown consistency is a 400 naming the allowed values", async () => {
  const { send, reads } = recordingApi();
  await send("PUT", "/kv/a", { body: "1" });
  for (const path of ["/kv/a?consistency=strong", "/kv?consistency=eventual"]) {
    const res = await send("GET", path);
    assert.equal(res.status, 400, path);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await json(res);
    assert.equal(problem.type, "urn:ringkv:problem:invalid-parameter");
    assert.match(String(problem.detail), /linearizable, lease, stale/);
  }
  assert.deepEqual(reads, [], "the service was never asked");
});

Deno.test("a consistency given twice, empty or with a bad %-encoding is a 400", async () => {
  const { send } = recordingApi();
  for (
    const query of [
      "consistency=stale&consistency=lease",
      "consistency=",
      "consistency",
      "consistency=%ZZ",
      "consistency=STALE",
    ]
  ) {
    const res = await send("GET", `/kv/a?${query}`);
    assert.equal(res.status, 400, query);
    await res.body?.cancel();
  }
});

Deno.test("each consistency level reaches the service on key reads and listings", async () => {
  const { send, reads } = recordingApi();
  await send("PUT", "/kv/a", { body: "v" });
  for (const level of ["linearizable", "lease", "stale"]) {
    const res = await send("GET", `/kv/a?consistency=${level}`);
    assert.equal(res.status, 200, level);
    assert.equal(await res.text(), "v");
    const page = await send("GET", `/kv?prefix=a&consistency=${level}`);
    assert.equal(page.status, 200);
    assert.equal(((await json(page)).items as unknown[]).length, 1);
  }
  await (await send("GET", "/kv/a")).body?.cancel();
  assert.deepEqual(reads, [
    { consistency: "linearizable" },
    { consistency: "linearizable" },
    { consistency: "lease" },
    { consistency: "lease" },
    { consistency: "stale" },
    { consistency: "stale" },
    undefined,
  ]);
});

Deno.test("a stale read carries the replica's applied index and time since a leader", async () => {
  const { send } = recordingApi({ appliedIndex: 41, leaderContactAgoMs: 250 });
  await send("PUT", "/kv/a", { body: "v" });
  const found = await send("GET", "/kv/a?consistency=stale");
  assert.equal(found.status, 200);
  assert.equal(found.headers.get("RingKV-Applied-Index"), "41");
  assert.equal(found.headers.get("RingKV-Stale-Ms"), "250");
  assert.equal(found.headers.get("etag"), '"1"');
  await found.body?.cancel();
  const missing = await send("GET", "/kv/nope?consistency=stale");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("RingKV-Applied-Index"), "41", "a 404 says it too");
  await missing.body?.cancel();
  const head = await send("HEAD", "/kv/a?consistency=stale");
  assert.equal(head.headers.get("RingKV-Stale-Ms"), "250");
  const list = await send("GET", "/kv?consistency=stale");
  assert.equal(list.headers.get("RingKV-Applied-Index"), "41");
  await list.body?.cancel();
  const linearizable = await send("GET", "/kv/a");
  assert.equal(linearizable.headers.get("RingKV-Applied-Index"), null, "only stale reads");
  await linearizable.body?.cancel();
});

Deno.test("a replica that never heard from a leader says its staleness is unknown", async () => {
  const { send } = recordingApi({ appliedIndex: 0, leaderContactAgoMs: null });
  const res = await send("GET", "/kv/a?consistency=stale");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("RingKV-Stale-Ms"), "unknown");
  await res.body?.cancel();
});

/** A client whose requests go straight to `api` (no socket). */
function clientOf(api: { handle(request: Request): Promise<Response> }): RingkvClient {
  return new RingkvClient({
    url: "http://127.0.0.1:7070",
    retriesMax: 0,
    fetch: (input, init) => api.handle(new Request(input, init)),
  });
}

Deno.test("the client sends the consistency and reads back a stale read's freshness", async () => {
  const { api, reads } = recordingApi({ appliedIndex: 7, leaderContactAgoMs: 12 });
  const client = clientOf(api);
  await client.put("k", "v");
  const stale = await client.getText("k", { consistency: "stale" });
  assert.deepEqual(stale, { value: "v", version: 1, freshness: { appliedIndex: 7, staleMs: 12 } });
  const lease = await client.getText("k", { consistency: "lease" });
  assert.deepEqual(lease, { value: "v", version: 1 });
  await client.list({ consistency: "stale" });
  assert.deepEqual(reads, [{ consistency: "stale" }, { consistency: "lease" }, {
    consistency: "stale",
  }]);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => client.get("k", { consistency: "eventual" as any }),
    /consistency must be one of linearizable, lease, stale/,
  );
});

/** A CliIo that keeps what was written. */
function memoryIo(): CliIo & { text(): string } {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  return {
    out: (data) => {
      chunks.push(typeof data === "string" ? data : decoder.decode(data));
      return Promise.resolve();
    },
    err: (text) => {
      chunks.push(text);
      return Promise.resolve();
    },
    readStdin: () => Promise.resolve(new Uint8Array()),
    stdinIsTerminal: () => false,
    stdoutIsTerminal: () => false,
    text: () => chunks.join(""),
  };
}

Deno.test("the get command passes --consistency and refuses an unknown level", async () => {
  const { api, reads } = recordingApi({ appliedIndex: 3, leaderContactAgoMs: 0 });
  const client = clientOf(api);
  await client.put("k", "v");
  const get = commands.get("get")!;
  const io = memoryIo();
  const { values, positionals } = parseCommandArgs(get, ["k", "--consistency", "stale"]);
  const code = await get.run({ client, io, json: true, inShell: false }, values, positionals);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(io.text()), {
    key: "k",
    value: "v",
    encoding: "text",
    version: 1,
    applied_index: 3,
    stale_ms: 0,
  });
  assert.deepEqual(reads, [{ consistency: "stale" }]);
  const bad = parseCommandArgs(get, ["k", "--consistency", "eventual"]);
  await assert.rejects(
    () => get.run({ client, io, json: false, inShell: false }, bad.values, bad.positionals),
    /--consistency must be one of linearizable, lease, stale/,
  );
});
