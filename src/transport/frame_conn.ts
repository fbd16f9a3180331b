/** A TCP connection seen as a stream of frames: reads whole bodies, writes whole buffers. */
import { FrameDecoder } from "./framing.ts";

/** Bytes asked of the socket per read. */
export const readChunkBytes = 64 * 1024;

/** Options of {@link FrameConn}. */
export interface FrameConnOptions {
  /** Largest body accepted; changeable later through {@link FrameConn.frameBytesMax}. */
  frameBytesMax: number;
  /** Called with the byte count of every chunk read (for stats). */
  onBytesRead?: (bytes: number) => void;
}

/** Frames over a Deno.Conn. One reader and one writer at a time. */
export class FrameConn {
  /** The underlying socket. */
  readonly conn: Deno.Conn;
  #decoder: FrameDecoder;
  #chunk = new Uint8Array(readChunkBytes);
  /** Called with the byte count of every chunk read (for stats); replaceable. */
  onBytesRead?: (bytes: number) => void;
  #closed = false;

  /** Wraps `conn`; the FrameConn now owns it. */
  constructor(conn: Deno.Conn, options: FrameConnOptions) {
    this.conn = conn;
    this.#decoder = new FrameDecoder({ frameBytesMax: options.frameBytesMax });
    this.onBytesRead = options.onBytesRead;
  }

  /** Largest body accepted from now on. */
  set frameBytesMax(value: number) {
    this.#decoder.frameBytesMax = value;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves with the next whole body, or null at a clean end of stream.
   * Throws FrameError on broken framing and the socket's error if reading fails.
   */
  async readFrame(): Promise<Uint8Array | null> {
    for (;;) {
      const body = this.#decoder.next();
      if (body !== null) return body;
      const n = await this.conn.read(this.#chunk);
      if (n === null) {
        if (this.#decoder.bufferedBytes > 0) throw new Error("stream ended inside a frame");
        return null;
      }
      this.onBytesRead?.(n);
      this.#decoder.feed(this.#chunk.subarray(0, n));
    }
  }

  /** Writes all of `bytes`; throws if the socket fails. */
  async writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const n = await this.conn.write(bytes.subarray(offset));
      if (n <= 0) throw new Error("socket accepted no bytes");
      offset += n;
    }
  }

  /** Closes the socket once; pending reads and writes then fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}
