/**
 * MessagePack bodies of the peer transport. After the handshake every frame body is one
 * batch: `[batchKind, [groupId, message, groupId, message, ...]]`. Messages are opaque
 * values; the transport only checks that group ids are u32 integers.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { FrameError, frameHeaderBytes } from "./framing.ts";

/** Identifies a node of the cluster (e.g. "n1"). */
export type NodeId = string;

/** One message for one Raft group; `message` is opaque to the transport. */
export interface Envelope<M = unknown> {
  /** The Raft group the message belongs to (0 is the metadata group). */
  groupId: number;
  /** Any MessagePack-encodable value. */
  message: M;
}

/** Largest number of envelopes a decoded batch may carry. */
export const batchEnvelopesMax = 65_536;

const batchKind = 1;

/** True when `groupId` is a valid group id (an integer in 0..2^32-1). */
export function isGroupId(groupId: unknown): groupId is number {
  return typeof groupId === "number" && Number.isInteger(groupId) && groupId >= 0 &&
    groupId <= 0xffff_ffff;
}

/**
 * Encodes batches into whole frames (length prefix included), reusing one Encoder and its
 * buffer across calls. Not reentrant: one BatchEncoder per writer.
 */
export class BatchEncoder {
  #encoder = new Encoder({ ignoreUndefined: true });

  /**
   * Returns a new frame carrying `envelopes` in order. The caller checks the returned
   * length against its frame limit (the body is `frame.byteLength - frameHeaderBytes`).
   */
  encodeFrame(envelopes: readonly Envelope[]): Uint8Array {
    if (envelopes.length === 0 || envelopes.length > batchEnvelopesMax) {
      throw new RangeError(`a batch holds 1..${batchEnvelopesMax} envelopes`);
    }
    const flat: unknown[] = new Array(envelopes.length * 2);
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i];
      if (!isGroupId(envelope.groupId)) {
        throw new RangeError(`groupId must be an integer in 0..2^32-1, got ${envelope.groupId}`);
      }
      flat[2 * i] = envelope.groupId;
      flat[2 * i + 1] = envelope.message;
    }
    const body = this.#encoder.encodeSharedRef([batchKind, flat]);
    const frame = new Uint8Array(frameHeaderBytes + body.byteLength);
    new DataView(frame.buffer).setUint32(0, body.byteLength, false);
    frame.set(body, frameHeaderBytes);
    return frame;
  }
}

/** Options of {@link BatchDecoder}. */
export interface BatchDecoderOptions {
  /** Largest body a frame may carry (bounds every string, binary and array inside). */
  frameBytesMax: number;
}

/** Decodes batch frame bodies, validating their shape. */
export class BatchDecoder {
  #decoder: Decoder;

  /** Creates a decoder whose inner limits follow the frame limit. */
  constructor(options: BatchDecoderOptions) {
    const max = options.frameBytesMax;
    this.#decoder = new Decoder({
      maxStrLength: max,
      maxBinLength: max,
      maxArrayLength: Math.min(max, 2 * batchEnvelopesMax),
      maxMapLength: max,
      maxExtLength: max,
    });
  }

  /** Returns the envelopes of one body. Throws FrameError when the body is not a batch. */
  decode(body: Uint8Array): Envelope[] {
    let value: unknown;
    try {
      value = this.#decoder.decode(body);
    } catch (error) {
      throw new FrameError(`frame body is not MessagePack: ${(error as Error).message}`);
    }
    if (!Array.isArray(value) || value.length !== 2 || value[0] !== batchKind) {
      throw new FrameError("frame body is not a message batch");
    }
    const flat = value[1];
    if (!Array.isArray(flat) || flat.length === 0 || flat.length % 2 !== 0) {
      throw new FrameError("message batch has a malformed envelope list");
    }
    if (flat.length > 2 * batchEnvelopesMax) {
      throw new FrameError(`message batch holds more than ${batchEnvelopesMax} envelopes`);
    }
    const envelopes: Envelope[] = new Array(flat.length / 2);
    for (let i = 0; i < envelopes.length; i++) {
      const groupId = flat[2 * i];
      if (!isGroupId(groupId)) throw new FrameError("message batch has an invalid group id");
      envelopes[i] = { groupId, message: flat[2 * i + 1] };
    }
    return envelopes;
  }
}
