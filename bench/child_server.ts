/**
 * Runs a server as a child process and learns its URL from the JSON log line it writes on
 * stderr (`{"msg":"listening","url":...}`); used by the HTTP bench and the end-to-end tests.
 */

/** A running server process. */
export interface ChildServer {
  url: string;
  /** Process id of the server. */
  pid: number;
  /** The last log lines (at most 200), for error messages. */
  logLines: string[];
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves when the process has exited. */
  stop(options?: { killAfterMs?: number }): Promise<Deno.CommandStatus>;
}

const logLinesMax = 200;

/** Spawns `deno run -A <args>`; throws (after killing it) when no URL shows up in time. */
export async function spawnServer(
  args: string[],
  options: { startTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ChildServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const logLines: string[] = [];
  let resolveUrl: (url: string) => void = () => {};
  let rejectUrl: (error: Error) => void = () => {};
  const urlPromise = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  // Reads stderr to its end (a full pipe would block the server) and finds the URL line.
  const drained = (async () => {
    let buffered = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (logLines.length >= logLinesMax) logLines.shift();
        logLines.push(line);
        const match = line.match(/"url":"(https?:\/\/[^"]+)"/);
        if (match) resolveUrl(match[1]);
      }
    }
    rejectUrl(new Error(`server exited before logging its URL:\n${logLines.join("\n")}`));
  })();
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = (stopOptions: { killAfterMs?: number } = {}) => {
    stopped ??= (async () => {
      const kill = (signal: Deno.Signal) => {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), stopOptions.killAfterMs ?? 10_000);
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
    return { url: await urlPromise, pid: child.pid, logLines, stop };
  } catch (error) {
    await stop({ killAfterMs: 1000 });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
