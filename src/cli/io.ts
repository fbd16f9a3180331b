/** Where the CLI reads and writes: the process's stdio, behind a small interface. */

/** Output and input channels of one CLI run. */
export interface CliIo {
  /** Writes bytes or text to standard output. */
  out(data: string | Uint8Array): Promise<void>;
  /** Writes text to standard error. */
  err(text: string): Promise<void>;
  /** Reads standard input to its end, refusing more than `bytesMax` bytes. */
  readStdin(bytesMax: number): Promise<Uint8Array>;
  /** True when standard input is an interactive terminal. */
  stdinIsTerminal(): boolean;
  /** True when standard output is an interactive terminal. */
  stdoutIsTerminal(): boolean;
}

const encoder = new TextEncoder();

async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let offset = 0;
  while (offset < data.length) offset += await writer.write(data.subarray(offset));
}

/** Thrown when stdin holds more than the caller allows. */
export class StdinTooLargeError extends Error {
  constructor(bytesMax: number) {
    super(`standard input is larger than ${bytesMax} bytes`);
    this.name = "StdinTooLargeError";
  }
}

/** The process's stdin, stdout and stderr. */
export const processIo: CliIo = {
  out: (data) => writeAll(Deno.stdout, typeof data === "string" ? encoder.encode(data) : data),
  err: (text) => writeAll(Deno.stderr, encoder.encode(text)),
  async readStdin(bytesMax) {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of Deno.stdin.readable) {
      total += chunk.byteLength;
      if (total > bytesMax) throw new StdinTooLargeError(bytesMax);
      chunks.push(chunk);
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  },
  stdinIsTerminal: () => Deno.stdin.isTerminal(),
  stdoutIsTerminal: () => Deno.stdout.isTerminal(),
};
