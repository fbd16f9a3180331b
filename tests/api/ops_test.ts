import assert from "node:assert/strict";
import { json, testApi } from "./helpers.ts";

Deno.test("health answers ok", async () => {
  const res = await testApi().send("GET", "/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok" });
});

Deno.test("ready answers 200, then 503 with Retry-After once stopping", async () => {
  const t = testApi();
  const res = await t.send("GET", "/ready");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ready" });
  t.api.beginStop();
  const stopping = await t.send("GET", "/ready");
  assert.equal(stopping.status, 503);
  assert.equal(stopping.headers.get("retry-after"), "1");
});

Deno.test("ready answers 503 when the service is not ready", async () => {
  const t = testApi();
  t.service.isReady = false;
  assert.equal((await t.send("GET", "/ready")).status, 503);
});

Deno.test("status reports id, version, keys, cache and the config summary", async () => {
  const t = testApi();
  await t.send("PUT", "/kv/a", { body: "x" });
  const body = await json(await t.send("GET", "/status"));
  assert.equal(body.id, "t1");
  assert.equal(body.version, 1);
  assert.equal(body.keys, 1);
  assert.equal(typeof body.uptime_seconds, "number");
  for (const field of ["live_bytes", "dead_bytes", "disk_bytes", "segments"]) {
    assert.equal(typeof body[field], "number", field);
  }
  assert.deepEqual(body.cache, { hits: 3, misses: 1, bytes: 0, hit_rate: 0.75 });
  assert.deepEqual(body.config, { sync: "always" });
});

Deno.test("metrics count requests by method, route and code", async () => {
  const t = testApi();
  await t.send("PUT", "/kv/a", { body: "x" });
  await t.send("GET", "/kv/a");
  await t.send("GET", "/kv/missing");
  const res = await t.send("GET", "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain/);
  const text = await res.text();
  assert.match(text, /kv_requests_total\{method="PUT",route="kv_key",code="201"\} 1/);
  assert.match(text, /kv_requests_total\{method="GET",route="kv_key",code="200"\} 1/);
  assert.match(text, /kv_requests_total\{method="GET",route="kv_key",code="404"\} 1/);
  assert.match(text, /kv_request_duration_seconds_count\{method="GET",route="kv_key"\} 2/);
  assert.match(text, /cache_hit_rate 0.75/);
  assert.match(text, /ringkv_storage_keys 1/);
});

Deno.test("unknown methods are counted as OTHER, not as their own label", async () => {
  const t = testApi();
  await t.send("BREW", "/kv/a");
  const text = await (await t.send("GET", "/metrics")).text();
  assert.match(text, /method="OTHER",route="kv_key",code="405"/);
  assert.doesNotMatch(text, /BREW/);
});
