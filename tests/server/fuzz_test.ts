/**
 * Seeded fuzzing of a real server: thousands of random and malformed requests (methods, paths,
 * percent-encodings, query strings, headers, bodies, raw HTTP) mixed with well-formed writes to
 * a model namespace. Checks: no 5xx but 503/507, every error a problem+json, the model matches
 * the store throughout, after the run and after a restart.
 * Reproduce with RINGKV_FUZZ_SEED=<seed>; RINGKV_FUZZ_REQUESTS sets the count (default 5000).
 */
import assert from "node:assert/strict";
import { rawRequest, rawStatus, type ServerProcess, startServer } from "./server_process.ts";
import { percentEncode, toBase64 } from "../../src/api/codec.ts";
import { seededRandom } from "../../src/seeded_random.ts";

const seed = Number(Deno.env.get("RINGKV_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const requestCount = Number(Deno.env.get("RINGKV_FUZZ_REQUESTS") ?? 5000);
const keyBytesMax = 48;
const valueBytesMax = 2048;
const batchOpsMax = 6;

const rand = seededRandom(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)];
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
const encoder = new TextEncoder();

// Weighted toward the methods the API serves.
const methods = [
  "GET",
  "GET",
  "GET",
  "PUT",
  "PUT",
  "PUT",
  "POST",
  "POST",
  "DELETE",
  "DELETE",
  "HEAD",
  "PATCH",
  "OPTIONS",
  "BREW",
] as const;
const fixedPaths = [
  "/kv",
  "/kv/",
  "/batch",
  "/health",
  "/ready",
  "/status",
  "/metrics",
  "/",
  "/kv//x",
  "/KV/a",
  "/batch/x",
  "/health/",
  "/kv?x",
];
const weirdPieces = [
  "%",
  "%2",
  "%zz",
  "%FF",
  "%00",
  "%2F",
  "%2e%2E",
  "..",
  ".",
  "é",
  "💥",
  "~",
  "+",
  ";",
  "%25",
  "a",
  "zz",
  "\\",
  "|",
  "`",
  "{",
  "}",
  "'",
  '"',
  "<",
];

function garbageKeyPath(): string {
  const parts = ["gz"];
  const n = int(12);
  for (let i = 0; i < n; i++) {
    parts.push(rand() < 0.5 ? pick(weirdPieces) : percentEncode(bytes(int(6))));
  }
  if (rand() < 0.05) parts.push("x".repeat(keyBytesMax * (1 + int(4))));
  return "/kv/" + parts.join(rand() < 0.3 ? "/" : "");
}

function garbageQuery(): string {
  const names = [
    "prefix",
    "start",
    "end",
    "limit",
    "cursor",
    "keys_only",
    "encoding",
    "reverse",
    "x",
    "",
    "%FF",
    "limit",
  ];
  const values = [
    "",
    "0",
    "-1",
    "1",
    "7",
    "1001",
    "99999999999",
    "abc",
    "true",
    "false",
    "base64",
    "text",
    "hex",
    "%FF",
    "%",
    "AAAA",
    "_-_-",
    "gz",
    "model%2F",
  ];
  const n = int(5);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`${pick(names)}=${pick(values)}`);
  return parts.length === 0 ? "" : "?" + parts.join(pick(["&", "&&", ";"]));
}

function garbageHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const options: [string, string[]][] = [
    ["if-match", ['"1"', "*", "1", 'W/"1"', '"1", "2"', '"99999999999999999999"', "", '"-3"']],
    ["if-none-match", ["*", '"1"', "x", ""]],
    ["content-type", [
      "application/json",
      "text/plain",
      "application/xml",
      "multipart/form-data; boundary=x",
      "",
      "application/json; charset=utf-8",
    ]],
    ["authorization", ["Bearer x", "Basic abc", "Bearer", ""]],
    ["accept", ["*/*", "application/json", "text/html"]],
    ["x-noise", ["a".repeat(int(2000))]],
  ];
  for (const [name, values] of options) if (rand() < 0.25) headers[name] = pick(values);
  return headers;
}

function garbageBatch(): string {
  const opCount = pick([0, 1, 2, 5, 6, 7, 20]);
  const ops = Array.from({ length: opCount }, () => {
    const op: Record<string, unknown> = {};
    if (rand() < 0.95) op.op = pick(["put", "delete", "merge", "PUT", 1]);
    if (rand() < 0.95) {
      op.key = pick(["gz" + int(50), "", "gz" + "k".repeat(60), 5, null, "Z3o=", "!!"]);
    }
    if (rand() < 0.6) op.value = pick(["v", "", "x".repeat(valueBytesMax + 1), "AAEC", 3, "=="]);
    if (rand() < 0.2) op.encoding = pick(["text", "base64", "hex"]);
    if (rand() < 0.1) op.if_match = pick(['"1"', "1", 1, "x", -1]);
    if (rand() < 0.1) op.if_none_match = pick(["*", '"1"']);
    if (rand() < 0.05) op.extra = true;
    return op;
  });
  let text = JSON.stringify(rand() < 0.9 ? { ops } : pick([ops, null, "ops", { ops: 5 }]));
  if (rand() < 0.3) {
    const chars = [...text];
    for (let i = 0, n = 1 + int(3); i < n && chars.length > 0; i++) {
      chars[int(chars.length)] = pick(["{", "}", '"', ",", ":", "\\", "\u0000", "x", "ÿ"]);
    }
    text = chars.join("");
  }
  return text;
}

function garbageBody(method: string): BodyInit | undefined {
  if (method === "GET" || method === "HEAD") return undefined;
  const r = rand();
  if (r < 0.3) return garbageBatch();
  if (r < 0.6) return bytes(int(valueBytesMax + 200));
  if (r < 0.7) return "";
  return undefined;
}

/** A malformed or unusual request sent as raw bytes (the framing stays complete). */
function rawGarbage(): string {
  const path = pick([
    "/kv/gz/../gz",
    "/kv/gz/./a",
    "/kv/gz\\a",
    "/kv/gz%",
    "/kv/gz\u00e9",
    "/kv/gz%00",
    "/../kv/gz",
    "*",
    "/kv/gz?%%",
    "/kv/gz#frag",
  ]);
  const variants = [
    `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`,
    `PUT ${path} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
    `PUT /kv/gzraw HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\nConnection: close\r\n\r\n`,
    `PUT /kv/gzraw HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd`,
    `PUT /kv/gzraw HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    `PUT /kv/gzraw HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    `GARBAGE\r\n\r\n`,
    `GET /kv/gz HTTP/9.9\r\n\r\n`,
    `POST /batch HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
    `GET /kv/gz HTTP/1.1\r\nHost: h\r\nIf-Match: \u00ff\r\nConnection: close\r\n\r\n`,
  ];
  return pick(variants);
}

/** The model of the "model/" namespace: key -> value and version. */
type Model = Map<string, { value: Uint8Array; version: number }>;
const modelKeys = Array.from({ length: 12 }, (_, i) => `model/${i}${i % 3 === 0 ? "/%FF" : ""}`);

function keyBytes(name: string): Uint8Array {
  // "%FF" in a model key name stands for the raw byte 0xFF.
  const parts = name.split("%FF").map((p) => encoder.encode(p));
  const out: number[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(0xff);
    out.push(...p);
  });
  return Uint8Array.from(out);
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

async function checkError(res: Response, what: string): Promise<void> {
  assert.ok(
    res.status < 500 || res.status === 503 || res.status === 507,
    `${what} -> ${res.status}`,
  );
  if (res.status < 400) {
    await res.body?.cancel();
    return;
  }
  assert.equal(res.headers.get("content-type"), "application/problem+json", what);
  const text = await res.text();
  if (what.includes(" HEAD ")) return; // no body on HEAD
  const body = JSON.parse(text);
  assert.equal(body.status, res.status, what);
  for (const member of ["type", "title", "detail"]) {
    assert.equal(typeof body[member], "string", `${what}: ${member}`);
  }
  assert.ok(!text.includes("    at "), `stack trace leaked: ${what}`);
}

async function modelStep(url: string, model: Model): Promise<void> {
  const name = pick(modelKeys);
  const key = keyBytes(name);
  const path = `${url}/kv/${percentEncode(key)}`;
  const current = model.get(hex(key));
  const r = rand();
  if (r < 0.35) {
    const value = bytes(int(64));
    const conditional = rand();
    const headers: Record<string, string> = {};
    let expectOk = true;
    if (conditional < 0.2) {
      headers["if-none-match"] = "*";
      expectOk = current === undefined;
    } else if (conditional < 0.4) {
      const stale = rand() < 0.5;
      headers["if-match"] = `"${current === undefined || stale ? 1 + int(3) : current.version}"`;
      expectOk = current !== undefined && headers["if-match"] === `"${current.version}"`;
    }
    const res = await fetch(path, { method: "PUT", body: value, headers });
    if (expectOk) {
      assert.equal(res.status, current === undefined ? 201 : 200, `model PUT ${name}`);
      const { version } = await res.json();
      assert.ok(current === undefined || version > current.version);
      model.set(hex(key), { value, version });
    } else {
      assert.equal(res.status, 412, `model conditional PUT ${name}`);
      await res.body?.cancel();
    }
  } else if (r < 0.5) {
    const res = await fetch(path, { method: "DELETE" });
    assert.equal(res.status, current === undefined ? 404 : 204, `model DELETE ${name}`);
    await res.body?.cancel();
    model.delete(hex(key));
  } else if (r < 0.65) {
    await modelBatch(url, model);
  } else {
    const res = await fetch(path);
    if (current === undefined) {
      assert.equal(res.status, 404, `model GET ${name}`);
      await res.body?.cancel();
    } else {
      assert.equal(res.status, 200, `model GET ${name}`);
      assert.equal(res.headers.get("etag"), `"${current.version}"`);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), current.value);
    }
  }
}

async function modelBatch(url: string, model: Model): Promise<void> {
  const n = 1 + int(batchOpsMax);
  const ops: Record<string, unknown>[] = [];
  const after = new Map(model);
  let fails = false;
  const writes: [string, Uint8Array | undefined][] = [];
  for (let i = 0; i < n; i++) {
    const key = keyBytes(pick(modelKeys));
    const now = after.get(hex(key));
    const op: Record<string, unknown> = { key: toBase64(key), encoding: "base64" };
    if (rand() < 0.7) {
      const value = bytes(int(32));
      Object.assign(op, { op: "put", value: toBase64(value) });
      if (rand() < 0.15) {
        op.if_none_match = "*";
        if (now !== undefined) fails = true;
      }
      after.set(hex(key), { value, version: -1 });
      writes.push([hex(key), value]);
    } else {
      op.op = "delete";
      if (rand() < 0.15 && now !== undefined && now.version > 0) {
        op.if_match = `"${now.version}"`;
      }
      after.delete(hex(key));
      writes.push([hex(key), undefined]);
    }
    ops.push(op);
  }
  const res = await fetch(`${url}/batch`, { method: "POST", body: JSON.stringify({ ops }) });
  if (fails) {
    assert.equal(res.status, 412, "model batch with a failing condition");
    await res.body?.cancel();
    return;
  }
  assert.equal(res.status, 200, `model batch: ${await res.clone().text()}`);
  const { version } = await res.json();
  for (const [k, value] of writes) {
    if (value === undefined) model.delete(k);
    else model.set(k, { value, version });
  }
}

async function listAll(
  url: string,
  query: string,
): Promise<{ key: Uint8Array; value: Uint8Array; version: number }[]> {
  const out = [];
  let cursor: string | null = "";
  for (let pages = 0; cursor !== null; pages++) {
    assert.ok(pages < 10_000, "listing does not end");
    const res: Response = await fetch(
      `${url}/kv?encoding=base64&limit=7${query}${cursor ? `&cursor=${cursor}` : ""}`,
    );
    assert.equal(res.status, 200);
    const page = await res.json();
    for (const item of page.items) {
      out.push({
        key: Uint8Array.from(atob(item.key), (c) => c.charCodeAt(0)),
        value: Uint8Array.from(atob(item.value), (c) => c.charCodeAt(0)),
        version: item.version,
      });
    }
    cursor = page.next;
  }
  return out;
}

async function checkConsistent(url: string, model: Model): Promise<void> {
  const listed = await listAll(url, "&prefix=model%2F");
  assert.deepEqual(
    listed.map((e) => [hex(e.key), hex(e.value), e.version]),
    [...model.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map((
      [k, v],
    ) => [k, hex(v.value), v.version]),
    "model namespace differs from the store",
  );
  const all = await listAll(url, "");
  for (let i = 1; i < all.length; i++) {
    assert.ok(hex(all[i - 1].key) < hex(all[i].key), "listing out of order");
  }
  for (const entry of all.slice(0, 200)) {
    const res = await fetch(`${url}/kv/${percentEncode(entry.key)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("etag"), `"${entry.version}"`);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), entry.value);
  }
  const status = await (await fetch(`${url}/status`)).json();
  assert.equal(status.keys, all.length, "status keys differ from the listing");
}

Deno.test(`fuzz: random and malformed requests never crash or corrupt the store (seed ${seed})`, async () => {
  console.log(
    `fuzz seed ${seed} (reproduce with RINGKV_FUZZ_SEED=${seed}), ${requestCount} requests`,
  );
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_fuzz_" });
  const args = [
    "--key-bytes-max",
    String(keyBytesMax),
    "--value-bytes-max",
    String(valueBytesMax),
    "--batch-ops-max",
    String(batchOpsMax),
    "--body-bytes-max",
    "16KiB",
    "--segment-bytes",
    "64KiB",
  ];
  let server: ServerProcess = await startServer(dataDir, { args });
  const statuses = new Map<number, number>();
  const model: Model = new Map();
  try {
    for (let i = 0; i < requestCount; i++) {
      const r = rand();
      if (r < 0.3) {
        await modelStep(server.url, model);
        continue;
      }
      if (r < 0.38) {
        const text = rawGarbage();
        const response = await rawRequest(server.url, text, 5000);
        const status = rawStatus(response);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.ok(
          status < 500 || status === 503 || status === 507,
          `raw ${JSON.stringify(text)} -> ${status}`,
        );
        continue;
      }
      const method = pick(methods);
      const path = rand() < 0.6 ? garbageKeyPath() : pick(fixedPaths);
      const query = rand() < 0.4 ? garbageQuery() : "";
      const what = `#${i} ${method} ${path}${query}`;
      let res: Response;
      try {
        res = await fetch(server.url + path + query, {
          method,
          headers: garbageHeaders(),
          body: garbageBody(method),
        });
      } catch (error) {
        // fetch itself refuses some inputs (bad header values); the server never saw them.
        if (error instanceof TypeError && !String(error.message).includes("connect")) continue;
        throw new Error(`${what}: ${error}`);
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await checkError(res, what);
    }
    console.log("statuses", Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    await checkConsistent(server.url, model);
    assert.equal((await server.stop()).code, 0);
    server = await startServer(dataDir, { args });
    await checkConsistent(server.url, model);
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});
