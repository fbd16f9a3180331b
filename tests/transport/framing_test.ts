import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  BatchDecoder,
  BatchEncoder,
  encodeFrame,
  FrameDecoder,
  FrameError,
  frameHeaderBytes,
} from "../../src/transport/mod.ts";
import { seededRandom, testSeed } from "./helpers.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

Deno.test("encodeFrame prefixes the body with its big-endian u32 length", () => {
  const frame = encodeFrame(bytes(7, 8, 9));
  assert.deepEqual([...frame], [0, 0, 0, 3, 7, 8, 9]);
});

Deno.test("encodeFrame rejects a body longer than frameBytesMax", () => {
  assert.throws(() => encodeFrame(new Uint8Array(11), { frameBytesMax: 10 }), FrameError);
});

Deno.test("encodeFrame rejects an empty body", () => {
  assert.throws(() => encodeFrame(new Uint8Array(0)), FrameError);
});

Deno.test("decoder reassembles a frame fed one byte at a time", () => {
  const decoder = new FrameDecoder();
  const frame = encodeFrame(bytes(1, 2, 3, 4, 5));
  const out: Uint8Array[] = [];
  for (let i = 0; i < frame.byteLength; i++) {
    const bodies = decoder.push(frame.subarray(i, i + 1));
    if (i < frame.byteLength - 1) assert.equal(bodies.length, 0);
    out.push(...bodies);
  }
  assert.deepEqual(out, [bytes(1, 2, 3, 4, 5)]);
  assert.equal(decoder.bufferedBytes, 0);
});

Deno.test("decoder returns every frame of a chunk holding many frames, in order", () => {
  const decoder = new FrameDecoder();
  const bodies = Array.from({ length: 100 }, (_, i) => bytes(i, i + 1));
  const out = decoder.push(concat(bodies.map((b) => encodeFrame(b))));
  assert.deepEqual(out, bodies);
});

Deno.test("decoder keeps a trailing partial frame until the rest arrives", () => {
  const decoder = new FrameDecoder();
  const stream = concat([encodeFrame(bytes(1)), encodeFrame(bytes(2, 2))]);
  assert.deepEqual(decoder.push(stream.subarray(0, 7)), [bytes(1)]);
  assert.equal(decoder.bufferedBytes, 2);
  assert.deepEqual(decoder.push(stream.subarray(7)), [bytes(2, 2)]);
});

Deno.test("decoder yields the same frames under random chunking", () => {
  const random = seededRandom(testSeed("random chunking"));
  const bodies = Array.from({ length: 300 }, () => {
    const body = new Uint8Array(1 + Math.floor(random() * 5000));
    body.fill(Math.floor(random() * 256));
    return body;
  });
  const stream = concat(bodies.map((b) => encodeFrame(b)));
  const decoder = new FrameDecoder({ frameBytesMax: 8192 });
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < stream.byteLength;) {
    const size = 1 + Math.floor(random() * 20_000);
    out.push(...decoder.push(stream.subarray(offset, offset + size)));
    offset += size;
  }
  assert.equal(out.length, bodies.length);
  assert.deepEqual(out, bodies);
});

Deno.test("decoder rejects a length prefix above frameBytesMax before the body arrives", () => {
  const decoder = new FrameDecoder({ frameBytesMax: 1024 });
  assert.throws(() => decoder.push(bytes(0, 0, 4, 1)), /exceeds limit 1024/);
});

Deno.test("decoder stays failed after rejecting garbage", () => {
  const decoder = new FrameDecoder({ frameBytesMax: 1024 });
  const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  assert.throws(() => decoder.push(garbage), FrameError);
  assert.throws(() => decoder.push(encodeFrame(bytes(1))), FrameError);
});

Deno.test("decoder rejects a frame with an empty body", () => {
  assert.throws(() => new FrameDecoder().push(bytes(0, 0, 0, 0)), /empty body/);
});

Deno.test("a raised frame limit applies to frames not yet examined", () => {
  const decoder = new FrameDecoder({ frameBytesMax: 4 });
  decoder.feed(concat([encodeFrame(bytes(1)), encodeFrame(new Uint8Array(100))]));
  assert.deepEqual(decoder.next(), bytes(1));
  decoder.frameBytesMax = 1000;
  assert.equal(decoder.next()?.byteLength, 100);
});

Deno.test("batch frames round-trip group ids and opaque messages in order", () => {
  const envelopes = [
    { groupId: 0, message: { type: "heartbeat", term: 3, commit: 17 } },
    { groupId: 4_000_000_000, message: ["entries", new Uint8Array([1, 2, 3])] },
    { groupId: 7, message: null },
  ];
  const frame = new BatchEncoder().encodeFrame(envelopes);
  const [body] = new FrameDecoder().push(frame);
  assert.equal(body.byteLength, frame.byteLength - frameHeaderBytes);
  assert.deepEqual(new BatchDecoder({ frameBytesMax: 1 << 20 }).decode(body), envelopes);
});

Deno.test("a reused batch encoder does not corrupt earlier frames", () => {
  const encoder = new BatchEncoder();
  const first = encoder.encodeFrame([{ groupId: 1, message: "first" }]);
  encoder.encodeFrame([{ groupId: 2, message: "second, longer than the first" }]);
  const [body] = new FrameDecoder().push(first);
  assert.deepEqual(new BatchDecoder({ frameBytesMax: 1024 }).decode(body), [
    { groupId: 1, message: "first" },
  ]);
});

Deno.test("batch encoder rejects an invalid group id", () => {
  assert.throws(() => new BatchEncoder().encodeFrame([{ groupId: -1, message: 1 }]), RangeError);
  assert.throws(() => new BatchEncoder().encodeFrame([{ groupId: 1.5, message: 1 }]), RangeError);
});

Deno.test("batch decoder rejects bodies that are not MessagePack batches", () => {
  const decoder = new BatchDecoder({ frameBytesMax: 1024 });
  assert.throws(() => decoder.decode(bytes(0xc1)), /not MessagePack/);
  assert.throws(() => decoder.decode(encode({ hello: 1 })), /not a message batch/);
  assert.throws(() => decoder.decode(encode([1, [0]])), /malformed envelope list/);
  assert.throws(() => decoder.decode(encode([1, ["g", "m"]])), /invalid group id/);
});
