/**
 * Runs a real ringkv node (`main.ts serve`) as a child process on a free loopback port with a
 * fresh temp data dir, for end-to-end tests of the client, the CLI and the load generator.
 */
import { mainPath, spawnNode } from "../../bench/child_server.ts";

/** A running node process. */
export interface NodeProcess {
  /** Base URL the node logged, e.g. http://127.0.0.1:40123. */
  url: string;
  dataDir: string;
  /** Stops the node (SIGTERM, SIGKILL after 5 s), waits for it, removes the data dir. */
  stop(): Promise<void>;
}

/** Path of main.ts, for tests that run the CLI. */
export { mainPath };

/** Starts `main.ts serve --http 127.0.0.1:0 --data-dir <temp> ...extraArgs`. */
export async function startNodeProcess(extraArgs: string[] = []): Promise<NodeProcess> {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv-node-" });
  try {
    const server = await spawnNode(dataDir, { args: extraArgs });
    return {
      url: server.url,
      dataDir,
      stop: async () => {
        await server.stop({ killAfterMs: 5_000 });
        await Deno.remove(dataDir, { recursive: true });
      },
    };
  } catch (error) {
    await Deno.remove(dataDir, { recursive: true });
    throw error;
  }
}
