/**
 * Runs `deno run -A main.ts serve` as a child process on a free port (port 0; the URL is read
 * from the node's "listening" log line) for end-to-end tests.
 */
import { spawnNode } from "../../bench/child_server.ts";

/** Log lines a test server keeps: enough for every test here to see all of its lines. */
const logLinesMax = 1_000_000;

/** A running server child process. */
export interface ServerProcess {
  url: string;
  dataDir: string;
  child: Deno.ChildProcess;
  /** Every stderr line so far (JSON log lines). */
  logs: string[];
  /** Sends a signal and waits for exit; resolves to the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Extra `serve` flags. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Longest wait for the listening line. Default 30 s. */
  startTimeoutMs?: number;
}

/** Starts a server with data in dataDir; rejects (and kills the child) if it does not listen in time. */
export async function startServer(
  dataDir: string,
  options: StartServerOptions = {},
): Promise<ServerProcess> {
  let server;
  try {
    server = await spawnNode(dataDir, { ...options, logLinesMax });
  } catch (error) {
    throw new Error(`server did not start: ${(error as Error).message}`);
  }
  const { url, child, logLines } = server;
  return {
    url,
    dataDir,
    child,
    logs: logLines,
    // Only the given signal: a test that sends SIGTERM waits for the graceful exit.
    stop: (signal: Deno.Signal = "SIGTERM") => server.stop({ signal, killAfterMs: Infinity }),
  };
}

/** Waits until check() is true, polling every few ms; throws after timeoutMs. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends raw bytes on a new TCP connection and returns everything the server answered. */
export async function rawRequest(
  url: string,
  request: string | Uint8Array,
  timeoutMs = 5000,
): Promise<string> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      if (responseComplete(new TextDecoder().decode(concat(chunks)))) break;
    }
    return new TextDecoder().decode(concat(chunks));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** Whether text holds a whole response: its head and Content-Length bytes of body. */
function responseComplete(text: string): boolean {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
  return length !== null &&
    new TextEncoder().encode(text.slice(headEnd + 4)).byteLength >= Number(length[1]);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The status code of a raw HTTP/1.1 response, or 0 when there is none. */
export function rawStatus(response: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return match ? Number(match[1]) : 0;
}
