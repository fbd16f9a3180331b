/**
 * Runs `deno run -A main.ts serve` as a child process on a free port (port 0; the URL is read
 * from the node's "listening" log line) for end-to-end tests.
 */
const mainPath = new URL("../../main.ts", import.meta.url).pathname;

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
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      mainPath,
      "serve",
      "--http",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      ...(options.args ?? []),
    ],
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const { promise: urlSeen, resolve: resolveUrl } = Promise.withResolvers<string>();
  const drained = (async () => {
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
    for await (const line of lines) {
      logs.push(line);
      if (line.includes('"listening"')) {
        try {
          resolveUrl(JSON.parse(line).url);
        } catch { /* not a JSON log line */ }
      }
    }
  })();
  const statusPromise = child.status;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    urlSeen,
    statusPromise.then((s) => ({ exited: s.code })),
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (typeof outcome !== "string" || outcome === "timeout") {
    if (outcome === "timeout") child.kill("SIGKILL");
    await statusPromise;
    await drained;
    throw new Error(`server did not start (${JSON.stringify(outcome)}):\n${logs.join("\n")}`);
  }
  let stopped: Promise<Deno.CommandStatus> | undefined;
  return {
    url: outcome,
    dataDir,
    child,
    logs,
    stop(signal: Deno.Signal = "SIGTERM") {
      stopped ??= (async () => {
        try {
          child.kill(signal);
        } catch { /* already exited */ }
        const status = await statusPromise;
        await drained;
        return status;
      })();
      return stopped;
    },
  };
}

function lineSplitter(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        controller.enqueue(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    },
    flush(controller) {
      if (buffer !== "") controller.enqueue(buffer);
    },
  });
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
