/** Graceful stop on SIGTERM, durability across kill -9, and the 503 concurrency limit. */
import assert from "node:assert/strict";
import { rawRequest, rawStatus, startServer, waitUntil } from "./server_process.ts";

async function inFlight(url: string): Promise<number> {
  const status = await (await fetch(`${url}/status`)).json();
  return status.requests_in_flight - 1; // minus this /status request
}

/** A PUT whose body is held open until release() is called. */
function heldPut(url: string, key: string): { response: Promise<Response>; release: () => void } {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode("held-"));
      await released;
      controller.enqueue(new TextEncoder().encode("done"));
      controller.close();
    },
  });
  const response = fetch(`${url}/kv/${key}`, { method: "PUT", body });
  return { response, release: () => release() };
}

Deno.test("SIGTERM refuses new requests, finishes the in-flight one, exits 0, keeps the write", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_stop_" });
  const server = await startServer(dataDir);
  try {
    const held = heldPut(server.url, "inflight");
    await waitUntil(async () => (await inFlight(server.url)) >= 1, "the held PUT to arrive");
    const exit = server.stop("SIGTERM");
    await waitUntil(async () => {
      const res = await fetch(`${server.url}/kv/other`);
      await res.body?.cancel();
      return res.status === 503 && res.headers.get("retry-after") === "1";
    }, "new requests to be refused with 503");
    assert.equal(await Promise.race([exit, Promise.resolve("running")]), "running");
    held.release();
    const res = await held.response;
    assert.equal(res.status, 201, server.logs.join("\n"));
    await res.body?.cancel();
    const status = await exit;
    assert.equal(status.code, 0);
    assert.ok(server.logs.some((l) => l.includes('"stopped"')), server.logs.join("\n"));
    const again = await startServer(dataDir);
    try {
      assert.equal(await (await fetch(`${again.url}/kv/inflight`)).text(), "held-done");
    } finally {
      assert.equal((await again.stop()).code, 0);
    }
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

// A process crash loses nothing acknowledged in any --sync mode: the WAL's write() is done
// before a write is applied or answered (only a power loss can cost "interval" and "none").
for (const sync of ["always", "none"]) {
  Deno.test(`every PUT acknowledged before kill -9 is present after restart (--sync ${sync})`, async () => {
    await killAfterAckedPuts(sync);
  });
}

async function killAfterAckedPuts(sync: string): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_kill_" });
  const server = await startServer(dataDir, { args: ["--sync", sync] });
  const count = 400;
  const connections = 16;
  try {
    const acked = new Map<string, string>();
    let next = 0;
    await Promise.all(Array.from({ length: connections }, async () => {
      while (next < count) {
        const i = next++;
        const key = `key-${i}`;
        const value = `value-${i}-${"x".repeat(i % 50)}`;
        const res = await fetch(`${server.url}/kv/${key}`, { method: "PUT", body: value });
        assert.equal(res.status, 201);
        await res.body?.cancel();
        acked.set(key, value);
      }
    }));
    const status = await server.stop("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    const again = await startServer(dataDir, { args: ["--sync", sync] });
    try {
      const missing: string[] = [];
      for (const [key, value] of acked) {
        const res = await fetch(`${again.url}/kv/${key}`);
        if (res.status !== 200 || (await res.text()) !== value) missing.push(key);
        else if (res.bodyUsed === false) await res.body?.cancel();
      }
      assert.deepEqual(missing, []);
      const st = await (await fetch(`${again.url}/status`)).json();
      assert.equal(st.keys, count);
    } finally {
      assert.equal((await again.stop()).code, 0);
    }
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("past --requests-concurrent-max the node answers 503 with Retry-After", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_busy_" });
  const server = await startServer(dataDir, { args: ["--requests-concurrent-max", "3"] });
  try {
    const held = [heldPut(server.url, "h1"), heldPut(server.url, "h2")];
    await waitUntil(async () => (await inFlight(server.url)) >= 2, "two held PUTs");
    const third = heldPut(server.url, "h3");
    let thirdRefused = false;
    third.response.then((res) => {
      thirdRefused = res.status === 503 && res.headers.get("retry-after") === "1";
    });
    await waitUntil(async () => {
      // Either the poll meets the full gate, or (when a poll held the last slot as the third
      // PUT arrived) the third PUT did.
      if (thirdRefused) return true;
      const res = await fetch(`${server.url}/kv/other`);
      await res.body?.cancel();
      return res.status === 503 && res.headers.get("retry-after") === "1";
    }, "a 503 while full");
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    for (const h of [...held, third]) h.release();
    const statuses = await Promise.all([...held, third].map(async (h) => {
      const res = await h.response;
      await res.body?.cancel();
      return res.status;
    }));
    assert.deepEqual(statuses.slice(0, 2), [201, 201]);
    assert.ok(statuses[2] === 201 || statuses[2] === 503, `third PUT: ${statuses[2]}`);
    const after = await fetch(`${server.url}/kv/h1`);
    assert.equal(after.status, 200);
    await after.body?.cancel();
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a second node on the same data directory exits 1 naming the lock holder", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_lock_" });
  const server = await startServer(dataDir);
  try {
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "serve", "--http", "127.0.0.1:0", "--data-dir", dataDir],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    assert.match(new TextDecoder().decode(out.stderr), /"cannot start".*locked/);
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("an invalid flag exits 2 with a message naming it", async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "serve", "--sync", "sometimes"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--sync.*always, interval, none/);
});

Deno.test("a body slower than --body-timeout-ms gets 408 and frees its slot", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_slow_" });
  const server = await startServer(dataDir, {
    args: ["--body-timeout-ms", "200", "--requests-concurrent-max", "1"],
  });
  try {
    const started = Date.now();
    const res = await rawRequest(
      server.url,
      "PUT /kv/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab",
      10_000,
    );
    assert.equal(rawStatus(res), 408, res);
    assert.ok(Date.now() - started < 5000);
    const after = await fetch(`${server.url}/kv/slow`);
    assert.equal(after.status, 404);
    await after.body?.cancel();
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});
