import assert from "node:assert/strict";
import { Forwarder, type ForwardRequest } from "../../src/cluster/forwarding.ts";

/** Node b's forwarder serving `serve`; a's messages reach it in a microtask. */
function wired(serve: (request: ForwardRequest) => Promise<{ ok: true; index: number }>) {
  const nodes: Record<string, Forwarder> = {};
  const make = (self: string) =>
    new Forwarder({
      send: (to, message) => {
        queueMicrotask(() => nodes[to].onMessage(self, message));
        return true;
      },
      serve: (_from, request) => serve(request),
    });
  nodes.a = make("a");
  nodes.b = make("b");
  return nodes;
}

Deno.test("a lease-read request is served like a read-index one", async () => {
  const served: string[] = [];
  const { a } = wired((request) => {
    served.push(request.op);
    return Promise.resolve({ ok: true, index: 9 });
  });
  assert.deepEqual(await a.request("b", { op: "lease-read", group: 1 }, 5000), {
    ok: true,
    index: 9,
  });
  assert.deepEqual(served, ["lease-read"]);
});

Deno.test("a request with an op the node does not know is answered unsupported at once", async () => {
  const { a } = wired(() => Promise.reject(new Error("must not be served")));
  const started = performance.now();
  const future = { op: "read-at-timestamp", group: 1 } as unknown as ForwardRequest;
  const resp = await a.request("b", future, 30_000);
  assert.equal(resp?.ok, false);
  assert.equal(resp?.ok === false && resp.code, "unsupported");
  assert.ok(performance.now() - started < 5000, "not left to time out");
});
