import assert from "node:assert/strict";
import { ConcurrencyGate, readBodyBounded } from "../../src/api/limits.ts";
import { HttpError } from "../../src/api/errors.ts";
import type { KvPutResult } from "../../src/cluster/mod.ts";
import { testApi } from "./helpers.ts";

Deno.test("past requestsConcurrentMax requests get 503 with Retry-After, not a queue", async () => {
  const t = testApi({ requestsConcurrentMax: 2 });
  const releases: (() => void)[] = [];
  const original = t.service.put.bind(t.service);
  t.service.put = (key, value, options) =>
    new Promise<KvPutResult>((resolve) =>
      releases.push(() => resolve(original(key, value, options)))
    );
  const slow = [t.send("PUT", "/kv/a", { body: "1" }), t.send("PUT", "/kv/b", { body: "2" })];
  const start = Date.now();
  while (releases.length < 2) {
    assert.ok(Date.now() - start < 5000, "slow requests never reached the service");
    await new Promise((r) => setTimeout(r, 1));
  }
  const refused = await t.send("GET", "/kv/a");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal((await t.send("GET", "/health")).status, 200);
  for (const release of releases) release();
  assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [201, 201]);
  assert.equal(t.api.inFlight, 0);
  assert.equal((await t.send("GET", "/kv/a")).status, 200);
});

Deno.test("readBodyBounded rejects a malformed Content-Length with 400", async () => {
  const request = new Request("http://h/", {
    method: "PUT",
    body: "x",
    headers: { "content-length": "1x" },
  });
  await assert.rejects(
    readBodyBounded(request, 10),
    (e) => e instanceof HttpError && e.slug === "invalid-header",
  );
});

Deno.test("readBodyBounded joins a multi-chunk body exactly", async () => {
  const chunks = [new Uint8Array([1, 2]), new Uint8Array([3]), new Uint8Array([4, 5, 6])];
  const body = new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const request = new Request("http://h/", { method: "PUT", body });
  assert.deepEqual(await readBodyBounded(request, 6), new Uint8Array([1, 2, 3, 4, 5, 6]));
});

Deno.test("ConcurrencyGate admits up to its maximum and refuses leave without enter", () => {
  const gate = new ConcurrencyGate(1);
  assert.equal(gate.tryEnter(), true);
  assert.equal(gate.tryEnter(), false);
  gate.leave();
  assert.equal(gate.tryEnter(), true);
  gate.leave();
  assert.throws(() => gate.leave());
});

Deno.test("a body that does not arrive within bodyTimeoutMs gets 408", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(1)); // then never more, never closed
    },
    cancel() {
      cancelled = true;
    },
  });
  const request = new Request("http://h/", { method: "PUT", body });
  await assert.rejects(
    readBodyBounded(request, 100, { timeoutMs: 20 }),
    (e) => e instanceof HttpError && e.slug === "request-timeout",
  );
  assert.equal(cancelled, true);
});
