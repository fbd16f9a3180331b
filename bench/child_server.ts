/**
 * Runs a server as a child process and learns its URL from the JSON log line it writes on
 * stderr (`{"msg":"listening","url":...}`); the one place that starts `main.ts serve`
 * children, used by the HTTP bench and the end-to-end tests.
 */

/** A running server process. */
export interface ChildServer {
  url: string;
  /** Process id of the server. */
  pid: number;
  /** The child process itself. */
  child: Deno.ChildProcess;
  /** The last log lines (at most the spawn's logLinesMax), for error messages and checks. */
  logLines: string[];
  /**
   * Sends `signal` (default SIGTERM), then SIGKILL after `killAfterMs` (default 10 s; Infinity
   * never escalates); resolves when the process has exited and its stderr is drained.
   */
  stop(options?: StopOptions): Promise<Deno.CommandStatus>;
}

/** Options of {@link ChildServer.stop}. */
export interface StopOptions {
  signal?: Deno.Signal;
  killAfterMs?: number;
}

/** Options of {@link spawnServer}. */
export interface SpawnServerOptions {
  /** Longest wait for the listening line. Default 30 s. */
  startTimeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Log lines kept (the oldest are dropped). Default 200. */
  logLinesMax?: number;
}

/** Path of ringkv's main.ts. */
export const mainPath = new URL("../main.ts", import.meta.url).pathname;

const logLinesMaxDefault = 200;

/** Distinct free loopback ports, all held open at once so none is handed out twice. */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  if (new Set(ports).size !== count) throw new Error("the OS handed out a port twice");
  return ports;
}

/** The URL of a "listening" JSON log line, or undefined for any other line. */
function listeningUrl(line: string): string | undefined {
  if (!line.includes('"listening"')) return undefined;
  return line.match(/"url":"(https?:\/\/[^"]+)"/)?.[1];
}

/** Spawns `deno run -A <args>`; throws (after killing it) when no URL shows up in time. */
export async function spawnServer(
  args: string[],
  options: SpawnServerOptions = {},
): Promise<ChildServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const logLinesMax = options.logLinesMax ?? logLinesMaxDefault;
  if (!(logLinesMax >= 1)) throw new RangeError("logLinesMax must be >= 1");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const logLines: string[] = [];
  const { promise: urlPromise, resolve: resolveUrl, reject: rejectUrl } = Promise.withResolvers<
    string
  >();
  // Reads stderr to its end (a full pipe would block the server) and finds the URL line.
  const drained = (async () => {
    let buffered = "";
    const keep = (line: string) => {
      if (logLines.length >= logLinesMax) logLines.shift();
      logLines.push(line);
      const url = listeningUrl(line);
      if (url !== undefined) resolveUrl(url);
    };
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        keep(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
    if (buffered !== "") keep(buffered);
    rejectUrl(new Error(`server exited before logging its URL:\n${logLines.join("\n")}`));
  })();
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = (stopOptions: StopOptions = {}) => {
    stopped ??= (async () => {
      const kill = (signal: Deno.Signal) => {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
      };
      kill(stopOptions.signal ?? "SIGTERM");
      const killAfterMs = stopOptions.killAfterMs ?? 10_000;
      const timer = Number.isFinite(killAfterMs)
        ? setTimeout(() => kill("SIGKILL"), killAfterMs)
        : undefined;
      const status = await child.status;
      clearTimeout(timer);
      await drained;
      return status;
    })();
    return stopped;
  };
  const timer = setTimeout(
    () =>
      rejectUrl(new Error(`no URL logged within ${startTimeoutMs} ms:\n${logLines.join("\n")}`)),
    startTimeoutMs,
  );
  try {
    return { url: await urlPromise, pid: child.pid, child, logLines, stop };
  } catch (error) {
    await stop({ killAfterMs: 1000 });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions extends SpawnServerOptions {
  /** Extra `serve` flags. */
  args?: string[];
}

/**
 * Spawns a ringkv node, `main.ts serve --http 127.0.0.1:0 --data-dir <dataDir> ...args`, on a
 * free loopback port; see spawnServer for the URL, the timeouts and stop().
 */
export function spawnNode(dataDir: string, options: SpawnNodeOptions = {}): Promise<ChildServer> {
  const { args = [], ...spawnOptions } = options;
  return spawnServer(
    [mainPath, "serve", "--http", "127.0.0.1:0", "--data-dir", dataDir, ...args],
    spawnOptions,
  );
}
