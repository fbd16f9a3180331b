import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { encodeFrame } from "../../src/transport/mod.ts";
import { addrOf, captureLogger, closeAll, startCluster, startNode, waitFor } from "./helpers.ts";

/** Connects to `port`, writes `bytes`, and resolves when the far side closes the socket. */
async function strangerSends(port: number, bytes: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    const buf = new Uint8Array(1024);
    // The transport answers garbage with nothing but a close; bounded by the test timeout.
    for (let i = 0; i < 100; i++) {
      if (await conn.read(buf) === null) return;
    }
    throw new Error("stranger kept receiving data");
  } finally {
    conn.close();
  }
}

Deno.test("garbage on the peer port closes only that connection, with one log line", async () => {
  const { logger, lines } = captureLogger();
  const nodes = await startCluster(["n1", "n2"], (id) => (id === "n2" ? { logger } : {}));
  const [n1, n2] = nodes;
  try {
    const port = n2.transport.addr.port;
    await strangerSends(port, new TextEncoder().encode("GET /kv/a HTTP/1.1\r\nHost: x\r\n\r\n"));
    await strangerSends(port, crypto.getRandomValues(new Uint8Array(300)));
    const rejections = lines.filter((l) => l.msg === "peer connection rejected");
    assert.equal(rejections.length, 2);
    assert.equal(rejections[0].reason, "garbage");
    assert.equal(rejections[0].level, "warn");
    assert.match(String(rejections[0].remote), /^127\.0\.0\.1:\d+$/);
    n1.transport.send("n2", { groupId: 0, message: "still here" });
    await waitFor(() => n2.received.length === 1, "delivery on the real connection");
    assert.equal(n2.transport.stats().peers.n1.connects, 1);
    assert.equal(n2.transport.stats().handshakeRejects, 2);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a stranger with a forged hello cannot inject messages", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [, n2] = nodes;
  try {
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const hello = encodeFrame(encode([0x10, 1, "n1", "n2", nonce]));
    const fakeResponse = encodeFrame(encode([0x12, new Uint8Array(32)]));
    const batch = encodeFrame(encode([1, [0, "injected"]]));
    const all = new Uint8Array(hello.length + fakeResponse.length + batch.length);
    all.set(hello);
    all.set(fakeResponse, hello.length);
    all.set(batch, hello.length + fakeResponse.length);
    await strangerSends(n2.transport.addr.port, all);
    assert.equal(n2.received.length, 0);
    assert.equal(n2.transport.stats().handshakeRejects, 1);
    assert.equal(n2.transport.isConnected("n1"), true);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a peer with the wrong secret never connects while the others do", async () => {
  const { logger, lines } = captureLogger();
  const nodes = await startCluster(["n1", "n2"], () => ({ logger }));
  const intruder = await startNode("n3", { secret: "a-different-secret-for-n3-xxxx" });
  try {
    const [n1, n2] = nodes;
    n1.transport.setPeer("n3", addrOf(intruder));
    intruder.transport.setPeer("n1", addrOf(n1));
    await waitFor(() => n1.transport.stats().dialFailures >= 2, "failed dials to n3");
    assert.equal(n1.transport.isConnected("n3"), false);
    assert.equal(intruder.transport.isConnected("n1"), false);
    const failures = lines.filter((l) => l.msg === "peer dial failed" && l.peer === "n3");
    assert.equal(failures[0].reason, "bad-proof");
    assert.equal(
      failures.filter((l) => l.level === "warn").length,
      1,
      "one warning per failure run",
    );
    n1.transport.send("n2", { groupId: 0, message: "ok" });
    await waitFor(() => n2.received.length === 1, "delivery between the real peers");
  } finally {
    await closeAll([...nodes, intruder]);
  }
});

Deno.test("a node id that is not a peer is refused even with the right secret", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const stranger = await startNode("m0", { peers: { n2: addrOf(nodes[1]) } });
  try {
    await waitFor(() => stranger.transport.stats().dialFailures >= 1, "refused dial");
    assert.equal(nodes[1].transport.isConnected("m0"), false);
    assert.ok(nodes[1].transport.stats().handshakeRejects >= 1);
  } finally {
    await closeAll([...nodes, stranger]);
  }
});
