/**
 * A local ringkv cluster for benchmarks: nodes started as `deno task cluster` starts them
 * (`main.ts serve --id --http --peer --cluster --data-dir`), on free loopback ports, with data
 * in a temp dir. Each node keeps its HTTP and peer ports for the whole run, so a node killed
 * with kill -9 comes back at the same URL, as a restarted server would for its clients.
 */
import { type ChildServer, freePorts, mainPath, spawnServer } from "./child_server.ts";

/** One member; `server` is undefined while the node is down. */
export interface BenchNode {
  id: string;
  /** Its HTTP base URL, the same across restarts. */
  url: string;
  /** Its peer (Raft) address host:port. */
  peer: string;
  dataDir: string;
  server: ChildServer | undefined;
}

/** A running local cluster. */
export interface BenchCluster {
  nodes: BenchNode[];
  /** The HTTP base URLs of every member, in id order. */
  urls: string[];
  /** Process ids of the running nodes. */
  pids(): number[];
  /** kill -9 of node `id`; resolves once the process has exited. */
  kill(id: string): Promise<void>;
  /** Starts node `id` again with its ports and data; resolves once it listens. */
  restart(id: string): Promise<void>;
  /** Stops every node (SIGTERM, SIGKILL after 20 s) and removes the data dir. */
  stop(): Promise<void>;
}

/** Options of {@link startRingkvCluster}. */
export interface BenchClusterOptions {
  /** Members n1..nN; default 3. */
  size?: number;
  /** Flags given to every node's `deno run` (e.g. --cpu-prof). */
  denoFlags?: string[];
  /** Extra `serve` flags of every node. */
  serveArgs?: string[];
  /** Prefix of the temp data dir. */
  tempPrefix?: string;
  /** Receives a line per node start; default stderr. */
  log?: (line: string) => void;
}

const encoder = new TextEncoder();
const nodeStartTimeoutMs = 60_000;
const readyTimeoutMs = 60_000;

function stderrLine(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

/** Starts the nodes, waits until each answers /ready, and resolves with the cluster. */
export async function startRingkvCluster(options: BenchClusterOptions = {}): Promise<BenchCluster> {
  const size = options.size ?? 3;
  if (!(Number.isInteger(size) && size >= 1 && size <= 9)) {
    throw new RangeError(`a bench cluster has 1..9 nodes, not ${size}`);
  }
  const log = options.log ?? stderrLine;
  const root = await Deno.makeTempDir({ prefix: options.tempPrefix ?? "ringkv-bench-" });
  // HTTP and peer ports are picked together so that no two are the same.
  const ports = freePorts(2 * size);
  const nodes: BenchNode[] = Array.from({ length: size }, (_, i) => ({
    id: `n${i + 1}`,
    url: `http://127.0.0.1:${ports[i]}`,
    peer: `127.0.0.1:${ports[size + i]}`,
    dataDir: `${root}/n${i + 1}`,
    server: undefined,
  }));
  const members = nodes.map((n) => `${n.id}=${n.peer}`).join(",");
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const byId = (id: string): BenchNode => {
    const node = nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id} in the bench cluster`);
    return node;
  };
  const start = async (node: BenchNode) => {
    if (node.server !== undefined) throw new Error(`${node.id} is already running`);
    node.server = await spawnServer([
      ...options.denoFlags ?? [],
      mainPath,
      "serve",
      "--id",
      node.id,
      "--http",
      node.url.slice("http://".length),
      "--peer",
      node.peer,
      "--cluster",
      members,
      "--data-dir",
      node.dataDir,
      ...options.serveArgs ?? [],
    ], { env: { RINGKV_CLUSTER_SECRET: secret }, startTimeoutMs: nodeStartTimeoutMs });
    if (node.server.url !== node.url) {
      throw new Error(`${node.id} listens on ${node.server.url}, expected ${node.url}`);
    }
    log(`ringkv ${node.id}: ${node.url} (pid ${node.server.pid})`);
  };
  const cluster: BenchCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    pids: () => nodes.flatMap((n) => n.server === undefined ? [] : [n.server.pid]),
    async kill(id) {
      const node = byId(id);
      await node.server?.stop({ signal: "SIGKILL" });
      node.server = undefined;
    },
    async restart(id) {
      await start(byId(id));
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.server?.stop({ killAfterMs: 20_000 })));
      for (const node of nodes) node.server = undefined;
      await Deno.remove(root, { recursive: true });
    },
  };
  try {
    for (const node of nodes) await start(node);
    await waitReady(cluster.urls, readyTimeoutMs);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Waits until every URL answers /ready with 2xx; throws after `timeoutMs`. */
export async function waitReady(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) }).then(
        async (r) => {
          await r.body?.cancel();
          return r.ok;
        },
        () => false,
      );
      if (ok) break;
      if (performance.now() > deadline) {
        throw new Error(`${url} not ready within ${timeoutMs} ms; see its log lines above`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
