/**
 * The synchronous GET path for values the service holds in memory: it must answer exactly
 * as the general path does, and leave every unusual request to the general path. The service
 * is the one a standalone node runs: a ReplicatedKvService leading its Raft group of one,
 * whose getCached answers from the store's cache.
 */
import assert from "node:assert/strict";
import { type ApiHandler, createApiHandler } from "../../src/api/mod.ts";
import {
  type Bytes,
  defaultGroupId,
  type KvBatchOp,
  type KvListOptions,
  type KvListPage,
  type KvPutResult,
  type KvReadOptions,
  type KvService,
  type KvStatus,
  type KvValue,
  type KvWriteOptions,
  openReplicatedService,
  type ReplicatedKvService,
  type Version,
} from "../../src/cluster/mod.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { testLimits } from "./helpers.ts";

const encoder = new TextEncoder();

/** The standalone service, counting which read the API used. */
class CountingService implements KvService {
  gets = 0;
  cachedGets = 0;
  /** When set, what servesCachedNow answers instead of the real service. */
  servesCached: boolean | undefined;

  constructor(readonly inner: ReplicatedKvService) {}

  servesCachedNow(): boolean {
    return this.servesCached ?? this.inner.servesCachedNow();
  }
  get(key: Bytes, read?: KvReadOptions): Promise<KvValue | undefined> {
    this.gets++;
    return this.inner.get(key, read);
  }
  getCached(key: Bytes): KvValue | null | undefined {
    this.cachedGets++;
    return this.inner.getCached(key);
  }
  put(key: Bytes, value: Bytes, options?: KvWriteOptions): Promise<KvPutResult> {
    return this.inner.put(key, value, options);
  }
  delete(key: Bytes, options?: KvWriteOptions): Promise<Version | undefined> {
    return this.inner.delete(key, options);
  }
  list(options: KvListOptions, read?: KvReadOptions): Promise<KvListPage> {
    return this.inner.list(options, read);
  }
  batch(ops: KvBatchOp[]): Promise<{ version: Version }> {
    return this.inner.batch(ops);
  }
  status(): KvStatus {
    return this.inner.status();
  }
  ready(): boolean {
    return this.inner.ready();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Fixture {
  api: ApiHandler;
  service: CountingService;
  metrics: Metrics;
  send(method: string, path: string, init?: RequestInit): Promise<Response>;
}

const silent = createLogger({ level: "error", sink: () => {} });

async function withApi(
  options: { authTokens?: string[] },
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_fast_get_" });
  try {
    const parsed = parseConfig(["--http", "127.0.0.1:0", "--data-dir", dir], { env: {} });
    if (parsed.help) throw new Error("unexpected --help");
    const fatal: unknown[] = [];
    const inner = await openReplicatedService(parsed.config, {
      logger: silent,
      onFatal: (error) => fatal.push(error),
    });
    // A linearizable read returns once the node leads and applied its term's first entry:
    // from then on every count below is deterministic, not a race with the election.
    await inner.list({ limit: 1 });
    assert.ok(inner.host.group(defaultGroupId).readsLocally, "the node alone reads locally");
    const service = new CountingService(inner);
    const metrics = new Metrics({ status: () => service.status(), processMetrics: false });
    const api = createApiHandler({ service, limits: testLimits, metrics, ...options });
    const send = (method: string, path: string, init: RequestInit = {}) =>
      api.handle(new Request("http://127.0.0.1:7070" + path, { method, ...init }));
    try {
      await fn({ api, service, metrics, send });
    } finally {
      await service.close();
    }
    assert.deepEqual(fatal, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a cached value is answered from memory with its bytes, type and ETag", async () => {
  await withApi({}, async ({ service, send }) => {
    const put = await send("PUT", "/kv/k1", { body: "hello" });
    assert.equal(put.status, 201);
    const etag = put.headers.get("etag");
    await put.body?.cancel();
    const res = await send("GET", "/kv/k1");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "hello");
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("etag"), etag);
    assert.equal(service.cachedGets, 1);
    assert.equal(service.gets, 0);
  });
});

Deno.test("a service that cannot serve from memory now is not asked to", async () => {
  await withApi({}, async ({ service, send }) => {
    await (await send("PUT", "/kv/k1", { body: "hello" })).body?.cancel();
    service.servesCached = false; // a replica that must confirm a read point first
    const res = await send("GET", "/kv/k1");
    assert.equal(await res.text(), "hello");
    assert.equal(service.cachedGets, 0);
    assert.equal(service.gets, 1);
    service.servesCached = undefined;
    assert.equal(await (await send("GET", "/kv/k1")).text(), "hello");
    assert.equal(service.cachedGets, 1);
  });
});

Deno.test("a value not cached is read by the general path, then served from memory", async () => {
  await withApi({}, async ({ service, send }) => {
    // Batches do not fill the store's cache.
    await service.batch([{ type: "put", key: encoder.encode("b1"), value: encoder.encode("v") }]);
    for (let i = 0; i < 2; i++) {
      const res = await send("GET", "/kv/b1");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "v");
    }
    assert.equal(service.gets, 1);
    assert.equal(service.cachedGets, 2);
  });
});

Deno.test("If-None-Match with the current version still answers 304 for a cached key", async () => {
  await withApi({}, async ({ service, send }) => {
    const put = await send("PUT", "/kv/k2", { body: "x" });
    const etag = put.headers.get("etag")!;
    await put.body?.cancel();
    const res = await send("GET", "/kv/k2", { headers: { "if-none-match": etag } });
    assert.equal(res.status, 304);
    assert.equal(res.headers.get("etag"), etag);
    const other = await send("GET", "/kv/k2", { headers: { "if-none-match": '"999"' } });
    assert.equal(other.status, 200);
    assert.equal(await other.text(), "x");
    assert.equal(service.cachedGets, 0);
    assert.equal(service.gets, 2);
  });
});

Deno.test("a percent-encoded key and its plain spelling both read from memory", async () => {
  await withApi({}, async ({ service, send }) => {
    const put = await send("PUT", "/kv/a%2Fb%20%C3%A9", { body: "slash" });
    assert.equal(put.status, 201);
    await put.body?.cancel();
    const encoded = await send("GET", "/kv/a%2Fb%20%C3%A9");
    assert.equal(await encoded.text(), "slash");
    const plain = await send("GET", "/kv/a/b%20%c3%a9");
    assert.equal(await plain.text(), "slash");
    assert.equal(service.cachedGets, 2);
    assert.equal(service.gets, 0);
  });
});

Deno.test("a malformed percent-encoding answers 400 without a lookup", async () => {
  await withApi({}, async ({ service, send }) => {
    const res = await send("GET", "/kv/a%2");
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.equal(service.cachedGets + service.gets, 0);
  });
});

Deno.test("a GET with a query string takes the general path and still reads the key", async () => {
  await withApi({}, async ({ service, send }) => {
    const put = await send("PUT", "/kv/q1", { body: "v" });
    await put.body?.cancel();
    const res = await send("GET", "/kv/q1?x=1");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "v");
    assert.equal(service.cachedGets, 0);
    assert.equal(service.gets, 1);
  });
});

Deno.test("a missing key answers 404 problem+json", async () => {
  await withApi({}, async ({ service, send }) => {
    const res = await send("GET", "/kv/absent");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal((await res.json()).status, 404);
    // Memory knows the key is absent; the general path writes the problem answer.
    assert.equal(service.cachedGets, 1);
    assert.equal(service.gets, 1);
  });
});

Deno.test("a key longer than keyBytesMax answers 414 rather than being looked up", async () => {
  await withApi({}, async ({ service, send }) => {
    const res = await send("GET", "/kv/" + "k".repeat(testLimits.keyBytesMax + 1));
    assert.equal(res.status, 414);
    await res.body?.cancel();
    assert.equal(service.cachedGets, 0);
  });
});

Deno.test("a cached value still requires the bearer token when auth is on", async () => {
  await withApi({ authTokens: ["s3cret"] }, async ({ service, send }) => {
    const auth = { authorization: "Bearer s3cret" };
    const put = await send("PUT", "/kv/k3", { body: "v", headers: auth });
    assert.equal(put.status, 201);
    await put.body?.cancel();
    const denied = await send("GET", "/kv/k3");
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    assert.equal(service.cachedGets + service.gets, 0);
    const allowed = await send("GET", "/kv/k3", { headers: auth });
    assert.equal(allowed.status, 200);
    assert.equal(await allowed.text(), "v");
    assert.equal(service.cachedGets, 1);
    assert.equal(service.gets, 0);
  });
});

Deno.test("a GET served from memory is counted in kv_requests_total", async () => {
  await withApi({}, async ({ metrics, send }) => {
    const put = await send("PUT", "/kv/k4", { body: "v" });
    await put.body?.cancel();
    for (let i = 0; i < 3; i++) await (await send("GET", "/kv/k4")).body?.cancel();
    const text = await metrics.render();
    const line = text.split("\n").find((l) =>
      l.startsWith("kv_requests_total{") && l.includes('method="GET"') &&
      l.includes('route="kv_key"') && l.includes('code="200"')
    );
    assert.ok(line, text);
    assert.equal(Number(line.split(" ").at(-1)), 3);
  });
});

Deno.test("a stopping node answers 503 to a GET of a cached key", async () => {
  await withApi({}, async ({ api, service, send }) => {
    const put = await send("PUT", "/kv/k5", { body: "v" });
    await put.body?.cancel();
    api.beginStop();
    const res = await send("GET", "/kv/k5");
    assert.equal(res.status, 503);
    await res.body?.cancel();
    assert.equal(service.cachedGets + service.gets, 0);
  });
});
