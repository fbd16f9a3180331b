/**
 * Length-prefixed frames for the peer transport: a big-endian u32 body length, then the
 * body. A streaming decoder turns arbitrary chunks of a TCP stream back into bodies.
 */
import { invariant } from "./invariant.ts";

/** Bytes of the length prefix in front of every frame body. */
export const frameHeaderBytes = 4;

/** Default largest frame body accepted or produced: 16 MiB. */
export const frameBytesMaxDefault = 16 * 1024 * 1024;

/** Hard ceiling for any configured frame limit (the u32 prefix allows up to 4 GiB). */
export const frameBytesMaxCeiling = 256 * 1024 * 1024;

/** Thrown when a stream or a body breaks the framing rules; the connection must be closed. */
export class FrameError extends Error {
  /** Creates a framing error with a message saying what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

function checkLimit(frameBytesMax: number): void {
  if (
    !Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > frameBytesMaxCeiling
  ) {
    throw new RangeError(`frameBytesMax must be an integer in 1..${frameBytesMaxCeiling}`);
  }
}

/** Options of {@link encodeFrame}. */
export interface EncodeFrameOptions {
  /** Largest body allowed. Default {@link frameBytesMaxDefault}. */
  frameBytesMax?: number;
}

/**
 * Returns a new buffer holding `body` behind its length prefix.
 * Throws FrameError when the body is empty or longer than `frameBytesMax`.
 */
export function encodeFrame(body: Uint8Array, options: EncodeFrameOptions = {}): Uint8Array {
  const frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
  checkLimit(frameBytesMax);
  if (body.byteLength === 0) throw new FrameError("frame body is empty");
  if (body.byteLength > frameBytesMax) {
    throw new FrameError(`frame body of ${body.byteLength} bytes exceeds limit ${frameBytesMax}`);
  }
  const frame = new Uint8Array(frameHeaderBytes + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength, false);
  frame.set(body, frameHeaderBytes);
  return frame;
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest body accepted. Default {@link frameBytesMaxDefault}. Changeable later. */
  frameBytesMax?: number;
}

/**
 * Streaming frame decoder: feed it chunks as they arrive, get whole bodies back.
 * Handles frames split across chunks and many frames in one chunk. After it throws, the
 * stream is unusable (the framing is lost) and the decoder keeps throwing.
 */
export class FrameDecoder {
  #frameBytesMax: number;
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #failure: FrameError | null = null;

  /** Creates a decoder with an empty buffer. */
  constructor(options: FrameDecoderOptions = {}) {
    this.#frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
    checkLimit(this.#frameBytesMax);
  }

  /** Largest body accepted from now on. */
  get frameBytesMax(): number {
    return this.#frameBytesMax;
  }

  /** Changes the body limit (e.g. raised after a handshake done under a small limit). */
  set frameBytesMax(value: number) {
    checkLimit(value);
    this.#frameBytesMax = value;
  }

  /** Bytes received but not yet part of a whole frame. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends `chunk` and returns every body completed by it, in order (each a fresh copy).
   * Throws FrameError on an empty or oversize length prefix.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    this.feed(chunk);
    const bodies: Uint8Array[] = [];
    for (let body = this.next(); body !== null; body = this.next()) bodies.push(body);
    return bodies;
  }

  /** Appends `chunk` without decoding; follow with {@link next}. */
  feed(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    this.#append(chunk);
  }

  /**
   * Returns the next whole body (a fresh copy), or null when more bytes are needed.
   * The limit in force when the frame's prefix is examined applies to that frame.
   * Throws FrameError on an empty or oversize length prefix.
   */
  next(): Uint8Array | null {
    if (this.#failure) throw this.#failure;
    if (this.#end - this.#start < frameHeaderBytes) return null;
    const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#start, 4);
    const length = view.getUint32(0, false);
    if (length === 0) this.#fail("frame with an empty body");
    if (length > this.#frameBytesMax) {
      this.#fail(`frame of ${length} bytes exceeds limit ${this.#frameBytesMax}`);
    }
    const frameEnd = this.#start + frameHeaderBytes + length;
    if (frameEnd > this.#end) return null;
    const body = this.#buf.slice(this.#start + frameHeaderBytes, frameEnd);
    this.#start = frameEnd;
    invariant(this.#start <= this.#end, "decoder read past its buffer");
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    return body;
  }

  #fail(message: string): never {
    this.#failure = new FrameError(message);
    this.#start = 0;
    this.#end = 0;
    this.#buf = new Uint8Array(0);
    throw this.#failure;
  }

  #append(chunk: Uint8Array): void {
    const pending = this.#end - this.#start;
    if (this.#end + chunk.byteLength > this.#buf.byteLength) {
      const needed = pending + chunk.byteLength;
      if (needed <= this.#buf.byteLength) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(Math.max(needed, this.#buf.byteLength * 2, 64 * 1024));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }
}
