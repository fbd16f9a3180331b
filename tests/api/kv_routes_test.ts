import assert from "node:assert/strict";
import { splitRequestUrl } from "../../src/api/context.ts";
import { json, testApi } from "./helpers.ts";

Deno.test("PUT creates a key with 201, a version ETag and a JSON version", async () => {
  const { send } = testApi();
  const res = await send("PUT", "/kv/a", { body: "one" });
  assert.equal(res.status, 201);
  const body = await json(res);
  assert.equal(typeof body.version, "number");
  assert.equal(res.headers.get("etag"), `"${body.version}"`);
});

Deno.test("PUT over an existing key answers 200 with a higher version", async () => {
  const { send } = testApi();
  const first = await json(await send("PUT", "/kv/a", { body: "one" }));
  const res = await send("PUT", "/kv/a", { body: "two" });
  assert.equal(res.status, 200);
  assert.ok((await json(res)).version as number > (first.version as number));
});

Deno.test("GET returns the value bytes, octet-stream and the ETag", async () => {
  const { send } = testApi();
  const put = await send("PUT", "/kv/a", { body: new Uint8Array([0, 255, 7]) });
  const res = await send("GET", "/kv/a");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  assert.equal(res.headers.get("etag"), put.headers.get("etag"));
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array([0, 255, 7]));
});

Deno.test("GET of a missing key answers a 404 problem", async () => {
  const { send } = testApi();
  const res = await send("GET", "/kv/missing");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await json(res);
  assert.equal(body.type, "urn:ringkv:problem:not-found");
  assert.equal(body.status, 404);
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
});

Deno.test("HEAD answers like GET without a body", async () => {
  const { send } = testApi();
  await send("PUT", "/kv/a", { body: "hello" });
  const res = await send("HEAD", "/kv/a");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), "5");
  assert.ok(res.headers.get("etag"));
  assert.equal(res.body, null);
  assert.equal((await send("HEAD", "/kv/b")).status, 404);
});

Deno.test("GET with If-None-Match of the current version answers 304", async () => {
  const { send } = testApi();
  const tag = (await send("PUT", "/kv/a", { body: "x" })).headers.get("etag")!;
  assert.equal((await send("GET", "/kv/a", { headers: { "if-none-match": tag } })).status, 304);
  const other = await send("GET", "/kv/a", { headers: { "if-none-match": '"999"' } });
  assert.equal(other.status, 200);
});

Deno.test("percent-encoded key bytes are decoded raw: %FF is 0xFF and %2F a slash", async () => {
  const { send, service } = testApi();
  assert.equal((await send("PUT", "/kv/a%2Fb%FF", { body: "v" })).status, 201);
  const [entry] = service.entries.values();
  assert.deepEqual(entry.key, new Uint8Array([0x61, 0x2f, 0x62, 0xff]));
  assert.equal((await send("GET", "/kv/a%2fb%ff")).status, 200);
});

Deno.test("the request URL is split raw: dot segments and backslashes stay", () => {
  assert.deepEqual(splitRequestUrl("http://h:1/kv/a/../b\\c?x=1#f"), {
    rawPath: "/kv/a/../b\\c",
    rawQuery: "x=1",
  });
  assert.deepEqual(splitRequestUrl("https://h/kv"), { rawPath: "/kv", rawQuery: "" });
  assert.deepEqual(splitRequestUrl("http://h"), { rawPath: "/", rawQuery: "" });
});

Deno.test("rejects a malformed percent-encoding with 400 invalid-key", async () => {
  const { send } = testApi();
  for (const path of ["/kv/a%G0", "/kv/a%", "/kv/a%4"]) {
    const res = await send("GET", path);
    assert.equal(res.status, 400, path);
    assert.equal((await json(res)).type, "urn:ringkv:problem:invalid-key");
  }
});

Deno.test("rejects an empty key with 400", async () => {
  const { send } = testApi();
  assert.equal((await send("PUT", "/kv/", { body: "v" })).status, 400);
});

Deno.test("rejects a key longer than keyBytesMax with 414 before reading the body", async () => {
  const { send } = testApi();
  let pulled = false;
  const body = new ReadableStream({
    pull(controller) {
      pulled = true;
      controller.close();
    },
  }, { highWaterMark: 0 });
  const res = await send("PUT", "/kv/" + "k".repeat(17), { body });
  assert.equal(res.status, 414);
  assert.equal((await json(res)).type, "urn:ringkv:problem:key-too-long");
  assert.equal(pulled, false);
  assert.equal((await send("GET", "/kv/" + "%41".repeat(17))).status, 414);
  assert.equal((await send("PUT", "/kv/" + "k".repeat(16), { body: "v" })).status, 201);
});

Deno.test("rejects a value over valueBytesMax with 413 from Content-Length alone", async () => {
  const { send } = testApi();
  let pulled = false;
  const body = new ReadableStream({
    pull(controller) {
      pulled = true;
      controller.close();
    },
  }, { highWaterMark: 0 });
  const res = await send("PUT", "/kv/a", { body, headers: { "content-length": "65" } });
  assert.equal(res.status, 413);
  assert.equal(pulled, false);
  assert.equal((await send("PUT", "/kv/a", { body: "x".repeat(64) })).status, 201);
});

Deno.test("stops reading a streamed value at the limit and answers 413", async () => {
  const { send, service } = testApi();
  let chunks = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      chunks++;
      if (chunks > 1000) controller.close();
      else controller.enqueue(new Uint8Array(40));
    },
  });
  const res = await send("PUT", "/kv/a", { body });
  assert.equal(res.status, 413);
  assert.ok(chunks < 10, `read ${chunks} chunks`);
  assert.equal(service.entries.size, 0);
});

Deno.test("If-Match with the current version replaces; with another answers 412", async () => {
  const { send } = testApi();
  const tag = (await send("PUT", "/kv/a", { body: "1" })).headers.get("etag")!;
  const ok = await send("PUT", "/kv/a", { body: "2", headers: { "if-match": tag } });
  assert.equal(ok.status, 200);
  const stale = await send("PUT", "/kv/a", { body: "3", headers: { "if-match": tag } });
  assert.equal(stale.status, 412);
  assert.equal((await json(stale)).type, "urn:ringkv:problem:condition-failed");
  assert.equal(await (await send("GET", "/kv/a")).text(), "2");
});

Deno.test("If-None-Match: * creates only when the key is absent", async () => {
  const { send } = testApi();
  const headers = { "if-none-match": "*" };
  assert.equal((await send("PUT", "/kv/a", { body: "1", headers })).status, 201);
  assert.equal((await send("PUT", "/kv/a", { body: "2", headers })).status, 412);
});

Deno.test("If-Match: * writes only when the key exists", async () => {
  const { send } = testApi();
  const headers = { "if-match": "*" };
  assert.equal((await send("PUT", "/kv/a", { body: "1", headers })).status, 412);
  await send("PUT", "/kv/a", { body: "1" });
  assert.equal((await send("PUT", "/kv/a", { body: "2", headers })).status, 200);
});

Deno.test("rejects malformed or combined conditional headers with 400", async () => {
  const { send } = testApi();
  const cases: Record<string, string>[] = [
    { "if-match": "42" },
    { "if-match": 'W/"42"' },
    { "if-match": '"1", "2"' },
    { "if-none-match": '"3"' },
    { "if-match": '"1"', "if-none-match": "*" },
  ];
  for (const headers of cases) {
    const res = await send("PUT", "/kv/a", { body: "x", headers });
    assert.equal(res.status, 400, JSON.stringify(headers));
    assert.equal((await json(res)).type, "urn:ringkv:problem:invalid-header");
  }
});

Deno.test("DELETE answers 204 with the deletion's version, then 404", async () => {
  const { send } = testApi();
  const put = await json(await send("PUT", "/kv/a", { body: "1" }));
  const res = await send("DELETE", "/kv/a");
  assert.equal(res.status, 204);
  const tag = res.headers.get("etag")!;
  assert.ok(Number(tag.slice(1, -1)) > (put.version as number));
  assert.equal((await send("GET", "/kv/a")).status, 404);
  assert.equal((await send("DELETE", "/kv/a")).status, 404);
});

Deno.test("DELETE with a stale If-Match answers 412 and keeps the key", async () => {
  const { send } = testApi();
  const tag = (await send("PUT", "/kv/a", { body: "1" })).headers.get("etag")!;
  await send("PUT", "/kv/a", { body: "2" });
  assert.equal((await send("DELETE", "/kv/a", { headers: { "if-match": tag } })).status, 412);
  assert.equal((await send("GET", "/kv/a")).status, 200);
});

Deno.test("unsupported methods answer 405 with Allow", async () => {
  const { send } = testApi();
  const res = await send("POST", "/kv/a", { body: "x" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD, PUT, DELETE");
  const batch = await send("GET", "/batch");
  assert.equal(batch.status, 405);
  assert.equal(batch.headers.get("allow"), "POST");
});

Deno.test("an unknown path answers a 404 problem", async () => {
  const { send } = testApi();
  const res = await send("GET", "/nope");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
});

Deno.test("storage error codes map to their statuses without leaking stacks", async () => {
  const { send, service } = testApi();
  const cases: [string, number][] = [
    ["disk_full", 507],
    ["quota_exceeded", 507],
    ["closed", 503],
    ["value_too_large", 413],
    ["key_invalid", 400],
    ["io_error", 500],
    ["weird_unknown", 500],
  ];
  for (const [code, status] of cases) {
    service.failWritesWith = code;
    const res = await send("PUT", "/kv/a", { body: "x" });
    assert.equal(res.status, status, code);
    const text = await res.text();
    assert.ok(!text.includes("at "), `stack leaked for ${code}: ${text}`);
    if (status === 503) assert.equal(res.headers.get("retry-after"), "1");
  }
});
