/**
 * Peer handshake: both sides prove knowledge of the cluster secret with HMAC-SHA256 over
 * fresh nonces, without sending the secret, and exchange node ids.
 *
 *   dialer   -> acceptor  hello     [kind, version, dialerId, acceptorId, nonceD]
 *   acceptor -> dialer    challenge [kind, version, acceptorId, nonceA, proofA]
 *   dialer   -> acceptor  response  [kind, proofD]
 *   acceptor -> dialer    welcome   [kind]
 *
 * proofX = HMAC(secret, label(X) | nonceD | nonceA | dialerId | acceptorId), with a distinct
 * label per role so neither proof can be reflected back as the other.
 */
import { decode, encode } from "@msgpack/msgpack";
import { encodeFrame, FrameError } from "./framing.ts";
import type { FrameConn } from "./frame_conn.ts";
import type { NodeId } from "./codec.ts";

/** Version of the peer protocol; both sides must speak the same one. */
export const protocolVersion = 1;

/** Largest handshake frame body; anything bigger is garbage. */
export const handshakeFrameBytesMax = 512;

/** Default time a handshake may take before the connection is dropped. */
export const handshakeTimeoutMsDefault = 5_000;

/** Shortest accepted cluster secret. */
export const secretBytesMin = 16;

/** Longest accepted node id. */
export const nodeIdLengthMax = 64;

const nonceBytes = 32;
const kindHello = 0x10;
const kindChallenge = 0x11;
const kindResponse = 0x12;
const kindWelcome = 0x13;
const nodeIdPattern = /^[A-Za-z0-9_.-]+$/;
const textEncoder = new TextEncoder();

/** Why a handshake failed; stable codes for logs and tests. */
export type HandshakeFailure =
  | "garbage"
  | "version"
  | "unexpected-peer"
  | "bad-proof"
  | "timeout"
  | "closed";

/** Thrown when a handshake fails; the connection must be closed. */
export class HandshakeError extends Error {
  /** Stable reason code. */
  readonly reason: HandshakeFailure;
  /** Creates an error for `reason` with a human-readable message. */
  constructor(reason: HandshakeFailure, message: string) {
    super(message);
    this.name = "HandshakeError";
    this.reason = reason;
  }
}

/** True when `id` is a well-formed node id (1..64 chars of A-Z a-z 0-9 _ . -). */
export function isNodeId(id: unknown): id is NodeId {
  return typeof id === "string" && id.length > 0 && id.length <= nodeIdLengthMax &&
    nodeIdPattern.test(id);
}

/**
 * Imports the cluster secret as an HMAC-SHA256 key (not extractable).
 * Throws RangeError when the secret is shorter than {@link secretBytesMin} bytes.
 */
export async function importClusterKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const bytes = typeof secret === "string" ? textEncoder.encode(secret) : secret;
  if (bytes.byteLength < secretBytesMin) {
    throw new RangeError(`cluster secret must be at least ${secretBytesMin} bytes`);
  }
  return await crypto.subtle.importKey(
    "raw",
    new Uint8Array(bytes),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function transcript(role: "dialer" | "acceptor", ids: [NodeId, NodeId], nonces: Uint8Array[]) {
  const parts = [
    textEncoder.encode(`ringkv/peer/v${protocolVersion}/${role}`),
    nonces[0],
    nonces[1],
    textEncoder.encode(`${ids[0]}\n${ids[1]}`),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength + 1, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength + 1; // a zero byte separates the parts
  }
  return out;
}

async function readMessage(fc: FrameConn, expectedKind: number): Promise<unknown[]> {
  const body = await fc.readFrame();
  if (body === null) throw new HandshakeError("closed", "peer closed the connection");
  let value: unknown;
  try {
    value = decode(body);
  } catch {
    throw new HandshakeError("garbage", "handshake frame is not MessagePack");
  }
  if (!Array.isArray(value) || value[0] !== expectedKind) {
    throw new HandshakeError("garbage", `expected handshake message kind ${expectedKind}`);
  }
  return value;
}

function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength === nonceBytes;
}

/** Options shared by both sides of a handshake. */
export interface HandshakeOptions {
  /** The cluster key from {@link importClusterKey}. */
  key: CryptoKey;
  /** This node's id. */
  selfId: NodeId;
  /** Deadline for the whole exchange. Default {@link handshakeTimeoutMsDefault}. */
  timeoutMs?: number;
}

/** Runs `body` with a deadline that closes the connection; maps errors to HandshakeError. */
async function withDeadline<T>(fc: FrameConn, timeoutMs: number, body: () => Promise<T>) {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    fc.close();
  }, timeoutMs);
  try {
    return await body();
  } catch (error) {
    if (timedOut) throw new HandshakeError("timeout", `handshake took over ${timeoutMs} ms`);
    if (error instanceof HandshakeError) throw error;
    if (error instanceof FrameError) throw new HandshakeError("garbage", error.message);
    throw new HandshakeError("closed", `connection failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Dialer side: proves itself to `peerId` and checks that the other end is `peerId` and
 * knows the secret. Throws HandshakeError (and closes nothing: the caller owns `fc`).
 */
export async function dialHandshake(
  fc: FrameConn,
  options: HandshakeOptions & { peerId: NodeId },
): Promise<void> {
  const { key, selfId, peerId } = options;
  if (!isNodeId(selfId) || !isNodeId(peerId)) throw new RangeError("invalid node id");
  await withDeadline(fc, options.timeoutMs ?? handshakeTimeoutMsDefault, async () => {
    const nonceD = crypto.getRandomValues(new Uint8Array(nonceBytes));
    await fc.writeAll(frame([kindHello, protocolVersion, selfId, peerId, nonceD]));
    const [, version, acceptorId, nonceA, proofA] = await readMessage(fc, kindChallenge);
    if (version !== protocolVersion) {
      throw new HandshakeError("version", `peer speaks protocol ${version}`);
    }
    if (acceptorId !== peerId) {
      throw new HandshakeError("unexpected-peer", `expected ${peerId}, reached ${acceptorId}`);
    }
    if (!isNonce(nonceA) || !(proofA instanceof Uint8Array)) {
      throw new HandshakeError("garbage", "malformed challenge");
    }
    const ids: [NodeId, NodeId] = [selfId, peerId];
    const expected = transcript("acceptor", ids, [nonceD, nonceA]);
    if (!(await crypto.subtle.verify("HMAC", key, new Uint8Array(proofA), expected))) {
      throw new HandshakeError("bad-proof", `${peerId} does not know the cluster secret`);
    }
    const proofD = await sign(key, transcript("dialer", ids, [nonceD, nonceA]));
    await fc.writeAll(frame([kindResponse, proofD]));
    await readMessage(fc, kindWelcome);
  });
}

/**
 * Acceptor side: checks the dialer's version, id (`isAllowedPeer`) and proof, then proves
 * itself. Resolves with the dialer's node id. Throws HandshakeError.
 */
export async function acceptHandshake(
  fc: FrameConn,
  options: HandshakeOptions & { isAllowedPeer: (id: NodeId) => boolean },
): Promise<NodeId> {
  const { key, selfId } = options;
  if (!isNodeId(selfId)) throw new RangeError("invalid node id");
  return await withDeadline(fc, options.timeoutMs ?? handshakeTimeoutMsDefault, async () => {
    const [, version, dialerId, wantedId, nonceD] = await readMessage(fc, kindHello);
    if (version !== protocolVersion) {
      throw new HandshakeError("version", `dialer speaks protocol ${version}`);
    }
    if (!isNodeId(dialerId) || !isNodeId(wantedId) || !isNonce(nonceD)) {
      throw new HandshakeError("garbage", "malformed hello");
    }
    if (wantedId !== selfId) {
      throw new HandshakeError("unexpected-peer", `dialer wanted ${wantedId}, this is ${selfId}`);
    }
    if (dialerId === selfId || !options.isAllowedPeer(dialerId)) {
      throw new HandshakeError("unexpected-peer", `${dialerId} is not a peer that dials here`);
    }
    const nonceA = crypto.getRandomValues(new Uint8Array(nonceBytes));
    const ids: [NodeId, NodeId] = [dialerId, selfId];
    const proofA = await sign(key, transcript("acceptor", ids, [nonceD, nonceA]));
    await fc.writeAll(frame([kindChallenge, protocolVersion, selfId, nonceA, proofA]));
    const [, proofD] = await readMessage(fc, kindResponse);
    if (!(proofD instanceof Uint8Array)) throw new HandshakeError("garbage", "malformed response");
    const expected = transcript("dialer", ids, [nonceD, nonceA]);
    if (!(await crypto.subtle.verify("HMAC", key, new Uint8Array(proofD), expected))) {
      throw new HandshakeError("bad-proof", `${dialerId} does not know the cluster secret`);
    }
    await fc.writeAll(frame([kindWelcome]));
    return dialerId;
  });
}

async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array(data)));
}

function frame(message: unknown[]): Uint8Array {
  return encodeFrame(encode(message), { frameBytesMax: handshakeFrameBytesMax });
}
