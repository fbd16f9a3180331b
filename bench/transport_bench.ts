/**
 * Peer transport figures.
 * - `deno bench -A bench/transport_bench.ts`: MessagePack batch codec, one reused Encoder
 *   versus a fresh encode() per batch, and decoding, on 1000 Raft-like messages.
 * - `deno run -A bench/transport_bench.ts [--seconds 3] [--window 4096] [--message append|heartbeat]`:
 *   three transports on loopback in one process, each streaming small messages to both others
 *   with a bounded in-flight window per pair; prints delivered messages/s and bytes/s.
 * - `... --pingpong`: two transports bounce one heartbeat; prints round trips/s (latency).
 */
import { parseArgs } from "node:util";
import { decode, encode } from "@msgpack/msgpack";
import {
  BatchDecoder,
  BatchEncoder,
  type Envelope,
  FrameDecoder,
  PeerTransport,
} from "../src/transport/mod.ts";

const secret = "ringkv-bench-cluster-secret-000000";

/** A Raft-like append carrying one 100 B entry, as the cluster will send it. */
function appendMessage(index: number): Envelope {
  return {
    groupId: index % 4,
    message: {
      type: "append",
      term: 7,
      from: "n1",
      prevIndex: index - 1,
      prevTerm: 7,
      commit: index - 2,
      entries: [{ term: 7, index, data: new Uint8Array(100).fill(index & 0xff) }],
    },
  };
}

/** A Raft-like heartbeat: the smallest message the cluster sends. */
function heartbeatMessage(index: number): Envelope {
  return { groupId: index % 4, message: { type: "heartbeat", term: 7, from: "n1", commit: index } };
}

const batch = Array.from({ length: 1000 }, (_, i) => appendMessage(i + 1));
const reused = new BatchEncoder();
const sampleFrame = reused.encodeFrame(batch);
const sampleBody = new FrameDecoder().push(sampleFrame)[0];
const batchDecoder = new BatchDecoder({ frameBytesMax: 16 * 1024 * 1024 });

Deno.bench({
  name: "encode 1000 appends, reused BatchEncoder",
  group: "encode",
  baseline: true,
  fn: () => {
    reused.encodeFrame(batch);
  },
});
Deno.bench({
  name: "encode 1000 appends, fresh encode() per batch",
  group: "encode",
  fn: () => {
    const flat: unknown[] = [];
    for (const e of batch) flat.push(e.groupId, e.message);
    encode([1, flat]);
  },
});
Deno.bench({
  name: "decode 1000 appends, BatchDecoder",
  group: "decode",
  baseline: true,
  fn: () => {
    batchDecoder.decode(sampleBody);
  },
});
Deno.bench({
  name: "decode 1000 appends, plain decode()",
  group: "decode",
  fn: () => {
    decode(sampleBody);
  },
});

interface Node {
  id: string;
  transport: PeerTransport;
  receivedFrom: Map<string, number>;
}

/** Runs the 3-node exchange for `seconds`; returns delivered messages and bytes. */
export async function runExchange(
  seconds: number,
  options: { windowMessages: number; message: (index: number) => Envelope },
) {
  const { windowMessages } = options;
  const ids = ["n1", "n2", "n3"];
  const nodes: Node[] = [];
  for (const id of ids) {
    const receivedFrom = new Map<string, number>();
    const transport = await PeerTransport.start({
      nodeId: id,
      secret,
      queueEnvelopesMax: windowMessages * 2,
      onMessage: (from) => receivedFrom.set(from, (receivedFrom.get(from) ?? 0) + 1),
    });
    nodes.push({ id, transport, receivedFrom });
  }
  for (const a of nodes) {
    for (const b of nodes) {
      if (a !== b) a.transport.setPeer(b.id, `127.0.0.1:${b.transport.addr.port}`);
    }
  }
  const sent = new Map<string, number>();
  const deadlineConnect = Date.now() + 5_000;
  while (!nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id)))) {
    if (Date.now() > deadlineConnect) throw new Error("bench cluster did not connect");
    await new Promise((r) => setTimeout(r, 5));
  }
  const started = performance.now();
  const endAt = started + seconds * 1000;
  let index = 1;
  while (performance.now() < endAt) {
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const key = `${a.id}>${b.id}`;
        const inFlight = (sent.get(key) ?? 0) - (b.receivedFrom.get(a.id) ?? 0);
        const room = Math.min(windowMessages - inFlight, 1024);
        for (let i = 0; i < room; i++) a.transport.send(b.id, options.message(index++));
        sent.set(key, (sent.get(key) ?? 0) + Math.max(room, 0));
      }
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  const elapsedS = (performance.now() - started) / 1000;
  let delivered = 0;
  for (const n of nodes) for (const c of n.receivedFrom.values()) delivered += c;
  const stats = nodes.map((n) => n.transport.stats().total);
  await Promise.all(nodes.map((n) => n.transport.close()));
  const bytesOut = stats.reduce((s, t) => s + t.bytesOut, 0);
  const framesOut = stats.reduce((s, t) => s + t.framesOut, 0);
  const drops = stats.reduce((s, t) => s + t.queueDrops, 0);
  return { elapsedS, delivered, bytesOut, framesOut, drops };
}

/** n1 and n2 bounce one heartbeat back and forth for `seconds`; returns round trips. */
export async function runPingPong(seconds: number) {
  let n1: PeerTransport | null = null;
  let roundTrips = 0;
  const endAt = performance.now() + seconds * 1000;
  const { promise: finished, resolve } = Promise.withResolvers<void>();
  const n2 = await PeerTransport.start({
    nodeId: "n2",
    secret,
    onMessage: (from, envelope) => n2.send(from, envelope),
  });
  n1 = await PeerTransport.start({
    nodeId: "n1",
    secret,
    peers: { n2: `127.0.0.1:${n2.addr.port}` },
    onMessage: (_from, envelope) => {
      roundTrips++;
      if (performance.now() < endAt) n1!.send("n2", envelope);
      else resolve();
    },
  });
  n2.setPeer("n1", `127.0.0.1:${n1.addr.port}`);
  const deadline = Date.now() + 5_000;
  while (!n1.isConnected("n2") || !n2.isConnected("n1")) {
    if (Date.now() > deadline) throw new Error("ping-pong pair did not connect");
    await new Promise((r) => setTimeout(r, 5));
  }
  const started = performance.now();
  n1.send("n2", heartbeatMessage(1));
  await finished;
  const elapsedS = (performance.now() - started) / 1000;
  await Promise.all([n1.close(), n2.close()]);
  return { elapsedS, roundTrips };
}

if (import.meta.main && Deno.env.get("TRANSPORT_BENCH_EXCHANGE") !== "0") {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "3" },
      window: { type: "string", default: "4096" },
      message: { type: "string", default: "append" },
      pingpong: { type: "boolean", default: false },
    },
  });
  const seconds = Number(values.seconds);
  if (values.pingpong) {
    const p = await runPingPong(seconds);
    console.log(JSON.stringify({
      bench: "transport ping-pong, 2 nodes in one process, one heartbeat in flight",
      machine: { os: Deno.build.os, arch: Deno.build.arch, cpus: navigator.hardwareConcurrency },
      roundTripsPerSec: Math.round(p.roundTrips / p.elapsedS),
      meanRoundTripUs: Math.round((p.elapsedS * 1e6) / p.roundTrips),
    }));
    Deno.exit(0);
  }
  const window = Number(values.window);
  const heartbeat = values.message === "heartbeat";
  const r = await runExchange(seconds, {
    windowMessages: window,
    message: heartbeat ? heartbeatMessage : appendMessage,
  });
  const cpu = navigator.hardwareConcurrency;
  console.log(
    JSON.stringify({
      bench: "transport 3-node loopback exchange, one process",
      message: heartbeat
        ? "heartbeat (~43 B framed)"
        : "append with one 100 B entry (~200 B framed)",
      machine: { os: Deno.build.os, arch: Deno.build.arch, cpus: cpu, deno: Deno.version.deno },
      seconds: Number(r.elapsedS.toFixed(2)),
      window,
      delivered: r.delivered,
      messagesPerSec: Math.round(r.delivered / r.elapsedS),
      megabytesPerSec: Number((r.bytesOut / r.elapsedS / 1e6).toFixed(1)),
      messagesPerFrame: Number((r.delivered / r.framesOut).toFixed(1)),
      queueDrops: r.drops,
    }),
  );
}
