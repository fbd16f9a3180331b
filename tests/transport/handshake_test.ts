import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  acceptHandshake,
  dialHandshake,
  encodeFrame,
  FrameConn,
  HandshakeError,
  handshakeFrameBytesMax,
  importClusterKey,
} from "../../src/transport/mod.ts";
import { secret } from "./helpers.ts";

interface Pair {
  dialer: FrameConn;
  acceptor: FrameConn;
}

/** Opens a loopback TCP pair, runs `body`, then closes everything it opened. */
async function withPair(body: (pair: Pair) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const pair = {
    dialer: new FrameConn(conn, { frameBytesMax: handshakeFrameBytesMax }),
    acceptor: new FrameConn(await accepted, { frameBytesMax: handshakeFrameBytesMax }),
  };
  try {
    await body(pair);
  } finally {
    pair.dialer.close();
    pair.acceptor.close();
    listener.close();
  }
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
    return error.reason;
  }
  throw new Error("handshake unexpectedly succeeded");
}

Deno.test("handshake with the shared secret succeeds and names the dialer", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const [, dialerId] = await Promise.all([
      dialHandshake(dialer, { key, selfId: "n1", peerId: "n2" }),
      acceptHandshake(acceptor, { key, selfId: "n2", isAllowedPeer: (id) => id === "n1" }),
    ]);
    assert.equal(dialerId, "n1");
  });
});

Deno.test("dialer rejects an acceptor holding a different secret", async () => {
  const good = await importClusterKey(secret);
  const bad = await importClusterKey("some-other-cluster-secret-value");
  await withPair(async ({ dialer, acceptor }) => {
    const accepting = acceptHandshake(acceptor, {
      key: bad,
      selfId: "n2",
      isAllowedPeer: () => true,
    });
    const dialReason = await reason(
      dialHandshake(dialer, { key: good, selfId: "n1", peerId: "n2" }),
    );
    assert.equal(dialReason, "bad-proof");
    dialer.close();
    assert.equal(await reason(accepting), "closed");
  });
});

Deno.test("acceptor rejects a dialer holding a different secret", async () => {
  const good = await importClusterKey(secret);
  const bad = await importClusterKey("some-other-cluster-secret-value");
  await withPair(async ({ dialer, acceptor }) => {
    // The dialer's check of the acceptor fails too; skip it by answering with a forged proof.
    const accepting = acceptHandshake(acceptor, {
      key: good,
      selfId: "n2",
      isAllowedPeer: () => true,
    });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    await dialer.writeAll(encodeFrame(encode([0x10, 1, "n1", "n2", nonce])));
    await dialer.readFrame(); // the challenge
    const forged = new Uint8Array(await crypto.subtle.sign("HMAC", bad, new Uint8Array(8)));
    await dialer.writeAll(encodeFrame(encode([0x12, forged])));
    assert.equal(await reason(accepting), "bad-proof");
    // The acceptor sent no welcome: the dialer sees no further frame.
    acceptor.close();
    assert.equal(await dialer.readFrame(), null);
  });
});

Deno.test("dialer rejects an acceptor that is not the peer it dialed", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const dialing = dialHandshake(dialer, { key, selfId: "n1", peerId: "n3" });
    await acceptor.readFrame(); // the hello
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    await acceptor.writeAll(encodeFrame(encode([0x11, 1, "n2", nonce, new Uint8Array(32)])));
    assert.equal(await reason(dialing), "unexpected-peer");
  });
});

Deno.test("acceptor rejects a hello addressed to another node", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const dialing = dialHandshake(dialer, { key, selfId: "n1", peerId: "n3" });
    const accepting = acceptHandshake(acceptor, { key, selfId: "n2", isAllowedPeer: () => true });
    assert.equal(await reason(accepting), "unexpected-peer");
    acceptor.close();
    assert.equal(await reason(dialing), "closed");
  });
});

Deno.test("acceptor rejects a dialer id it does not expect", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const dialing = dialHandshake(dialer, { key, selfId: "n9", peerId: "n2" });
    const accepting = acceptHandshake(acceptor, {
      key,
      selfId: "n2",
      isAllowedPeer: (id) => id === "n1",
    });
    assert.equal(await reason(accepting), "unexpected-peer");
    acceptor.close();
    assert.equal(await reason(dialing), "closed");
  });
});

Deno.test("acceptor rejects a hello of another protocol version", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const accepting = acceptHandshake(acceptor, { key, selfId: "n2", isAllowedPeer: () => true });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    await dialer.writeAll(encodeFrame(encode([0x10, 99, "n1", "n2", nonce])));
    assert.equal(await reason(accepting), "version");
  });
});

Deno.test("acceptor rejects garbage instead of a hello", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ dialer, acceptor }) => {
    const accepting = acceptHandshake(acceptor, { key, selfId: "n2", isAllowedPeer: () => true });
    await dialer.writeAll(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(await reason(accepting), "garbage");
  });
});

Deno.test("acceptor drops a silent connection at the handshake deadline", async () => {
  const key = await importClusterKey(secret);
  await withPair(async ({ acceptor }) => {
    const started = Date.now();
    const accepting = acceptHandshake(acceptor, {
      key,
      selfId: "n2",
      timeoutMs: 100,
      isAllowedPeer: () => true,
    });
    assert.equal(await reason(accepting), "timeout");
    assert.ok(Date.now() - started >= 95);
  });
});

Deno.test("the secret never appears in the handshake bytes", async () => {
  const key = await importClusterKey(secret);
  const seen: number[] = [];
  await withPair(async ({ dialer, acceptor }) => {
    for (const side of [dialer, acceptor]) {
      const read = side.conn.read.bind(side.conn);
      side.conn.read = async (buf: Uint8Array) => {
        const n = await read(buf);
        if (n !== null) seen.push(...buf.subarray(0, n));
        return n;
      };
    }
    await Promise.all([
      dialHandshake(dialer, { key, selfId: "n1", peerId: "n2" }),
      acceptHandshake(acceptor, { key, selfId: "n2", isAllowedPeer: () => true }),
    ]);
  });
  const wire = new TextDecoder("latin1").decode(new Uint8Array(seen));
  assert.ok(wire.includes("n1") && wire.includes("n2"), "the capture saw both directions");
  assert.ok(!wire.includes(secret.slice(0, 12)));
});

Deno.test("importClusterKey rejects a secret shorter than 16 bytes", async () => {
  await assert.rejects(importClusterKey("short"), RangeError);
});
