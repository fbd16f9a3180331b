import assert from "node:assert/strict";
import { Forwarder } from "../../src/cluster/forwarding.ts";
import type { ForwardRequest, ForwardResponse } from "../../src/cluster/forwarding.ts";

/** Two forwarders wired to each other in memory; `drop` loses messages on the way. */
function pair(serve: (from: string, request: ForwardRequest) => Promise<ForwardResponse>) {
  const link = { drop: false };
  const wires: Record<string, Forwarder> = {};
  const make = (self: string) =>
    new Forwarder({
      send: (to, message) => {
        if (!link.drop) queueMicrotask(() => wires[to].onMessage(self, message));
        return true;
      },
      serve,
    });
  wires.a = make("a");
  wires.b = make("b");
  return { a: wires.a, b: wires.b, link };
}

const readIndex: ForwardRequest = { op: "read-index", group: 1 };

Deno.test("a request is answered by the peer's serve function", async () => {
  const seen: string[] = [];
  const { a } = pair((from, request) => {
    seen.push(`${from}:${request.op}`);
    return Promise.resolve({ ok: true, index: 17 });
  });
  assert.deepEqual(await a.request("b", readIndex, 1000), { ok: true, index: 17 });
  assert.deepEqual(seen, ["a:read-index"]);
});

Deno.test("an error thrown by serve comes back as a coded answer", async () => {
  const { a } = pair(() => Promise.reject(Object.assign(new Error("boom"), { code: "no_leader" })));
  assert.deepEqual(await a.request("b", readIndex, 1000), {
    ok: false,
    code: "no_leader",
    message: "boom",
  });
});

Deno.test("a request without an answer resolves undefined after its timeout", async () => {
  const { a, link } = pair(() => Promise.resolve({ ok: true }));
  link.drop = true;
  const started = Date.now();
  assert.equal(await a.request("b", readIndex, 50), undefined);
  assert.ok(Date.now() - started >= 45);
});

Deno.test("writes and reads go only over a live connection; membership calls may wait for one", async () => {
  const asked: { op: string; connectedOnly: boolean }[] = [];
  const forwarder = new Forwarder({
    send: (_to, message, options) => {
      const op = (message as { req: ForwardRequest }).req.op;
      asked.push({ op, connectedOnly: options?.connectedOnly === true });
      return options?.connectedOnly !== true; // the leader's connection is down
    },
    serve: () => Promise.resolve({ ok: true }),
  });
  const propose: ForwardRequest = { op: "propose", group: 1, command: new Uint8Array([1]) };
  assert.deepEqual(await forwarder.request("b", propose, 60_000), {
    ok: false,
    code: "unreachable",
    message: "cannot reach b now; the request was not sent",
  });
  assert.deepEqual(await forwarder.request("b", readIndex, 60_000), {
    ok: false,
    code: "unreachable",
    message: "cannot reach b now; the request was not sent",
  });
  const notice: ForwardRequest = { op: "membership", group: 1, call: "removed", index: 7 };
  const waiting = forwarder.request("b", notice, 30);
  assert.equal(await waiting, undefined, "queued for the connection, then timed out unanswered");
  assert.deepEqual(asked, [
    { op: "propose", connectedOnly: true },
    { op: "read-index", connectedOnly: true },
    { op: "membership", connectedOnly: false },
  ]);
});

Deno.test("abandoning a peer resolves its waiting requests at once", async () => {
  const { a, link } = pair(() => Promise.resolve({ ok: true }));
  link.drop = true;
  const waiting = a.request("b", readIndex, 60_000);
  a.abandon("b");
  assert.equal(await waiting, undefined);
});

Deno.test("an answer from a node the request was not sent to is ignored", async () => {
  let sent: unknown;
  const f = new Forwarder({
    send: (_to, message) => {
      sent = message;
      return true;
    },
    serve: () => Promise.resolve({ ok: true }),
  });
  const waiting = f.request("b", readIndex, 100);
  const id = (sent as { id: number }).id;
  f.onMessage("c", { t: "resp", id, resp: { ok: true, index: 1 } });
  assert.equal(await waiting, undefined);
});

Deno.test("malformed messages are ignored without calling serve", async () => {
  let served = 0;
  const f = new Forwarder({
    send: () => true,
    serve: () => {
      served++;
      return Promise.resolve({ ok: true });
    },
  });
  for (
    const m of [null, 7, "x", { t: "req" }, { t: "req", id: 1, req: { op: "propose", group: 1 } }, {
      t: "req",
      id: 1.5,
      req: readIndex,
    }]
  ) f.onMessage("b", m);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(served, 0);
  f.onMessage("b", { t: "req", id: 2, req: readIndex });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(served, 1);
});
