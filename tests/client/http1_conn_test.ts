import assert from "node:assert/strict";
import { Http1Connection, Http1Error } from "../../bench/http1_conn.ts";

function serve(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("keeps one connection for several requests with bodies", async () => {
  const seen: string[] = [];
  const server = serve(async (request) => {
    seen.push(`${request.method} ${new URL(request.url).pathname} ${await request.text()}`);
    return new Response("answer-" + seen.length);
  });
  const conn = new Http1Connection(server.url);
  try {
    for (let i = 1; i <= 3; i++) {
      const body = new TextEncoder().encode(`v${i}`);
      const answer = await conn.request("PUT", `/kv/k${i}`, { body, timeoutMs: 5000 });
      assert.equal(answer.status, 200);
      assert.equal(new TextDecoder().decode(answer.body), `answer-${i}`);
    }
    const empty = await conn.request("GET", "/x", { timeoutMs: 5000 });
    assert.equal(empty.status, 200);
    assert.deepEqual(seen, ["PUT /kv/k1 v1", "PUT /kv/k2 v2", "PUT /kv/k3 v3", "GET /x "]);
  } finally {
    conn.close();
    await server.close();
  }
});

Deno.test("reads a chunked body and an empty 204", async () => {
  const server = serve((request) => {
    if (request.method === "DELETE") return new Response(null, { status: 204 });
    const parts = ["abc", "", "defgh", "i".repeat(70_000)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    return new Response(stream);
  });
  const conn = new Http1Connection(server.url);
  try {
    const answer = await conn.request("GET", "/", { timeoutMs: 5000 });
    assert.equal(answer.body.byteLength, 8 + 70_000);
    assert.equal(new TextDecoder().decode(answer.body.subarray(0, 8)), "abcdefgh");
    assert.equal((await conn.request("DELETE", "/", { timeoutMs: 5000 })).status, 204);
  } finally {
    conn.close();
    await server.close();
  }
});

Deno.test("classifies a refused connection and a timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const c of listener) accepted.push(c); // accepts, never answers
  })().catch(() => {});
  try {
    const silent = new Http1Connection(`http://127.0.0.1:${port}`);
    const error = await silent.request("GET", "/", { timeoutMs: 100 }).catch((e) => e);
    assert.ok(error instanceof Http1Error);
    assert.equal(error.kind, "timeout");
  } finally {
    listener.close();
    for (const c of accepted) c.close();
    await loop;
  }
  // A loopback address no other test listens on, so a parallel test cannot take the freed port.
  const closed = Deno.listen({ hostname: "127.77.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const refused = new Http1Connection(`http://127.77.0.1:${closedPort}`);
  const error = await refused.request("GET", "/", { timeoutMs: 1000 }).catch((e) => e);
  assert.equal(error.kind, "connection_refused");
});
