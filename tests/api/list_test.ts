import assert from "node:assert/strict";
import { json, type TestApi, testApi } from "./helpers.ts";

async function fill(t: TestApi, keys: string[]): Promise<void> {
  for (const key of keys) {
    const res = await t.send("PUT", "/kv/" + encodeURIComponent(key), { body: "v-" + key });
    assert.ok(res.status === 201 || res.status === 200);
  }
}

type Items = { key: string; value?: string; version: number; encoding?: string }[];

async function list(t: TestApi, query: string): Promise<{ items: Items; next: string | null }> {
  const res = await t.send("GET", "/kv" + query);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get("content-type"), "application/json");
  return await res.json();
}

Deno.test("lists keys in order with values, versions and a null next at the end", async () => {
  const t = testApi();
  await fill(t, ["b", "a", "c"]);
  const page = await list(t, "");
  assert.deepEqual(page.items.map((i) => i.key), ["a", "b", "c"]);
  assert.equal(page.items[0].value, "v-a");
  assert.equal(typeof page.items[0].version, "number");
  assert.equal(page.next, null);
});

Deno.test("prefix selects only keys starting with it", async () => {
  const t = testApi();
  await fill(t, ["user/1", "user/2", "users", "usex", "a"]);
  const page = await list(t, "?prefix=user%2F");
  assert.deepEqual(page.items.map((i) => i.key), ["user/1", "user/2"]);
});

Deno.test("start is inclusive and end exclusive", async () => {
  const t = testApi();
  await fill(t, ["a", "b", "c", "d"]);
  const page = await list(t, "?start=b&end=d");
  assert.deepEqual(page.items.map((i) => i.key), ["b", "c"]);
});

Deno.test("rejects prefix together with start or end with 400", async () => {
  const t = testApi();
  for (const q of ["?prefix=a&start=a", "?prefix=a&end=b"]) {
    const res = await t.send("GET", "/kv" + q);
    assert.equal(res.status, 400);
    assert.equal((await json(res)).type, "urn:ringkv:problem:invalid-parameter");
  }
});

Deno.test("the cursor walks every key exactly once, forward and reverse", async () => {
  const t = testApi();
  const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, "0")}`);
  await fill(t, keys);
  for (const reverse of [false, true]) {
    const seen: string[] = [];
    let cursor: string | null = "";
    for (let pages = 0; cursor !== null; pages++) {
      assert.ok(pages < 10, "too many pages");
      const q = `?limit=5&reverse=${reverse}` + (cursor ? `&cursor=${cursor}` : "");
      const page = await list(t, q);
      seen.push(...page.items.map((i) => i.key));
      cursor = page.next;
    }
    assert.deepEqual(seen, reverse ? [...keys].reverse() : keys);
  }
});

Deno.test("limit defaults to 100 capped at listLimitMax", async () => {
  const t = testApi();
  await fill(t, ["a", "b", "c", "d", "e", "f", "g"]);
  assert.equal((await list(t, "")).items.length, 5);
  assert.equal((await list(t, "?limit=1000")).items.length, 5);
  assert.equal((await list(t, "?limit=2")).items.length, 2);
});

Deno.test("rejects a non-positive or non-numeric limit with 400", async () => {
  const t = testApi();
  for (const q of ["?limit=0", "?limit=-1", "?limit=abc", "?limit=1.5"]) {
    assert.equal((await t.send("GET", "/kv" + q)).status, 400, q);
  }
});

Deno.test("rejects a cursor that is not one the server made with 400", async () => {
  const t = testApi();
  for (const q of ["?cursor=%%%", "?cursor=a", "?cursor=" + "A".repeat(100)]) {
    assert.equal((await t.send("GET", "/kv" + q)).status, 400, q);
  }
});

Deno.test("keys_only omits values", async () => {
  const t = testApi();
  await fill(t, ["a"]);
  const page = await list(t, "?keys_only=true");
  assert.deepEqual(Object.keys(page.items[0]).sort(), ["key", "version"]);
});

Deno.test("encoding=base64 encodes every key and value", async () => {
  const t = testApi();
  await fill(t, ["a"]);
  const page = await list(t, "?encoding=base64");
  assert.equal(page.items[0].key, btoa("a"));
  assert.equal(page.items[0].value, btoa("v-a"));
  assert.equal(page.items[0].encoding, undefined);
});

Deno.test("text mode gives a non-UTF-8 item in base64, marked on that item only", async () => {
  const t = testApi();
  await t.send("PUT", "/kv/%FF", { body: "text" });
  await t.send("PUT", "/kv/b", { body: new Uint8Array([0xc3]) });
  await t.send("PUT", "/kv/c", { body: "fine" });
  const page = await list(t, "");
  assert.deepEqual(page.items[0], {
    key: btoa("b"),
    value: btoa("\xc3"),
    version: 2,
    encoding: "base64",
  });
  assert.deepEqual(page.items[1], { key: "c", value: "fine", version: 3 });
  assert.deepEqual(page.items[2], {
    key: "/w==",
    value: btoa("text"),
    version: 1,
    encoding: "base64",
  });
});

Deno.test("prefix takes raw percent-decoded bytes", async () => {
  const t = testApi();
  await t.send("PUT", "/kv/%FF%01", { body: "x" });
  await t.send("PUT", "/kv/%FE", { body: "y" });
  const page = await list(t, "?prefix=%FF&encoding=base64");
  assert.deepEqual(page.items.map((i) => i.key), [btoa("\xff\x01")]);
});

Deno.test("rejects an unknown encoding and a bad boolean with 400", async () => {
  const t = testApi();
  assert.equal((await t.send("GET", "/kv?encoding=hex")).status, 400);
  assert.equal((await t.send("GET", "/kv?reverse=maybe")).status, 400);
  assert.equal((await t.send("GET", "/kv?limit=1&limit=2")).status, 400);
});
