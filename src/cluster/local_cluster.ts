/**
 * `deno task cluster`: a local 3-node replicated cluster for development. Node i (1..3)
 * serves HTTP on 7070 + 100(i-1) and peers on 7071 + 100(i-1), keeps its data in
 * <data root>/n<i>, and its log lines are printed prefixed with its id. Ctrl-C (or SIGTERM)
 * stops every node gracefully. The cluster secret is RINGKV_CLUSTER_SECRET, or a random one
 * for this run when unset. Extra arguments are passed to every node's `serve`.
 *
 * ```sh
 * deno task cluster                       # data in ./data/cluster
 * deno task cluster --data-root /tmp/kv   # elsewhere (must come first)
 * ```
 */
import { clusterSecretEnv } from "./replicated_node.ts";

const mainPath = new URL("../../main.ts", import.meta.url).pathname;

/** The nodes of the local cluster: id, HTTP address and peer address. */
export const localNodes = [1, 2, 3].map((i) => ({
  id: `n${i}`,
  http: `127.0.0.1:${7070 + 100 * (i - 1)}`,
  peer: `127.0.0.1:${7071 + 100 * (i - 1)}`,
}));

async function pipePrefixed(stream: ReadableStream<Uint8Array>, prefix: string): Promise<void> {
  const encoder = new TextEncoder();
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      await Deno.stdout.write(encoder.encode(`${prefix} ${buffer.slice(0, newline)}\n`));
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer !== "") await Deno.stdout.write(encoder.encode(`${prefix} ${buffer}\n`));
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs the local cluster until a stop signal; resolves to the exit code. */
export async function runLocalCluster(args: string[]): Promise<number> {
  // A leading --data-root DIR is ours; everything else goes to every node's serve.
  const ours = args[0] === "--data-root" && args.length >= 2;
  const root = ours ? args[1] : "data/cluster";
  const extra = ours ? args.slice(2) : args;
  const members = localNodes.map((n) => `${n.id}=${n.peer}`).join(",");
  const secret = Deno.env.get(clusterSecretEnv) ?? randomSecret();
  const children = localNodes.map((n) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        mainPath,
        "serve",
        "--id",
        n.id,
        "--http",
        n.http,
        "--peer",
        n.peer,
        "--cluster",
        members,
        "--data-dir",
        `${root}/${n.id}`,
        ...extra,
      ],
      env: { [clusterSecretEnv]: secret },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const piped = Promise.all([
      pipePrefixed(child.stdout, `[${n.id}]`),
      pipePrefixed(child.stderr, `[${n.id}]`),
    ]);
    return { node: n, child, piped };
  });
  const urls = localNodes.map((n) => `http://${n.http}`).join(" ");
  await Deno.stdout.write(new TextEncoder().encode(`[cluster] nodes at ${urls}; Ctrl-C stops\n`));
  const exited = new Set<string>();
  const terminate = () => {
    for (const c of children) {
      if (exited.has(c.node.id)) continue;
      try {
        c.child.kill("SIGTERM");
      } catch { /* already exited */ }
    }
  };
  // Ctrl-C reaches the nodes too (same process group): a second signal would make them exit
  // at once, so the launcher only follows up on the ones still running after a grace period.
  let signalled = false;
  const onSignal = () => {
    if (signalled) return;
    signalled = true;
    setTimeout(terminate, 15_000);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, onSignal);
  // One node exiting on its own (a taken port, a failure) stops the others.
  for (const c of children) {
    void c.child.status.then(() => {
      exited.add(c.node.id);
      if (!signalled) {
        signalled = true;
        terminate();
      }
    });
  }
  const statuses = await Promise.all(children.map((c) => c.child.status));
  await Promise.all(children.map((c) => c.piped));
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, onSignal);
  return statuses.every((s) => s.success) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await runLocalCluster(Deno.args));
