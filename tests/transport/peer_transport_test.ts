import assert from "node:assert/strict";
import { type Envelope, PeerTransport } from "../../src/transport/mod.ts";
import {
  addrOf,
  captureLogger,
  closeAll,
  secret,
  startCluster,
  startNode,
  waitFor,
} from "./helpers.ts";

Deno.test("three transports deliver every message in per-pair order, batched", async () => {
  const nodes = await startCluster(["n1", "n2", "n3"]);
  try {
    const count = 2_000;
    for (let i = 0; i < count; i++) {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from !== to) {
            from.transport.send(to.id, { groupId: i % 3, message: { seq: i, from: from.id } });
          }
        }
      }
    }
    await waitFor(() => nodes.every((n) => n.received.length === 2 * count), "all messages");
    for (const node of nodes) {
      for (const peer of nodes) {
        if (peer === node) continue;
        const seqs = node.received.filter((r) => r.from === peer.id).map((r) =>
          (r.envelope.message as { seq: number }).seq
        );
        assert.deepEqual(
          seqs,
          Array.from({ length: count }, (_, i) => i),
          `${peer.id} -> ${node.id}`,
        );
        assert.ok(
          node.received.every((r) =>
            r.envelope.groupId === (r.envelope.message as { seq: number }).seq % 3
          ),
        );
      }
      const total = node.transport.stats().total;
      assert.equal(total.messagesOut, 2 * count);
      assert.ok(total.framesOut < total.messagesOut / 10, `batched: ${total.framesOut} frames`);
    }
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("sendMany carries a batch of per-group messages in one frame", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [n1, n2] = nodes;
  try {
    const before = n1.transport.stats().peers.n2.framesOut;
    const heartbeats: Envelope[] = Array.from(
      { length: 50 },
      (_, g) => ({ groupId: g, message: { hb: 9 } }),
    );
    assert.equal(n1.transport.sendMany("n2", heartbeats), true);
    await waitFor(() => n2.received.length === 50, "heartbeats");
    assert.equal(n1.transport.stats().peers.n2.framesOut - before, 1);
    assert.equal(n2.transport.stats().peers.n1.framesIn, 1);
    assert.deepEqual(n2.received.map((r) => r.envelope.groupId), heartbeats.map((h) => h.groupId));
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("only the node with the smaller id dials: one connection per pair", async () => {
  const nodes = await startCluster(["n1", "n2", "n3"]);
  try {
    for (const node of nodes) {
      for (const [peer, stats] of Object.entries(node.transport.stats().peers)) {
        assert.equal(stats.connects, 1, `${node.id} -> ${peer}`);
      }
    }
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("send to an unknown peer returns false and queues nothing", async () => {
  const node = await startNode("n1");
  try {
    assert.equal(node.transport.send("n7", { groupId: 0, message: 1 }), false);
    assert.deepEqual(node.transport.stats().peers, {});
  } finally {
    await node.transport.close();
  }
});

Deno.test("a full outbound queue drops its oldest messages and counts them", async () => {
  // n2 accepts from n1 and never dials it: its queue fills until n1 shows up.
  const n2 = await startNode("n2", { queueEnvelopesMax: 10, peers: { n1: "127.0.0.1:1" } });
  let n1: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    for (let i = 0; i < 25; i++) n2.transport.send("n1", { groupId: 0, message: i });
    const stats = n2.transport.stats().peers.n1;
    assert.equal(stats.queued, 10);
    assert.equal(stats.queueDrops, 15);
    n1 = await startNode("n1", { peers: { n2: addrOf(n2) } });
    await waitFor(() => n1!.received.length === 10, "queued messages");
    assert.deepEqual(n1.received.map((r) => r.envelope.message), [
      15,
      16,
      17,
      18,
      19,
      20,
      21,
      22,
      23,
      24,
    ]);
  } finally {
    await n2.transport.close();
    await n1?.transport.close();
  }
});

Deno.test("a message too big for a frame is dropped and the rest still arrive", async () => {
  const { logger, lines } = captureLogger();
  const nodes = await startCluster(["n1", "n2"], () => ({ frameBytesMax: 4096, logger }));
  const [n1, n2] = nodes;
  try {
    n1.transport.send("n2", { groupId: 1, message: "before" });
    n1.transport.send("n2", { groupId: 1, message: "x".repeat(10_000) });
    n1.transport.send("n2", { groupId: 1, message: "after" });
    await waitFor(() => n2.received.length === 2, "small messages");
    assert.deepEqual(n2.received.map((r) => r.envelope.message), ["before", "after"]);
    assert.equal(n1.transport.stats().peers.n2.unsendableDrops, 1);
    assert.ok(lines.some((l) => l.msg === "dropped a message that cannot be sent"));
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a handler that throws is logged and later messages still arrive", async () => {
  const { logger, lines } = captureLogger();
  const got: unknown[] = [];
  const n2 = await PeerTransport.start({
    nodeId: "n2",
    secret,
    logger,
    onMessage: (_from, { message }) => {
      if (message === "bad") throw new Error("handler failure");
      got.push(message);
    },
  });
  const n1 = await startNode("n1", { peers: { n2: `127.0.0.1:${n2.addr.port}` } });
  n2.setPeer("n1", addrOf(n1));
  try {
    await waitFor(() => n1.transport.isConnected("n2"), "connection");
    for (const m of ["a", "bad", "b"]) n1.transport.send("n2", { groupId: 0, message: m });
    await waitFor(() => got.length === 2, "good messages");
    assert.deepEqual(got, ["a", "b"]);
    assert.ok(lines.some((l) => l.msg === "message handler threw"));
    assert.equal(n1.transport.stats().peers.n2.connects, 1);
  } finally {
    await n1.transport.close();
    await n2.close();
  }
});

Deno.test("reconnects after the accepting peer restarts on the same port", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [n1, n2] = nodes;
  let restarted: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    const port = n2.transport.addr.port;
    await n2.transport.close();
    await waitFor(() => !n1.transport.isConnected("n2"), "disconnect");
    restarted = await startNode("n2", { listen: { port }, peers: { n1: addrOf(n1) } });
    await waitFor(() => n1.transport.isConnected("n2"), "reconnect");
    n1.transport.send("n2", { groupId: 0, message: "after restart" });
    restarted.transport.send("n1", { groupId: 0, message: "hello again" });
    await waitFor(() => restarted!.received.length === 1 && n1.received.length === 1, "delivery");
    assert.equal(restarted.received[0].envelope.message, "after restart");
    assert.equal(n1.received[0].envelope.message, "hello again");
    assert.equal(n1.transport.stats().peers.n2.reconnects, 1);
  } finally {
    await n1.transport.close();
    await restarted?.transport.close();
  }
});

Deno.test("accepts the new connection of a dialing peer that restarted", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [n1, n2] = nodes;
  let restarted: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    await n1.transport.close();
    restarted = await startNode("n1", { peers: { n2: addrOf(n2) } });
    n2.transport.setPeer("n1", addrOf(restarted));
    await waitFor(
      () => n2.transport.isConnected("n1") && restarted!.transport.isConnected("n2"),
      "reconnect",
    );
    n2.transport.send("n1", { groupId: 3, message: "to the new n1" });
    await waitFor(() => restarted!.received.length === 1, "delivery");
    assert.equal(restarted.received[0].envelope.groupId, 3);
    assert.equal(n2.transport.stats().peers.n1.reconnects, 1);
  } finally {
    await n2.transport.close();
    await restarted?.transport.close();
  }
});

Deno.test("keeps redialing a peer that is down, with bounded backoff", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const n1 = await startNode("n1", { peers: { n2: `127.0.0.1:${port}` } });
  let n2: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    await waitFor(() => n1.transport.stats().dialFailures >= 3, "several failed dials");
    n1.transport.send("n2", { groupId: 0, message: "queued while down" });
    n2 = await startNode("n2", { listen: { port }, peers: { n1: addrOf(n1) } });
    await waitFor(() => n2!.received.length === 1, "delivery after the peer came up");
    assert.equal(n2.received[0].envelope.message, "queued while down");
  } finally {
    await n1.transport.close();
    await n2?.transport.close();
  }
});

Deno.test("close ends every connection and frees the port", async () => {
  const nodes = await startCluster(["n1", "n2", "n3"]);
  const port = nodes[0].transport.addr.port;
  await closeAll(nodes);
  for (const node of nodes) {
    assert.equal(node.transport.send("n2", { groupId: 0, message: 1 }), false);
  }
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
});

Deno.test("close is idempotent", async () => {
  const node = await startNode("n1");
  await Promise.all([node.transport.close(), node.transport.close()]);
  await node.transport.close();
});

Deno.test("start rejects an invalid node id, peer address or short secret", async () => {
  const onMessage = () => {};
  await assert.rejects(PeerTransport.start({ nodeId: "n 1", secret, onMessage }), RangeError);
  await assert.rejects(
    PeerTransport.start({ nodeId: "n1", secret: "short", onMessage }),
    RangeError,
  );
  await assert.rejects(
    PeerTransport.start({ nodeId: "n1", secret, onMessage, peers: { n2: "nohost" } }),
    RangeError,
  );
});
