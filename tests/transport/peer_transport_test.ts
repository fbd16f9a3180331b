import assert from "node:assert/strict";
import {
  acceptHandshake,
  type Envelope,
  FrameConn,
  handshakeFrameBytesMax,
  importClusterKey,
  PeerTransport,
} from "../../src/transport/mod.ts";
import { freePorts } from "../../bench/child_server.ts";
import {
  addrOf,
  captureLogger,
  closeAll,
  secret,
  seededRandom,
  startCluster,
  startNode,
  testSeed,
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
  const [port] = freePorts(1);
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

Deno.test("send with connectedOnly refuses while the peer is down and sends once it is up", async () => {
  const [port] = freePorts(1);
  const n1 = await startNode("n1", { peers: { n2: `127.0.0.1:${port}` } });
  let n2: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    await waitFor(() => n1.transport.stats().dialFailures >= 1, "a failed dial");
    const down = n1.transport.send("n2", { groupId: 0, message: "not held" }, {
      connectedOnly: true,
    });
    assert.equal(down, false, "refused while no connection is up");
    assert.equal(n1.transport.stats().peers.n2.queued, 0, "nothing was queued");
    n2 = await startNode("n2", { listen: { port }, peers: { n1: addrOf(n1) } });
    await waitFor(() => n1.transport.stats().peers.n2.connected, "the connection");
    const up = n1.transport.send("n2", { groupId: 0, message: "sent" }, { connectedOnly: true });
    assert.equal(up, true);
    await waitFor(() => n2!.received.length === 1, "the delivery");
    assert.equal(n2.received[0].envelope.message, "sent");
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

Deno.test("start rejects an invalid node id, peer address, secret or limit", async () => {
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
  await assert.rejects(
    PeerTransport.start({
      nodeId: "n1",
      secret,
      onMessage,
      reconnectDelayMsMin: 500,
      reconnectDelayMsMax: 100,
    }),
    RangeError,
  );
  await assert.rejects(
    PeerTransport.start({ nodeId: "n1", secret, onMessage, frameBytesMax: 0 }),
    RangeError,
  );
});

Deno.test("send rejects a group id that is not a u32 integer", async () => {
  const node = await startNode("n1", { peers: { n2: "127.0.0.1:1" } });
  try {
    assert.throws(() => node.transport.send("n2", { groupId: -3, message: 1 }), RangeError);
    assert.throws(
      () => node.transport.sendMany("n2", [{ groupId: 2 ** 32, message: 1 }]),
      RangeError,
    );
  } finally {
    await node.transport.close();
  }
});

Deno.test("removePeer closes its connection and later sends return false", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [n1, n2] = nodes;
  try {
    n1.transport.removePeer("n2");
    await waitFor(() => !n2.transport.isConnected("n1"), "n2 sees the connection end");
    assert.equal(n1.transport.send("n2", { groupId: 0, message: 1 }), false);
    assert.deepEqual(n1.transport.peers(), []);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("setPeer with a new address moves the dialer's connection there", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [n1, n2] = nodes;
  let moved: Awaited<ReturnType<typeof startNode>> | null = null;
  try {
    moved = await startNode("n2", { peers: { n1: addrOf(n1) } });
    n1.transport.setPeer("n2", addrOf(moved));
    await waitFor(() => moved!.transport.isConnected("n1"), "connection to the new address");
    n1.transport.send("n2", { groupId: 0, message: "to the new address" });
    await waitFor(() => moved!.received.length === 1, "delivery");
    assert.equal(n2.received.length, 0);
  } finally {
    await closeAll(nodes);
    await moved?.transport.close();
  }
});

Deno.test("a peer that stops reading is cut off after writeTimeoutMs and redialed", async () => {
  // A hand-made n2 that completes handshakes and then never reads.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const key = await importClusterKey(secret);
  const stalled: FrameConn[] = [];
  const accepting = (async () => {
    for (let i = 0; i < 2; i++) {
      const fc = new FrameConn(await listener.accept(), { frameBytesMax: handshakeFrameBytesMax });
      stalled.push(fc);
      await acceptHandshake(fc, { key, selfId: "n2", isAllowedPeer: (id) => id === "n1" });
    }
  })();
  const n1 = await startNode("n1", {
    writeTimeoutMs: 200,
    frameBytesMax: 1 << 20,
    peers: { n2: `127.0.0.1:${listener.addr.port}` },
  });
  try {
    await waitFor(() => n1.transport.isConnected("n2"), "first connection");
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 200; i++) n1.transport.send("n2", { groupId: 0, message: chunk });
    await waitFor(() => n1.transport.stats().peers.n2.connects === 2, "redial after the stall");
    assert.ok(n1.transport.stats().peers.n2.writeDrops > 0);
  } finally {
    await n1.transport.close();
    for (const fc of stalled) fc.close();
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("random-size messages between three nodes arrive intact and in order", async () => {
  const random = seededRandom(testSeed("random sizes"));
  const nodes = await startCluster(["n1", "n2", "n3"], () => ({ frameBytesMax: 1 << 20 }));
  try {
    const perPair = 300;
    const sent = new Map<string, number[]>();
    for (let seq = 0; seq < perPair; seq++) {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          const size = random() < 0.05
            ? Math.floor(random() * 200_000)
            : Math.floor(random() * 200);
          const key = `${from.id}>${to.id}`;
          sent.set(key, [...(sent.get(key) ?? []), size]);
          from.transport.send(to.id, {
            groupId: seq,
            message: new Uint8Array(size).fill(seq & 0xff),
          });
        }
      }
    }
    await waitFor(() => nodes.every((n) => n.received.length === 2 * perPair), "all messages");
    for (const to of nodes) {
      for (const from of nodes) {
        if (from === to) continue;
        const got = to.received.filter((r) => r.from === from.id);
        assert.deepEqual(
          got.map((r) => r.envelope.groupId),
          Array.from({ length: perPair }, (_, i) => i),
        );
        assert.deepEqual(
          got.map((r) => (r.envelope.message as Uint8Array).byteLength),
          sent.get(`${from.id}>${to.id}`),
        );
        assert.ok(
          got.every((r) =>
            (r.envelope.message as Uint8Array).every((b) => b === (r.envelope.groupId & 0xff))
          ),
        );
      }
    }
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("onPeerState reports a peer coming up and going down", async () => {
  const events: string[] = [];
  const nodes = await startCluster(
    ["n1", "n2"],
    (id) =>
      id === "n1"
        ? { onPeerState: (peer, up) => events.push(`${peer}:${up ? "up" : "down"}`) }
        : {},
  );
  const [, n2] = nodes;
  try {
    assert.deepEqual(events, ["n2:up"]);
    await n2.transport.close();
    await waitFor(() => events.length === 2, "down event");
    assert.deepEqual(events, ["n2:up", "n2:down"]);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("the accepting side takes a peer learned at run time and refuses it once removed", async () => {
  const n1 = await startNode("n1");
  const n2 = await startNode("n2");
  try {
    n1.transport.setPeer("n2", addrOf(n2)); // n1 dials: n2 refuses it until it learns n1
    await waitFor(() => n2.transport.stats().handshakeRejects > 0, "n2 refusing unknown n1");
    assert.equal(n2.transport.isConnected("n1"), false, "an unknown peer is refused");
    n2.transport.setPeer("n1", addrOf(n1));
    await waitFor(() => n2.transport.isConnected("n1"), "n1 connects once n2 knows it");
    n2.transport.removePeer("n1");
    await waitFor(() => !n1.transport.isConnected("n2"), "the connection ends");
    const refusals = n2.transport.stats().handshakeRejects;
    await waitFor(
      () => n2.transport.stats().handshakeRejects > refusals,
      "n1's redial refused by n2, which forgot it",
    );
    assert.equal(n2.transport.isConnected("n1"), false);
  } finally {
    await closeAll([n1, n2]);
  }
});
