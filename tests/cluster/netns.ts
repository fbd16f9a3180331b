/**
 * A cluster in network namespaces, for partition tests with real packet loss: one namespace
 * per node with its own 10.x address on a veth pair, the other ends on a bridge in a hub
 * namespace, and a client namespace on the same bridge from which a long-lived HTTP client
 * process talks to the nodes. Nothing is added to the root namespace: removing the
 * namespaces removes every veth, the bridge and every iptables rule. Links are cut with
 * iptables DROP rules inside a node's namespace.
 *
 * Run as a script (`deno run -A netns.ts client`) this module is that client: it reads one
 * JSON request per line on stdin and answers one JSON line per request on stdout.
 */
import { mainPath } from "../../bench/child_server.ts";

/** Log lines kept per node. */
const logLinesMax = 200_000;

/** The HTTP and peer ports every node uses on its own address. */
const httpPort = 7070;
const peerPort = 7071;

/** Runs a command; resolves to its exit code and output. Never throws for a non-zero exit. */
async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.code, output: text.trim() };
  } catch (error) {
    return { code: -1, output: (error as Error).message };
  }
}

/** Runs a command and throws with its output when it fails. */
async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.output}`);
}

function randomSuffix(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(7, "0");
}

/**
 * Why namespaced tests cannot run here (not root, no `ip` or `iptables`, `ip netns add`
 * refused), or undefined when they can. Leaves nothing behind.
 */
export async function netnsSkipReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid() !== 0) return "network namespaces need root";
  if ((await run("ip", ["-V"])).code !== 0) return "no `ip` binary (iproute2)";
  if ((await run("iptables", ["-V"])).code !== 0) return "no `iptables` binary";
  const probe = `rkvprobe-${randomSuffix()}`;
  const added = await run("ip", ["netns", "add", probe]);
  if (added.code !== 0) return `\`ip netns add\` failed: ${added.output}`;
  try {
    const listed = await run("ip", ["netns", "exec", probe, "iptables", "-S"]);
    if (listed.code !== 0) return `iptables does not work in a namespace: ${listed.output}`;
  } finally {
    await run("ip", ["netns", "del", probe]);
  }
  return undefined;
}

/** One node's namespace and its process. */
export interface NetnsNode {
  id: string;
  /** Namespace name. */
  ns: string;
  /** The node's own address. */
  ip: string;
  dataDir: string;
  /** Every stderr line of the current process (JSON log lines). */
  logs: string[];
  child: Deno.ChildProcess | undefined;
}

/** One request of the in-namespace HTTP client. */
interface ClientRequest {
  id: number;
  method: string;
  url: string;
  body?: string;
  timeoutMs: number;
}

/** Its answer; status 0 when there was no answer in time or the connection failed. */
export interface ClientResponse {
  id: number;
  status: number;
  body: string;
}

/** Options of {@link NetnsCluster.start}. */
export interface NetnsClusterOptions {
  /** Node ids. Default n1, n2, n3. */
  ids?: string[];
  /** Extra `serve` flags for every node. */
  extraArgs?: string[];
  /** Environment of every node. */
  env?: Record<string, string>;
  /** Longest wait for every node to listen. Default 60 s. */
  startTimeoutMs?: number;
}

/** A cluster in network namespaces; see the module comment. Close it in a finally. */
export class NetnsCluster {
  readonly nodes: NetnsNode[];
  readonly hub: string;
  readonly clientNs: string;
  #namespaces: string[] = [];
  #root = "";
  #client: Deno.ChildProcess | undefined;
  #clientWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #clientDone: Promise<void> | undefined;
  #waiting = new Map<number, (r: ClientResponse) => void>();
  #requestSeq = 0;
  #options: NetnsClusterOptions;
  #subnet: string;

  private constructor(options: NetnsClusterOptions) {
    this.#options = options;
    const suffix = randomSuffix();
    const random = crypto.getRandomValues(new Uint8Array(2));
    this.#subnet = `10.${200 + (random[0] % 50)}.${random[1]}`;
    this.hub = `rkv-${suffix}-hub`;
    this.clientNs = `rkv-${suffix}-cl`;
    this.nodes = (options.ids ?? ["n1", "n2", "n3"]).map((id, i) => ({
      id,
      ns: `rkv-${suffix}-${id}`,
      ip: `${this.#subnet}.${i + 1}`,
      dataDir: "",
      logs: [],
      child: undefined,
    }));
  }

  /**
   * Builds the namespaces and links, starts the client and every node, and waits until every
   * node listens. On failure everything made so far is removed before the error is thrown.
   */
  static async start(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    const cluster = new NetnsCluster(options);
    try {
      cluster.#root = await Deno.makeTempDir({ prefix: "ringkv_netns_" });
      await cluster.#buildNetwork();
      cluster.#startClient();
      await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.id)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** The base URL of node `id` (reachable from the client namespace only). */
  url(id: string): string {
    return `http://${this.node(id).ip}:${httpPort}`;
  }

  /** Node `id`; throws for an unknown id. */
  node(id: string): NetnsNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  async #addNamespace(name: string): Promise<void> {
    await must("ip", ["netns", "add", name]);
    this.#namespaces.push(name);
    await must("ip", ["-n", name, "link", "set", "lo", "up"]);
  }

  /** Hub with a bridge; per member a namespace whose eth0 is a veth to the bridge. */
  async #buildNetwork(): Promise<void> {
    await this.#addNamespace(this.hub);
    await must("ip", ["-n", this.hub, "link", "add", "br0", "type", "bridge"]);
    await must("ip", ["-n", this.hub, "link", "set", "br0", "up"]);
    const members = [
      ...this.nodes.map((n) => ({ ns: n.ns, ip: n.ip })),
      { ns: this.clientNs, ip: `${this.#subnet}.100` },
    ];
    for (const [i, m] of members.entries()) {
      await this.#addNamespace(m.ns);
      const port = `p${i}`;
      await must("ip", [
        "-n",
        this.hub,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        m.ns,
      ]);
      await must("ip", ["-n", this.hub, "link", "set", port, "master", "br0"]);
      await must("ip", ["-n", this.hub, "link", "set", port, "up"]);
      await must("ip", ["-n", m.ns, "addr", "add", `${m.ip}/24`, "dev", "eth0"]);
      await must("ip", ["-n", m.ns, "link", "set", "eth0", "up"]);
    }
  }

  /** Starts (or restarts) node `id` in its namespace and waits for its "listening" line. */
  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    if (node.child !== undefined) throw new Error(`${id} is already running`);
    node.dataDir = `${this.#root}/${id}`;
    const members = this.nodes.map((n) => `${n.id}=${n.ip}:${peerPort}`).join(",");
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        node.ns,
        Deno.execPath(),
        "run",
        "-A",
        mainPath,
        "serve",
        "--id",
        id,
        "--http",
        `${node.ip}:${httpPort}`,
        "--peer",
        `${node.ip}:${peerPort}`,
        "--cluster",
        members,
        "--data-dir",
        node.dataDir,
        ...(this.#options.extraArgs ?? []),
      ],
      env: this.#options.env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    node.child = child;
    node.logs = [];
    const logs = node.logs;
    (async () => {
      let buffered = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          if (logs.length >= logLinesMax) logs.shift();
          logs.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      }
    })().catch(() => {});
    const timeoutMs = this.#options.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    while (!logs.some((l) => l.includes('"listening"'))) {
      if (Date.now() > deadline) {
        throw new Error(`${id} did not listen within ${timeoutMs} ms:\n${logs.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILLs node `id` and waits for it to exit. */
  async killNode(id: string): Promise<void> {
    const node = this.node(id);
    const child = node.child;
    if (child === undefined) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    node.child = undefined;
  }

  /** Adds iptables rules in node `id`'s namespace dropping its traffic to and/or from `peer`. */
  async drop(id: string, peer: string, direction: "in" | "out" | "both"): Promise<void> {
    const ns = this.node(id).ns;
    const peerIp = this.node(peer).ip;
    if (direction !== "out") {
      await must("ip", [
        "netns",
        "exec",
        ns,
        "iptables",
        "-A",
        "INPUT",
        "-s",
        peerIp,
        "-j",
        "DROP",
      ]);
    }
    if (direction !== "in") {
      await must("ip", [
        "netns",
        "exec",
        ns,
        "iptables",
        "-A",
        "OUTPUT",
        "-d",
        peerIp,
        "-j",
        "DROP",
      ]);
    }
  }

  /** Removes every iptables rule of every node namespace. */
  async healAll(): Promise<void> {
    for (const node of this.nodes) await must("ip", ["netns", "exec", node.ns, "iptables", "-F"]);
  }

  #startClient(): void {
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        this.clientNs,
        Deno.execPath(),
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "client",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#client = child;
    this.#clientWriter = child.stdin.getWriter();
    this.#clientDone = (async () => {
      let buffered = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const response = JSON.parse(buffered.slice(0, nl)) as ClientResponse;
          buffered = buffered.slice(nl + 1);
          this.#waiting.get(response.id)?.(response);
          this.#waiting.delete(response.id);
        }
      }
    })().catch(() => {});
  }

  /** Sends one HTTP request from the client namespace; status 0 when nothing came back. */
  async request(
    method: string,
    url: string,
    options: { body?: string; timeoutMs?: number } = {},
  ): Promise<ClientResponse> {
    const writer = this.#clientWriter;
    if (writer === undefined) throw new Error("the client is not running");
    const timeoutMs = options.timeoutMs ?? 15_000;
    const request: ClientRequest = { id: ++this.#requestSeq, method, url, timeoutMs };
    if (options.body !== undefined) request.body = options.body;
    const { promise, resolve } = Promise.withResolvers<ClientResponse>();
    this.#waiting.set(request.id, resolve);
    // The client answers within timeoutMs; this guards against the client itself failing.
    const guard = setTimeout(() => {
      this.#waiting.delete(request.id);
      resolve({ id: request.id, status: 0, body: "" });
    }, timeoutMs + 5_000);
    await writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const response = await promise;
    clearTimeout(guard);
    return response;
  }

  /** Kills every process, deletes every namespace (veths, bridge and rules go with them) and the data. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.killNode(n.id)));
    if (this.#client !== undefined) {
      await this.#clientWriter?.close().catch(() => {});
      try {
        this.#client.kill("SIGKILL");
      } catch {
        // already exited
      }
      await this.#client.status;
      await this.#clientDone;
      this.#client = undefined;
    }
    const failures: string[] = [];
    for (const ns of this.#namespaces.reverse()) {
      const r = await run("ip", ["netns", "del", ns]);
      if (r.code !== 0) failures.push(`${ns}: ${r.output}`);
    }
    this.#namespaces = [];
    if (this.#root !== "") await Deno.remove(this.#root, { recursive: true }).catch(() => {});
    if (failures.length > 0) throw new Error(`could not delete namespaces: ${failures.join("; ")}`);
  }
}

/** The client loop: one JSON request per stdin line, one JSON answer per stdout line. */
async function clientMain(): Promise<void> {
  const encoder = new TextEncoder();
  const out = Deno.stdout.writable.getWriter();
  const answer = (r: ClientResponse) => out.write(encoder.encode(JSON.stringify(r) + "\n"));
  const serve = async (req: ClientRequest) => {
    try {
      const res = await fetch(req.url, {
        method: req.method,
        body: req.body,
        signal: AbortSignal.timeout(req.timeoutMs),
      });
      await answer({ id: req.id, status: res.status, body: await res.text() });
    } catch {
      await answer({ id: req.id, status: 0, body: "" });
    }
  };
  let buffered = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== "") serve(JSON.parse(line));
    }
  }
}

if (import.meta.main && Deno.args[0] === "client") await clientMain();
