/**
 * Runs a replicated ringkv cluster as real `main.ts serve --cluster ...` processes on
 * loopback, for end-to-end tests: free ports, one temp data dir per node, the leader read
 * from the nodes' "raft role changed" log lines.
 */
import { freePorts } from "../../bench/child_server.ts";
import { type ServerProcess, startServer, waitUntil } from "../server/server_process.ts";

/** A test cluster's shared secret (passed in the environment, as operators may). */
export const testSecret = "cluster-test-secret-0123456789";

/** One node of a test cluster; `proc` is undefined while the node is down. */
export interface TestNode {
  id: string;
  peerAddr: string;
  dataDir: string;
  proc: ServerProcess | undefined;
  /** Set for a node added with join(): it starts with --join URL instead of --cluster. */
  joinUrl?: string;
}

/** A running test cluster. */
export interface TestCluster {
  nodes: TestNode[];
  /** (Re)starts node `id` with its data dir and addresses. */
  start(id: string): Promise<ServerProcess>;
  /** Starts a new node `id` (free peer port, empty data dir) with `--join viaUrl`. */
  join(id: string, viaUrl: string): Promise<TestNode>;
  /** kill -9 of node `id`, awaited. */
  kill(id: string): Promise<void>;
  /** Waits until every running node names the same leader, and returns it. */
  waitForLeader(options?: { timeoutMs?: number; not?: string }): Promise<TestNode>;
  /** Stops every node (SIGKILL) and removes the data dirs. */
  close(): Promise<void>;
}

interface RoleLine {
  role: string;
  leader: string | null;
  term: number;
}

/** The last "raft role changed" line a node logged, if any. */
function lastRole(proc: ServerProcess): RoleLine | undefined {
  for (let i = proc.logs.length - 1; i >= 0; i--) {
    const line = proc.logs[i];
    if (!line.includes('"raft role changed"')) continue;
    try {
      return JSON.parse(line) as RoleLine;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Starts a cluster of `size` nodes n1..nN and waits until every node listens. */
export async function startCluster(
  size = 3,
  options: { extraArgs?: string[] } = {},
): Promise<TestCluster> {
  const root = await Deno.makeTempDir({ prefix: "ringkv_cluster_" });
  const ports = freePorts(size);
  const nodes: TestNode[] = ports.map((port, i) => ({
    id: `n${i + 1}`,
    peerAddr: `127.0.0.1:${port}`,
    dataDir: `${root}/n${i + 1}`,
    proc: undefined,
  }));
  const members = nodes.map((n) => `${n.id}=${n.peerAddr}`).join(",");
  const byId = (id: string) => {
    const node = nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  };
  const cluster: TestCluster = {
    nodes,
    async start(id) {
      const node = byId(id);
      if (node.proc !== undefined) throw new Error(`${id} is already running`);
      node.proc = await startServer(node.dataDir, {
        args: [
          "--id",
          id,
          "--peer",
          node.peerAddr,
          ...(node.joinUrl === undefined ? ["--cluster", members] : ["--join", node.joinUrl]),
          ...(options.extraArgs ?? []),
        ],
        env: { RINGKV_CLUSTER_SECRET: testSecret },
        startTimeoutMs: 30_000,
      });
      return node.proc;
    },
    async join(id, viaUrl) {
      if (nodes.some((n) => n.id === id)) throw new Error(`${id} already exists`);
      const [port] = freePorts(1);
      const node: TestNode = {
        id,
        peerAddr: `127.0.0.1:${port}`,
        dataDir: `${root}/${id}`,
        proc: undefined,
        joinUrl: viaUrl,
      };
      nodes.push(node);
      await cluster.start(id);
      return node;
    },
    async kill(id) {
      const node = byId(id);
      await node.proc?.stop("SIGKILL");
      node.proc = undefined;
    },
    async waitForLeader(opts = {}) {
      let leader: TestNode | undefined;
      await waitUntil(
        () => {
          const running = nodes.filter((n) => n.proc !== undefined);
          const views = running.map((n) => lastRole(n.proc!));
          const id = views[0]?.leader;
          if (id === null || id === undefined || id === opts.not) return false;
          if (!views.every((v) => v?.leader === id)) return false;
          const candidate = running.find((n) => n.id === id);
          if (candidate === undefined || lastRole(candidate.proc!)?.role !== "leader") return false;
          leader = candidate;
          return true;
        },
        "one leader named by every running node",
        opts.timeoutMs ?? 20_000,
      );
      return leader!;
    },
    async close() {
      await Promise.all(nodes.map((n) => n.proc?.stop("SIGKILL")));
      for (const n of nodes) n.proc = undefined;
      await Deno.remove(root, { recursive: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => cluster.start(n.id)));
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

/** PUTs key=value on `url`; resolves to the response status and ETag (0 when unreachable). */
export async function putKey(
  url: string,
  key: string,
  value: string,
  timeoutMs = 15_000,
): Promise<{ status: number; etag: string | null }> {
  try {
    const res = await fetch(`${url}/kv/${key}`, {
      method: "PUT",
      body: value,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return { status: res.status, etag: res.headers.get("etag") };
  } catch {
    return { status: 0, etag: null };
  }
}

/** GETs key on `url`: status, body text and ETag. Throws if the node cannot be reached. */
export async function getKey(
  url: string,
  key: string,
  timeoutMs = 15_000,
): Promise<{ status: number; body: string; etag: string | null }> {
  const res = await fetch(`${url}/kv/${key}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), etag: res.headers.get("etag") };
}

/** Freezes a running node with SIGSTOP (its sockets stay open, it answers nothing). */
export function pauseNode(node: TestNode): void {
  if (node.proc === undefined) throw new Error(`${node.id} is not running`);
  node.proc.child.kill("SIGSTOP");
}

/** Lets a node frozen by {@link pauseNode} run again (SIGCONT). */
export function resumeNode(node: TestNode): void {
  if (node.proc === undefined) throw new Error(`${node.id} is not running`);
  node.proc.child.kill("SIGCONT");
}
