import assert from "node:assert/strict";
import {
  ConditionFailedError,
  ConnectionError,
  HttpError,
  RingkvClient,
  TimeoutError,
} from "../../src/client/mod.ts";
import { startStubServer, type StubServer } from "./stub_server.ts";

/** A loopback URL where nothing listens (a port we bound and released). */
function closedPortUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** A TCP server that reads a request and closes the socket without answering. */
function startResetServer(): { url: string; accepted: () => number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      await conn.read(new Uint8Array(64 * 1024)).catch(() => null);
      conn.close();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => accepted,
    close: async () => {
      listener.close();
      await loop;
    },
  };
}

async function withStub(
  fn: (stub: StubServer, client: RingkvClient) => Promise<void>,
  options: { token?: string; client?: ConstructorParameters<typeof RingkvClient>[0] } = {},
): Promise<void> {
  const stub = startStubServer({ token: options.token });
  const client = new RingkvClient({
    url: stub.url,
    backoffBaseMs: 1,
    random: () => 0.5,
    ...options.client,
  });
  try {
    await fn(stub, client);
  } finally {
    await stub.close();
  }
}

Deno.test("put then get returns the value bytes and the version of the put", async () => {
  await withStub(async (_stub, client) => {
    const put = await client.put("a", new Uint8Array([1, 2, 3]));
    const got = await client.get("a");
    assert.deepEqual(got, { value: new Uint8Array([1, 2, 3]), version: put.version });
  });
});

Deno.test("get of a missing key resolves null", async () => {
  await withStub(async (_stub, client) => {
    assert.equal(await client.get("missing"), null);
  });
});

Deno.test("put reports created on the first write and not on a replace", async () => {
  await withStub(async (_stub, client) => {
    assert.equal((await client.put("k", "1")).created, true);
    assert.equal((await client.put("k", "2")).created, false);
    assert.equal((await client.getText("k"))?.value, "2");
  });
});

Deno.test("put with a stale ifMatch throws ConditionFailedError and writes nothing", async () => {
  await withStub(async (_stub, client) => {
    const first = await client.put("k", "1");
    await client.put("k", "2");
    const error = await client.put("k", "3", { ifMatch: first.version }).catch((e) => e);
    assert.ok(error instanceof ConditionFailedError);
    assert.equal(error.status, 412);
    assert.equal((await client.getText("k"))?.value, "2");
  });
});

Deno.test("put with ifNoneMatch on an existing key throws ConditionFailedError", async () => {
  await withStub(async (_stub, client) => {
    await client.put("k", "1", { ifNoneMatch: "*" });
    await assert.rejects(client.put("k", "2", { ifNoneMatch: "*" }), ConditionFailedError);
  });
});

Deno.test("delete reports whether the key existed", async () => {
  await withStub(async (_stub, client) => {
    await client.put("k", "1");
    assert.equal((await client.delete("k")).deleted, true);
    assert.equal((await client.delete("k")).deleted, false);
  });
});

Deno.test("encodes slash, percent, space and non-UTF-8 key bytes in the path", async () => {
  await withStub(async (stub, client) => {
    await client.put(new Uint8Array([0x61, 0x2f, 0x25, 0x20, 0xff]), "v");
    assert.equal(stub.requests.at(-1), "PUT /kv/a%2F%25%20%FF");
    assert.ok(stub.entries.has("a/% \xff"));
  });
});

Deno.test('rejects the keys "." and ".." that a URL path cannot carry', async () => {
  await withStub(async (stub, client) => {
    await assert.rejects(client.get("."), /batch\(\)/);
    await assert.rejects(client.put("..", "v"), TypeError);
    assert.equal(stub.requests.length, 0);
  });
});

Deno.test("retries a GET answered 503 and returns the later answer", async () => {
  await withStub(async (stub, client) => {
    await client.put("k", "v");
    stub.failures.push({ status: 503 }, { status: 503 });
    assert.equal((await client.getText("k"))?.value, "v");
    assert.equal(stub.requests.filter((r) => r === "GET /kv/k").length, 3);
  });
});

Deno.test("throws the 503 as HttpError after retriesMax retries", async () => {
  await withStub(async (stub, client) => {
    for (let i = 0; i < 10; i++) stub.failures.push({ status: 503 });
    const error = await client.get("k").catch((e) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    assert.equal(error.problem.type, "urn:ringkv:problem:overloaded");
    assert.equal(stub.requests.length, 3); // first attempt + retriesMax 2
  }, { client: { retriesMax: 2 } });
});

Deno.test("retries a conditional put after a 503 that means not applied", async () => {
  await withStub(async (stub, client) => {
    stub.failures.push({ status: 503, problemType: "overloaded" });
    const result = await client.put("k", "v", { ifNoneMatch: "*" });
    assert.equal(result.created, true);
    assert.equal(stub.requests.length, 2);
  });
});

Deno.test("does not retry a conditional put after a 503 whose outcome is unknown", async () => {
  await withStub(async (stub, client) => {
    stub.failures.push({ status: 503, problemType: "outcome-unknown", applyFirst: true });
    const error = await client.put("k", "v", { ifNoneMatch: "*" }).catch((e) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.outcomeUnknown, true);
    assert.equal(stub.requests.length, 1);
    assert.equal(stub.entries.size, 1); // it had been applied: a retry would have failed 412
  });
});

Deno.test("retries an unconditional put after a 503 whose outcome is unknown", async () => {
  await withStub(async (stub, client) => {
    stub.failures.push({ status: 503, problemType: "outcome-unknown", applyFirst: true });
    await client.put("k", "v");
    assert.equal(stub.requests.length, 2);
  });
});

Deno.test("a conditional put that times out is not retried and reports outcome unknown", async () => {
  await withStub(async (stub, client) => {
    stub.failures.push({ status: "hang" });
    const error = await client.put("k", "v", { ifMatch: 3, timeoutMs: 200 }).catch((e) => e);
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.outcomeUnknown, true);
    assert.equal(stub.requests.length, 1);
  });
});

Deno.test("a GET that times out is retried", async () => {
  await withStub(async (stub, client) => {
    await client.put("k", "v");
    stub.failures.push({ status: "hang" });
    assert.equal((await client.getText("k", { timeoutMs: 300 }))?.value, "v");
    assert.equal(stub.requests.filter((r) => r === "GET /kv/k").length, 2);
  });
});

Deno.test("rotates to the next node URL when a node refuses connections", async () => {
  const stub = startStubServer();
  try {
    const deadUrl = closedPortUrl();
    const client = new RingkvClient({ url: [deadUrl, stub.url], backoffBaseMs: 1 });
    await client.put("k", "v", { ifNoneMatch: "*" }); // refused = never sent: safe to retry
    assert.equal(client.url, stub.url);
    assert.equal((await client.getText("k"))?.value, "v");
  } finally {
    await stub.close();
  }
});

Deno.test("throws ConnectionError naming the URL when no node can be reached", async () => {
  const deadUrl = closedPortUrl();
  const client = new RingkvClient({ url: deadUrl, retriesMax: 1, backoffBaseMs: 1 });
  const error = await client.get("k").catch((e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.outcomeUnknown, false);
  assert.match(error.message, new RegExp(deadUrl.replace(/[.:/]/g, "\\$&")));
});

Deno.test("a conditional put whose connection drops after sending is not retried", async () => {
  const server = startResetServer();
  try {
    const client = new RingkvClient({ url: server.url, backoffBaseMs: 1 });
    const error = await client.put("k", "v", { ifMatch: 1 }).catch((e) => e);
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(error.outcomeUnknown, true);
    assert.equal(server.accepted(), 1);
  } finally {
    await server.close();
  }
});

Deno.test("an unconditional put whose connection drops is retried", async () => {
  const server = startResetServer();
  try {
    const client = new RingkvClient({ url: server.url, retriesMax: 2, backoffBaseMs: 1 });
    await assert.rejects(client.put("k", "v"), ConnectionError);
    assert.equal(server.accepted(), 3);
  } finally {
    await server.close();
  }
});

Deno.test("waits at least Retry-After before retrying a single node", async () => {
  await withStub(async (stub, client) => {
    stub.failures.push({ status: 503, retryAfterS: 1 });
    const startMs = performance.now();
    await client.status();
    const elapsedMs = performance.now() - startMs;
    assert.ok(elapsedMs >= 900, `retried after ${elapsedMs} ms`);
  }, { client: { random: () => 0 } });
});

Deno.test("sends the bearer token, and a missing one gives HttpError 401", async () => {
  const stub = startStubServer({ token: "s3cret" });
  try {
    const good = new RingkvClient({ url: stub.url, token: "s3cret" });
    await good.put("k", "v");
    const anonymous = new RingkvClient({ url: stub.url });
    const error = await anonymous.get("k").catch((e) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 401);
    assert.equal((await anonymous.health()).status, "ok");
  } finally {
    await stub.close();
  }
});

Deno.test("scan follows cursors across pages in key order", async () => {
  await withStub(async (stub, client) => {
    const keys = Array.from({ length: 25 }, (_, i) => `key-${String(i).padStart(2, "0")}`);
    for (const key of keys) await client.put(key, key.toUpperCase());
    await client.put("other", "x");
    const seen: string[] = [];
    for await (const item of client.scan({ prefix: "key-", limit: 10 })) {
      seen.push(new TextDecoder().decode(item.key));
    }
    assert.deepEqual(seen, keys);
    assert.equal(stub.requests.filter((r) => r.startsWith("GET /kv?")).length, 3);
  });
});

Deno.test("scan stops after itemsMax items", async () => {
  await withStub(async (_stub, client) => {
    for (let i = 0; i < 12; i++) await client.put(`k${i}`, "v");
    let count = 0;
    for await (const _ of client.scan({ itemsMax: 5, limit: 2 })) count++;
    assert.equal(count, 5);
  });
});

Deno.test("list decodes items the server sent in base64", async () => {
  await withStub(async (_stub, client) => {
    await client.put(new Uint8Array([0xff, 0x00]), new Uint8Array([0xfe]));
    const page = await client.list();
    assert.deepEqual(page.items[0].key, new Uint8Array([0xff, 0x00]));
    assert.deepEqual(page.items[0].value, new Uint8Array([0xfe]));
    assert.equal(page.next, null);
  });
});

Deno.test("batch applies every op, and a failed condition names its op index", async () => {
  await withStub(async (_stub, client) => {
    await client.put("gone", "x");
    const { version } = await client.batch([
      { op: "put", key: "a", value: "1" },
      { op: "delete", key: "gone" },
    ]);
    assert.equal((await client.get("a"))?.version, version);
    assert.equal(await client.get("gone"), null);
    const error = await client.batch([
      { op: "put", key: "b", value: "2" },
      { op: "put", key: "a", value: "3", ifNoneMatch: "*" },
    ]).catch((e) => e);
    assert.ok(error instanceof ConditionFailedError);
    assert.equal(error.opIndex, 1);
    assert.equal(await client.get("b"), null);
  });
});

Deno.test("an aborted signal stops the request and its retries", async () => {
  await withStub(async (stub, client) => {
    for (let i = 0; i < 5; i++) stub.failures.push({ status: 503, retryAfterS: 5 });
    const controller = new AbortController();
    const pending = client.status({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 100);
    await assert.rejects(pending, /caller gave up/);
    assert.equal(stub.requests.length, 1);
  });
});
