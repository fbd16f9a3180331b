/** readBodyBounded on bodies with a declared Content-Length (read in one piece). */
import assert from "node:assert/strict";
import { HttpError } from "../../src/api/errors.ts";
import { readBodyBounded } from "../../src/api/limits.ts";

function putRequest(body: BodyInit, contentLength: string): Request {
  return new Request("http://h/kv/a", {
    method: "PUT",
    body,
    headers: { "content-length": contentLength },
  });
}

Deno.test("a body with Content-Length is read whole", async () => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5]);
  assert.deepEqual(await readBodyBounded(putRequest(bytes, "5"), 5), bytes);
});

Deno.test("a declared body that stalls gets 408 and asks to close the connection", async () => {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(1)); // then never more, never closed
    },
  });
  const started = performance.now();
  await assert.rejects(
    readBodyBounded(putRequest(body, "10"), 100, { timeoutMs: 40 }),
    (e) =>
      e instanceof HttpError && e.slug === "request-timeout" &&
      e.options.headers?.connection === "close",
  );
  assert.ok(performance.now() - started >= 40);
  await body.cancel().catch(() => {});
});

Deno.test("a body longer than its declared Content-Length is still cut at bytesMax", async () => {
  await assert.rejects(
    readBodyBounded(putRequest(new Uint8Array(20), "4"), 8),
    (e) => e instanceof HttpError && e.slug === "payload-too-large",
  );
});

Deno.test("many concurrent declared bodies each arrive intact", async () => {
  const reads = [];
  for (let i = 0; i < 100; i++) {
    reads.push(readBodyBounded(putRequest(new Uint8Array([i, i + 1]), "2"), 2));
  }
  const bodies = await Promise.all(reads);
  bodies.forEach((body, i) => assert.deepEqual(body, new Uint8Array([i, i + 1])));
});
