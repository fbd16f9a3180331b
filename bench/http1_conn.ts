/**
 * A minimal HTTP/1.1 keep-alive client connection over Deno.connect, for the load generator:
 * one request at a time, Content-Length or chunked bodies. It costs far less CPU per request
 * than fetch, so on a shared machine the load measures the server more than itself.
 */

/** An answer: status and body bytes (valid until the next request on the connection). */
export interface Http1Response {
  status: number;
  body: Uint8Array;
}

/** Raised when the peer breaks the protocol or the connection; `kind` classifies it. */
export class Http1Error extends Error {
  constructor(
    readonly kind: "timeout" | "connection_refused" | "connection_reset" | "protocol",
    message: string,
  ) {
    super(message);
    this.name = "Http1Error";
  }
}

const headerBytesMax = 64 * 1024;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** One keep-alive connection to `url`'s origin; reconnects on the next request after an error. */
export class Http1Connection {
  #url: URL;
  #conn: Deno.Conn | null = null;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #bodyBytesMax: number;

  constructor(url: string, options: { bodyBytesMax?: number } = {}) {
    this.#url = new URL(url);
    this.#bodyBytesMax = options.bodyBytesMax ?? 80 * 1024 * 1024;
  }

  /** Closes the socket (a later request opens a new one). */
  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = null;
    this.#start = this.#end = 0;
  }

  /**
   * Sends one request and reads the whole answer. `headerLines` are extra "name: value\r\n"
   * lines. Throws Http1Error; the connection is closed after any error.
   */
  async request(
    method: string,
    path: string,
    options: { headerLines?: string; body?: Uint8Array; timeoutMs: number },
  ): Promise<Http1Response> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, options.timeoutMs);
    try {
      const conn = this.#conn ?? await this.#connect();
      const body = options.body;
      const head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#url.host}\r\n` +
        (options.headerLines ?? "") +
        (body !== undefined || method === "PUT" || method === "POST"
          ? `content-length: ${body?.byteLength ?? 0}\r\n`
          : "") +
        "\r\n";
      const headBytes = encoder.encode(head);
      if (body !== undefined && body.byteLength > 0 && body.byteLength < 16 * 1024) {
        const all = new Uint8Array(headBytes.byteLength + body.byteLength);
        all.set(headBytes);
        all.set(body, headBytes.byteLength);
        await writeAll(conn, all);
      } else {
        await writeAll(conn, headBytes);
        if (body !== undefined && body.byteLength > 0) await writeAll(conn, body);
      }
      return await this.#readResponse(method);
    } catch (error) {
      this.close();
      if (timedOut) throw new Http1Error("timeout", `no answer within ${options.timeoutMs} ms`);
      if (error instanceof Http1Error) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new Http1Error("connection_refused", message);
      }
      throw new Http1Error("connection_reset", message);
    } finally {
      clearTimeout(timer);
    }
  }

  async #connect(): Promise<Deno.Conn> {
    const hostname = this.#url.hostname.replace(/^\[|\]$/g, "");
    const tls = this.#url.protocol === "https:";
    const port = Number(this.#url.port || (tls ? 443 : 80));
    const conn = tls
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    if (!tls) (conn as Deno.TcpConn).setNoDelay(true);
    this.#conn = conn;
    this.#start = this.#end = 0;
    return conn;
  }

  /** Reads more bytes into the buffer (growing it up to `needBytes`); throws at EOF. */
  async #fill(needBytes: number): Promise<void> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buf.byteLength - this.#start < needBytes) {
      const grown = new Uint8Array(Math.max(needBytes, this.#buf.byteLength * 2));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    } else if (this.#end === this.#buf.byteLength) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const conn = this.#conn;
    if (conn === null) throw new Http1Error("connection_reset", "connection closed");
    const n = await conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Http1Error("connection_reset", "connection closed by the server");
    this.#end += n;
  }

  async #readHead(): Promise<{ status: number; headers: string }> {
    for (;;) {
      const at = indexOfCrlfCrlf(this.#buf, this.#start, this.#end);
      if (at >= 0) {
        const text = latin1.decode(this.#buf.subarray(this.#start, at));
        this.#start = at + 4;
        const status = Number(text.slice(9, 12));
        if (!text.startsWith("HTTP/1.") || !(status >= 100 && status < 600)) {
          throw new Http1Error("protocol", `not an HTTP/1 status line: ${text.slice(0, 40)}`);
        }
        return { status, headers: text.toLowerCase() };
      }
      if (this.#end - this.#start > headerBytesMax) {
        throw new Http1Error("protocol", `response head over ${headerBytesMax} bytes`);
      }
      await this.#fill(this.#end - this.#start + 4096);
    }
  }

  async #readResponse(method: string): Promise<Http1Response> {
    let head = await this.#readHead();
    while (head.status >= 100 && head.status < 200) head = await this.#readHead(); // 100-continue
    const { status, headers } = head;
    let body: Uint8Array;
    if (method === "HEAD" || status === 204 || status === 304) {
      body = new Uint8Array(0);
    } else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(headers)) {
      body = await this.#readChunked();
    } else {
      const match = /\r\ncontent-length: *(\d+)/.exec(headers);
      if (match === null) throw new Http1Error("protocol", "answer without content-length");
      body = await this.#readExactly(Number(match[1]));
    }
    if (/\r\nconnection: *close/.test(headers)) this.close();
    return { status, body };
  }

  async #readExactly(length: number): Promise<Uint8Array> {
    if (length > this.#bodyBytesMax) {
      throw new Http1Error("protocol", `body of ${length} bytes over ${this.#bodyBytesMax}`);
    }
    while (this.#end - this.#start < length) await this.#fill(length);
    const body = this.#buf.subarray(this.#start, this.#start + length);
    this.#start += length;
    return body;
  }

  async #readLine(): Promise<string> {
    for (;;) {
      for (let i = this.#start; i + 1 < this.#end; i++) {
        if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) {
          const line = latin1.decode(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return line;
        }
      }
      if (this.#end - this.#start > headerBytesMax) throw new Http1Error("protocol", "long line");
      await this.#fill(this.#end - this.#start + 1024);
    }
  }

  async #readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const size = parseInt(await this.#readLine(), 16);
      if (!Number.isFinite(size) || size < 0) throw new Http1Error("protocol", "bad chunk size");
      if (size === 0) {
        while ((await this.#readLine()) !== "") { /* trailers */ }
        break;
      }
      total += size;
      if (total > this.#bodyBytesMax) throw new Http1Error("protocol", "chunked body too large");
      parts.push((await this.#readExactly(size)).slice());
      await this.#readLine();
    }
    const body = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.byteLength;
    }
    return body;
  }
}

function indexOfCrlfCrlf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) offset += await conn.write(data.subarray(offset));
}
