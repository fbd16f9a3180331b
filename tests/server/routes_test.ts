/** Every route and error of the HTTP contract against a real server process. */
import assert from "node:assert/strict";
import { rawRequest, rawStatus, startServer } from "./server_process.ts";

async function problem(
  res: Response,
  expected: { status: number; type: string },
): Promise<Record<string, unknown>> {
  const { status, type } = expected;
  assert.equal(res.status, status);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.type, `urn:ringkv:problem:${type}`);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  return body;
}

Deno.test("server routes end to end", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_routes_" });
  const server = await startServer(dataDir, {
    args: [
      "--key-bytes-max",
      "64",
      "--value-bytes-max",
      "1KiB",
      "--batch-ops-max",
      "3",
      "--list-limit-max",
      "4",
    ],
  });
  const url = server.url;
  try {
    await t.step("logs one listening line with the URL", () => {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.logs.filter((l) => l.includes('"listening"')).length, 1);
    });

    await t.step("PUT creates (201) then replaces (200) with ETag and version", async () => {
      const created = await fetch(`${url}/kv/a`, { method: "PUT", body: "1" });
      assert.equal(created.status, 201);
      const { version } = await created.json();
      assert.equal(created.headers.get("etag"), `"${version}"`);
      const replaced = await fetch(`${url}/kv/a`, { method: "PUT", body: "2" });
      assert.equal(replaced.status, 200);
      assert.ok((await replaced.json()).version > version);
    });

    await t.step("GET returns the bytes; HEAD the headers only; 404 when missing", async () => {
      const bytes = new Uint8Array([0, 1, 254, 255]);
      const put = await fetch(`${url}/kv/bin%00%FF`, { method: "PUT", body: bytes });
      assert.equal(put.status, 201);
      await put.body?.cancel();
      const got = await fetch(`${url}/kv/bin%00%FF`);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
      assert.equal(got.headers.get("etag"), put.headers.get("etag"));
      assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes);
      const head = await fetch(`${url}/kv/bin%00%FF`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "4");
      assert.equal(head.headers.get("etag"), put.headers.get("etag"));
      await problem(await fetch(`${url}/kv/nothing`), { status: 404, type: "not-found" });
    });

    await t.step("a raw path keeps dot segments as key bytes", async () => {
      const res = await rawRequest(
        url,
        "PUT /kv/x/../y HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nConnection: close\r\n\r\nv",
      );
      assert.equal(rawStatus(res), 201);
      const got = await fetch(`${url}/kv/x%2F..%2Fy`);
      assert.equal(await got.text(), "v");
      assert.equal((await fetch(`${url}/kv/y`)).status, 404);
    });

    await t.step("conditional PUT and DELETE: If-Match, If-None-Match, 412", async () => {
      const first = await fetch(`${url}/kv/c`, {
        method: "PUT",
        body: "1",
        headers: { "if-none-match": "*" },
      });
      assert.equal(first.status, 201);
      const tag = first.headers.get("etag")!;
      await first.body?.cancel();
      await problem(
        await fetch(`${url}/kv/c`, { method: "PUT", body: "x", headers: { "if-none-match": "*" } }),
        { status: 412, type: "condition-failed" },
      );
      const cas = await fetch(`${url}/kv/c`, {
        method: "PUT",
        body: "2",
        headers: { "if-match": tag },
      });
      assert.equal(cas.status, 200);
      const tag2 = cas.headers.get("etag")!;
      await cas.body?.cancel();
      await problem(
        await fetch(`${url}/kv/c`, { method: "PUT", body: "3", headers: { "if-match": tag } }),
        { status: 412, type: "condition-failed" },
      );
      await problem(
        await fetch(`${url}/kv/c`, { method: "DELETE", headers: { "if-match": tag } }),
        { status: 412, type: "condition-failed" },
      );
      const del = await fetch(`${url}/kv/c`, { method: "DELETE", headers: { "if-match": tag2 } });
      assert.equal(del.status, 204);
      assert.match(del.headers.get("etag")!, /^"\d+"$/);
      await problem(await fetch(`${url}/kv/c`, { method: "DELETE" }), {
        status: 404,
        type: "not-found",
      });
      await problem(
        await fetch(`${url}/kv/c`, { method: "PUT", body: "x", headers: { "if-match": "nope" } }),
        { status: 400, type: "invalid-header" },
      );
    });

    await t.step("GET /kv lists with prefix, range, cursor, keys_only, encodings", async () => {
      for (const k of ["p/1", "p/2", "p/3", "p/4", "p/5", "q"]) {
        const res = await fetch(`${url}/kv/${encodeURIComponent(k)}`, {
          method: "PUT",
          body: `v${k}`,
        });
        await res.body?.cancel();
      }
      const keys: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res: Response = await fetch(
          `${url}/kv?prefix=p%2F&limit=3${cursor ? `&cursor=${cursor}` : ""}`,
        );
        assert.equal(res.status, 200);
        const page = await res.json();
        assert.ok(page.items.length <= 3);
        keys.push(...page.items.map((it: { key: string }) => it.key));
        cursor = page.next;
        if (cursor === null) break;
      }
      assert.deepEqual(keys, ["p/1", "p/2", "p/3", "p/4", "p/5"]);
      const capped = await (await fetch(`${url}/kv?limit=1000`)).json();
      assert.equal(capped.items.length, 4);
      const range = await (await fetch(`${url}/kv?start=p%2F2&end=p%2F4&keys_only=true`)).json();
      assert.deepEqual(range.items.map((it: { key: string }) => it.key), ["p/2", "p/3"]);
      assert.equal(range.items[0].value, undefined);
      const reversed = await (await fetch(`${url}/kv?prefix=p&reverse=true&limit=1`)).json();
      assert.equal(reversed.items[0].key, "p/5");
      const b64 = await (await fetch(`${url}/kv?prefix=q&encoding=base64`)).json();
      assert.deepEqual(b64.items.map((it: { key: string; value: string }) => [it.key, it.value]), [[
        btoa("q"),
        btoa("vq"),
      ]]);
      const mixed = await (await fetch(`${url}/kv?prefix=bin`)).json();
      assert.equal(mixed.items[0].encoding, "base64");
      assert.equal(mixed.items[0].key, btoa("bin\x00\xff"));
      await problem(await fetch(`${url}/kv?prefix=a&start=b`), {
        status: 400,
        type: "invalid-parameter",
      });
      await problem(await fetch(`${url}/kv?limit=0`), { status: 400, type: "invalid-parameter" });
    });

    await t.step(
      "POST /batch applies all or nothing; 412 names op_index; 413 past the op limit",
      async () => {
        const ok = await fetch(`${url}/batch`, {
          method: "POST",
          body: JSON.stringify({
            ops: [{ op: "put", key: "b1", value: "x" }, {
              op: "put",
              key: "YjI=",
              value: "eQ==",
              encoding: "base64",
            }],
          }),
        });
        assert.equal(ok.status, 200);
        assert.equal(typeof (await ok.json()).version, "number");
        assert.equal(await (await fetch(`${url}/kv/b2`)).text(), "y");
        const failed = await fetch(`${url}/batch`, {
          method: "POST",
          body: JSON.stringify({
            ops: [{ op: "delete", key: "b2" }, {
              op: "put",
              key: "b1",
              value: "z",
              if_none_match: "*",
            }],
          }),
        });
        const body = await problem(failed, { status: 412, type: "condition-failed" });
        assert.equal(body.op_index, 1);
        assert.equal(await (await fetch(`${url}/kv/b2`)).text(), "y");
        const sequential = await fetch(`${url}/batch`, {
          method: "POST",
          body: JSON.stringify({
            ops: [{ op: "delete", key: "b2" }, {
              op: "put",
              key: "b2",
              value: "z",
              if_none_match: "*",
            }],
          }),
        });
        assert.equal(sequential.status, 200, "an op's condition sees the earlier ops of its batch");
        await sequential.body?.cancel();
        assert.equal(await (await fetch(`${url}/kv/b1`)).text(), "x");
        const ops = Array.from({ length: 4 }, (_, i) => ({ op: "put", key: `t${i}`, value: "v" }));
        await problem(
          await fetch(`${url}/batch`, { method: "POST", body: JSON.stringify({ ops }) }),
          { status: 413, type: "payload-too-large" },
        );
        await problem(
          await fetch(`${url}/batch`, { method: "POST", body: "{" }),
          { status: 400, type: "invalid-body" },
        );
        await problem(
          await fetch(`${url}/batch`, {
            method: "POST",
            body: "{}",
            headers: { "content-type": "application/xml" },
          }),
          { status: 415, type: "unsupported-media-type" },
        );
      },
    );

    await t.step(
      "limits: 414 for a long key, 413 for a large value before the body is sent",
      async () => {
        await problem(
          await fetch(`${url}/kv/${"k".repeat(65)}`, { method: "PUT", body: "v" }),
          { status: 414, type: "key-too-long" },
        );
        await problem(
          await fetch(`${url}/kv/big`, { method: "PUT", body: "x".repeat(1025) }),
          { status: 413, type: "payload-too-large" },
        );
        const res = await rawRequest(
          url,
          "PUT /kv/big HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n\r\n",
        );
        assert.equal(rawStatus(res), 413);
      },
    );

    await t.step("405 with Allow, 404 for an unknown route", async () => {
      const res = await fetch(`${url}/kv/a`, { method: "POST", body: "" });
      await problem(res, { status: 405, type: "method-not-allowed" });
      assert.equal(res.headers.get("allow"), "GET, HEAD, PUT, DELETE");
      await problem(await fetch(`${url}/nowhere`), { status: 404, type: "not-found" });
    });

    await t.step("health, ready, status and metrics", async () => {
      assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: "ok" });
      assert.deepEqual(await (await fetch(`${url}/ready`)).json(), { status: "ready" });
      const status = await (await fetch(`${url}/status`)).json();
      assert.equal(status.id, "n1");
      assert.ok(status.version > 0);
      assert.ok(status.keys >= 5);
      for (
        const field of ["uptime_seconds", "live_bytes", "dead_bytes", "disk_bytes", "segments"]
      ) {
        assert.equal(typeof status[field], "number", field);
      }
      assert.equal(typeof status.cache.hit_rate, "number");
      assert.equal(status.config.list_limit_max, 4);
      const metrics = await fetch(`${url}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      for (
        const name of [
          "kv_requests_total",
          "kv_request_duration_seconds_bucket",
          "cache_hit_rate",
          "ringkv_storage_keys",
          "ringkv_storage_live_bytes",
          "ringkv_storage_dead_bytes",
          "ringkv_storage_segments",
          "ringkv_storage_merges_total",
          "ringkv_storage_fsync_duration_seconds_count",
          "ringkv_storage_group_commit_writes_count",
          "process_cpu_seconds_total",
        ]
      ) assert.ok(text.includes(name), name);
      assert.match(text, /kv_requests_total\{method="PUT",route="kv_key",code="201"\} \d+/);
      assert.doesNotMatch(text, /ringkv_storage_fsync_duration_seconds_count 0\n/);
    });
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});
