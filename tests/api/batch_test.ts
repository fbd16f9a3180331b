import assert from "node:assert/strict";
import { json, testApi } from "./helpers.ts";

function batch(ops: unknown[]): RequestInit {
  return { body: JSON.stringify({ ops }), headers: { "content-type": "application/json" } };
}

Deno.test("applies puts and deletes together and answers the batch version", async () => {
  const t = testApi();
  await t.send("PUT", "/kv/gone", { body: "x" });
  const res = await t.send(
    "POST",
    "/batch",
    batch([
      { op: "put", key: "a", value: "1" },
      { op: "put", key: "Yg==", value: "AP8=", encoding: "base64" },
      { op: "delete", key: "gone" },
    ]),
  );
  assert.equal(res.status, 200);
  const { version } = await json(res);
  assert.equal(typeof version, "number");
  assert.equal(await (await t.send("GET", "/kv/a")).text(), "1");
  assert.deepEqual(
    new Uint8Array(await (await t.send("GET", "/kv/b")).arrayBuffer()),
    new Uint8Array([0, 255]),
  );
  assert.equal((await t.send("GET", "/kv/gone")).status, 404);
});

Deno.test("a failed condition answers 412 with op_index and writes nothing", async () => {
  const t = testApi();
  const tag = (await t.send("PUT", "/kv/a", { body: "1" })).headers.get("etag")!;
  await t.send("PUT", "/kv/a", { body: "2" });
  const res = await t.send(
    "POST",
    "/batch",
    batch([
      { op: "put", key: "new", value: "n", if_none_match: "*" },
      { op: "put", key: "a", value: "3", if_match: tag },
    ]),
  );
  assert.equal(res.status, 412);
  assert.equal((await json(res)).op_index, 1);
  assert.equal((await t.send("GET", "/kv/new")).status, 404);
  assert.equal(await (await t.send("GET", "/kv/a")).text(), "2");
});

Deno.test("if_match accepts the current version as an ETag, bare digits or a number", async () => {
  const t = testApi();
  for (const form of [(v: number) => `"${v}"`, (v: number) => `${v}`, (v: number) => v]) {
    const { version } = await json(await t.send("PUT", "/kv/a", { body: "x" }));
    const res = await t.send(
      "POST",
      "/batch",
      batch([{ op: "put", key: "a", value: "y", if_match: form(version as number) }]),
    );
    assert.equal(res.status, 200);
  }
});

Deno.test("rejects more ops than batchOpsMax with 413", async () => {
  const t = testApi();
  const ops = Array.from({ length: 5 }, (_, i) => ({ op: "put", key: `k${i}`, value: "v" }));
  const res = await t.send("POST", "/batch", batch(ops));
  assert.equal(res.status, 413);
  assert.equal(t.service.entries.size, 0);
  assert.equal((await t.send("POST", "/batch", batch(ops.slice(0, 4)))).status, 200);
});

Deno.test("rejects a body over bodyBytesMax with 413", async () => {
  const t = testApi();
  const res = await t.send(
    "POST",
    "/batch",
    batch([{ op: "put", key: "a", value: "x".repeat(600) }]),
  );
  assert.equal(res.status, 413);
});

Deno.test("rejects a value over valueBytesMax inside a batch with 413 and op_index", async () => {
  const t = testApi();
  const res = await t.send(
    "POST",
    "/batch",
    batch([
      { op: "put", key: "a", value: "ok" },
      { op: "put", key: "b", value: "x".repeat(65) },
    ]),
  );
  assert.equal(res.status, 413);
  assert.equal((await json(res)).op_index, 1);
});

Deno.test("rejects malformed batch documents with 400 naming the op", async () => {
  const t = testApi();
  const cases: unknown[] = [
    [{ op: "put", key: "a" }],
    [{ op: "merge", key: "a", value: "b" }],
    [{ op: "put", key: "", value: "b" }],
    [{ op: "put", key: "k".repeat(17), value: "b" }],
    [{ op: "put", key: "a", value: "b", encoding: "hex" }],
    [{ op: "put", key: "!!", value: "b", encoding: "base64" }],
    [{ op: "put", key: "a", value: "b", if_match: "x" }],
    [{ op: "put", key: "a", value: "b", if_match: '"1"', if_none_match: "*" }],
    [{ op: "put", key: "a", value: "b", ifMatch: '"1"' }],
    [{ op: "delete", key: "a", value: "b" }],
    ["put a b"],
    [],
  ];
  for (const ops of cases) {
    const res = await t.send("POST", "/batch", batch(ops as unknown[]));
    assert.equal(res.status, 400, JSON.stringify(ops));
    assert.equal(res.headers.get("content-type"), "application/problem+json");
  }
  for (const body of ["not json", '{"op":[]}', "[]", "null", '"x"']) {
    assert.equal((await t.send("POST", "/batch", { body })).status, 400, body);
  }
  assert.equal(t.service.entries.size, 0);
});

Deno.test("rejects a non-JSON content type with 415", async () => {
  const t = testApi();
  const res = await t.send("POST", "/batch", {
    body: JSON.stringify({ ops: [{ op: "put", key: "a", value: "b" }] }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(res.status, 415);
});
