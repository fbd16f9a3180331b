/**
 * A stranger on a running node's peer port: one who claims to be a member but does not know
 * the cluster secret, and one who sends garbage. Each is turned away with one clear log line
 * on the node, and the cluster keeps serving.
 */
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { FrameConn } from "../../src/transport/frame_conn.ts";
import { encodeFrame } from "../../src/transport/framing.ts";
import { waitUntil } from "../server/server_process.ts";
import { getKey, putKey, startCluster, type TestNode } from "./cluster_process.ts";

/** Handshake message kinds and version (src/transport/handshake.ts). */
const kindHello = 0x10;
const kindChallenge = 0x11;
const kindResponse = 0x12;
const protocolVersion = 1;

function connect(node: TestNode): Promise<Deno.TcpConn> {
  const [hostname, port] = node.peerAddr.split(":");
  return Deno.connect({ hostname, port: Number(port) });
}

/** Reads until the node closes the connection; resolves to whatever frames came meanwhile. */
async function framesUntilClosed(fc: FrameConn, timeoutMs: number): Promise<unknown[]> {
  const timer = setTimeout(() => fc.close(), timeoutMs);
  const frames: unknown[] = [];
  try {
    for (let i = 0; i < 16; i++) {
      const body = await fc.readFrame();
      if (body === null) break;
      frames.push(decode(body));
    }
  } catch {
    // a reset counts as closed
  } finally {
    clearTimeout(timer);
    fc.close();
  }
  return frames;
}

/**
 * Plays the dialer's side of the handshake as `claimedId` with a made-up proof: what a
 * stranger can do without the secret. Resolves to every frame the node sent.
 */
async function impostor(node: TestNode, claimedId: string): Promise<unknown[]> {
  const fc = new FrameConn(await connect(node), { frameBytesMax: 512 });
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  await fc.writeAll(encodeFrame(encode([kindHello, protocolVersion, claimedId, node.id, nonce])));
  const challenge = await fc.readFrame();
  assert.ok(challenge !== null, "the node answers a well-formed hello with its challenge");
  const [kind] = decode(challenge) as unknown[];
  assert.equal(kind, kindChallenge);
  const madeUpProof = crypto.getRandomValues(new Uint8Array(32));
  await fc.writeAll(encodeFrame(encode([kindResponse, madeUpProof])));
  return [decode(challenge), ...(await framesUntilClosed(fc, 10_000))];
}

/** Sends raw bytes and waits for the node to close the connection. */
async function garbage(node: TestNode, bytes: Uint8Array): Promise<unknown[]> {
  const conn = await connect(node);
  await conn.write(bytes).catch(() => 0);
  return await framesUntilClosed(new FrameConn(conn, { frameBytesMax: 512 }), 10_000);
}

function rejections(node: TestNode): Record<string, unknown>[] {
  return node.proc!.logs
    .filter((line) => line.includes('"peer connection rejected"'))
    .map((line) => JSON.parse(line));
}

Deno.test({
  name: "a stranger without the secret or speaking garbage cannot join a running cluster",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      await cluster.waitForLeader();
      assert.equal((await putKey(cluster.nodes[0].proc!.url, "before", "b")).status, 201);
      // n3 accepts connections from n1 and n2 (the smaller id dials): claim to be n1.
      const n3 = cluster.nodes[2];
      const before = rejections(n3).length;
      const frames = await impostor(n3, "n1");
      assert.equal(frames.length, 1, "only the challenge: no welcome for a made-up proof");
      await garbage(n3, new TextEncoder().encode("GET /kv/before HTTP/1.1\r\nHost: x\r\n\r\n"));
      await garbage(n3, crypto.getRandomValues(new Uint8Array(300)));
      await waitUntil(() => rejections(n3).length >= before + 3, "three rejections", 10_000);
      const [proof, http, random] = rejections(n3).slice(before);
      assert.equal(proof.level, "warn");
      assert.equal(proof.reason, "bad-proof");
      assert.match(String(proof.remote), /^127\.0\.0\.1:\d+$/);
      assert.equal(http.reason, "garbage");
      assert.equal(random.reason, "garbage");
      // The real n1 link was not replaced, and the cluster serves through every node.
      for (const [i, node] of cluster.nodes.entries()) {
        const put = await putKey(node.proc!.url, `after-${i}`, `a${i}`);
        assert.ok(
          put.status === 201,
          `write through ${node.id} after the strangers: ${put.status}`,
        );
      }
      for (const node of cluster.nodes) {
        for (let i = 0; i < cluster.nodes.length; i++) {
          const got = await getKey(node.proc!.url, `after-${i}`);
          assert.deepEqual([got.status, got.body], [200, `a${i}`], `after-${i} on ${node.id}`);
        }
      }
      assert.equal(rejections(n3).length, before + 3, "the members themselves were not refused");
    } finally {
      await cluster.close();
    }
  },
});
