/**
 * A 3-member etcd cluster on loopback, the peer ringkv's replicated benchmarks are measured
 * against: the etcd executable of Debian's etcd-server package (3.4), free ports, a temp data
 * directory per member, durable defaults (etcd fsyncs its WAL before acknowledging).
 *
 *   deno run -A bench/etcd_cluster.ts                  # start, print the URLs, stop on Ctrl-C
 *   deno run -A bench/etcd_cluster.ts --load -- --duration 5s --read-ratio 0 --connections 63
 *                                                      # start, run bench/load.ts against it, stop
 *
 * See bench/etcd_cluster.md. Import {@link startEtcdCluster} to drive it from code.
 */
import { parseArgs } from "node:util";
import { formatReport, parseLoadArgs, runLoad, validateLoadOptions } from "./load.ts";
import { freePorts } from "./child_server.ts";

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** The etcd executable. Default: $ETCD_BIN, else `etcd` found on PATH. */
  etcdPath?: string;
  /** Members, 1..7. Default 3. */
  members?: number;
  /** Longest wait for every member to report a healthy cluster. Default 30 s. */
  startTimeoutMs?: number;
  /** etcd's log level (debug, info, warn, error). Default "warn". */
  logLevel?: string;
}

/** One running etcd member. */
export interface EtcdMember {
  name: string;
  /** Base URL of its client API and v3 JSON gateway, e.g. http://127.0.0.1:40123. */
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  pid: number;
}

/** A running etcd cluster. */
export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL, in member order. */
  clientUrls: string[];
  /** The server version every member reported, e.g. "3.4.23". */
  version: string;
  /** The temp directory holding every member's data; removed by stop(). */
  baseDir: string;
  /** The last log lines of every member (at most 200 each), for error messages. */
  logs: Map<string, string[]>;
  /**
   * Stops every member (SIGTERM, SIGKILL after `killAfterMs`, default 5 s), waits for each
   * to exit, and removes the data directory. Idempotent.
   */
  stop(options?: { killAfterMs?: number }): Promise<void>;
}

/** Limits of {@link startEtcdCluster}. */
export const etcdClusterLimits = { membersMax: 7, startTimeoutMsMax: 300_000, logLinesMax: 200 };

const pollIntervalMs = 100;

/** Finds the etcd executable: `explicit`, else $ETCD_BIN, else PATH; undefined when absent. */
export function findEtcd(explicit?: string): string | undefined {
  const candidates = explicit !== undefined ? [explicit] : [
    Deno.env.get("ETCD_BIN"),
    ...(Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "").map((dir) =>
      `${dir}/etcd`
    ),
  ];
  for (const path of candidates) {
    if (path === undefined) continue;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not there: try the next one
    }
  }
  return undefined;
}

interface Spawned {
  member: EtcdMember;
  child: Deno.ChildProcess;
  drained: Promise<void>;
}

function spawnMember(
  etcdPath: string,
  member: EtcdMember,
  options: { initialCluster: string; token: string; logLevel: string; log: string[] },
): Spawned {
  const child = new Deno.Command(etcdPath, {
    args: [
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=${member.clientUrl}`,
      `--advertise-client-urls=${member.clientUrl}`,
      `--listen-peer-urls=${member.peerUrl}`,
      `--initial-advertise-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${options.initialCluster}`,
      `--initial-cluster-token=${options.token}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-outputs=stderr",
      `--log-level=${options.logLevel}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Read stderr to its end: a full pipe would block the member.
  const drained = (async () => {
    let buffered = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        if (options.log.length >= etcdClusterLimits.logLinesMax) options.log.shift();
        options.log.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
  })();
  return { member: { ...member, pid: child.pid }, child, drained };
}

async function stopMember(spawned: Spawned, killAfterMs: number): Promise<void> {
  const kill = (signal: Deno.Signal) => {
    try {
      spawned.child.kill(signal);
    } catch {
      // already exited
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), killAfterMs);
  try {
    await spawned.child.status;
  } finally {
    clearTimeout(timer);
  }
  await spawned.drained;
}

/** True when the member at `clientUrl` reports a healthy cluster (it sees a leader). */
async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = await response.text();
    return response.ok && /"health"\s*:\s*"true"/.test(body);
  } catch {
    return false;
  }
}

/** The server version a member reports at /version. */
async function serverVersion(clientUrl: string): Promise<string> {
  const response = await fetch(`${clientUrl}/version`, { signal: AbortSignal.timeout(2_000) });
  const doc = await response.json() as { etcdserver?: string };
  if (typeof doc.etcdserver !== "string") throw new Error(`no version at ${clientUrl}/version`);
  return doc.etcdserver;
}

async function waitHealthy(
  spawned: Spawned[],
  deadlineMs: number,
): Promise<void> {
  const exited = new Set<string>();
  for (const s of spawned) s.child.status.then(() => exited.add(s.member.name));
  while (performance.now() < deadlineMs) {
    if (exited.size > 0) throw new Error(`etcd member exited early: ${[...exited].join(", ")}`);
    const states = await Promise.all(spawned.map((s) => healthy(s.member.clientUrl)));
    if (states.every((ok) => ok)) return;
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
  throw new Error("etcd cluster not healthy in time");
}

/**
 * Starts an etcd cluster on loopback and resolves once every member reports it healthy.
 * Throws when etcd is missing, a member exits, or the cluster is not healthy in time; the
 * members started so far are stopped and the temp directory removed before it throws.
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!Number.isInteger(count) || count < 1 || count > etcdClusterLimits.membersMax) {
    throw new RangeError(`members must be 1..${etcdClusterLimits.membersMax}`);
  }
  if (!(startTimeoutMs > 0 && startTimeoutMs <= etcdClusterLimits.startTimeoutMsMax)) {
    throw new RangeError(`startTimeoutMs must be 1..${etcdClusterLimits.startTimeoutMsMax}`);
  }
  const etcdPath = findEtcd(options.etcdPath);
  if (etcdPath === undefined) {
    throw new Error("etcd not found: install Debian's etcd-server or set ETCD_BIN");
  }
  const baseDir = await Deno.makeTempDir({ prefix: "ringkv-etcd-" });
  const ports = freePorts(2 * count);
  const members: EtcdMember[] = Array.from({ length: count }, (_, i) => ({
    name: `e${i + 1}`,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: `${baseDir}/e${i + 1}`,
    pid: 0,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const token = `ringkv-bench-${crypto.randomUUID()}`;
  const logs = new Map<string, string[]>();
  const spawned = members.map((member) => {
    const log: string[] = [];
    logs.set(member.name, log);
    return spawnMember(etcdPath, member, {
      initialCluster,
      token,
      logLevel: options.logLevel ?? "warn",
      log,
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (stopOptions: { killAfterMs?: number } = {}) => {
    stopping ??= (async () => {
      // One at a time: members stopped together wait on each other's leadership transfer.
      for (const s of spawned) await stopMember(s, stopOptions.killAfterMs ?? 5_000);
      await Deno.remove(baseDir, { recursive: true });
    })();
    return stopping;
  };
  try {
    await waitHealthy(spawned, performance.now() + startTimeoutMs);
    const versions = await Promise.all(members.map((m) => serverVersion(m.clientUrl)));
    if (new Set(versions).size !== 1) throw new Error(`mixed versions: ${versions.join(", ")}`);
    const running = spawned.map((s) => s.member);
    return {
      members: running,
      clientUrls: running.map((m) => m.clientUrl),
      version: versions[0],
      baseDir,
      logs,
      stop,
    };
  } catch (error) {
    await stop({ killAfterMs: 1_000 });
    const tail = [...logs].map(([name, lines]) => `${name}: ${lines.slice(-5).join("\n")}`);
    throw new Error(`${(error as Error).message}\n${tail.join("\n")}`, { cause: error });
  }
}

const usage = `usage: deno run -A bench/etcd_cluster.ts [flags] [--load -- LOAD_FLAGS]

Starts an etcd cluster on loopback (free ports, temp data dirs), then either waits for
Ctrl-C (printing the --url to give bench/load.ts --target etcd), or with --load runs
bench/load.ts against it (LOAD_FLAGS as for \`deno task load\`; --url and --target are set)
and stops it. The data dirs are removed on exit.

  --members N      members (default 3)
  --etcd PATH      etcd executable (default $ETCD_BIN, else etcd on PATH)
  --log-level L    etcd's log level (default warn)
  --load           run the load generator, then stop
`;

function writeStderr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}

async function untilSignal(): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      Deno.removeSignalListener("SIGINT", done);
      Deno.removeSignalListener("SIGTERM", done);
      resolve();
    };
    Deno.addSignalListener("SIGINT", done);
    Deno.addSignalListener("SIGTERM", done);
  });
}

async function main(args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const own = split >= 0 ? args.slice(0, split) : args;
  const loadArgs = split >= 0 ? args.slice(split + 1) : [];
  const { values } = parseArgs({
    args: own,
    strict: true,
    options: {
      members: { type: "string" },
      etcd: { type: "string" },
      "log-level": { type: "string" },
      load: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    writeStderr(usage);
    return 0;
  }
  const cluster = await startEtcdCluster({
    members: values.members === undefined ? 3 : Number(values.members),
    etcdPath: values.etcd,
    logLevel: values["log-level"],
  });
  try {
    const urls = cluster.clientUrls.join(",");
    writeStderr(`etcd ${cluster.version}: ${cluster.members.length} members at ${urls}\n`);
    if (!values.load) {
      writeStderr(`load it with: deno task load --target etcd --url ${urls}\nCtrl-C stops it.\n`);
      await untilSignal();
      return 0;
    }
    const { options } = parseLoadArgs([...loadArgs, "--target", "etcd", "--url", urls]);
    validateLoadOptions(options);
    const report = await runLoad(options);
    await Deno.stdout.write(
      new TextEncoder().encode(`peer: etcd ${cluster.version}\n${formatReport(report)}`),
    );
    return report.ops > 0 && report.errors < report.ops ? 0 : 1;
  } finally {
    await cluster.stop();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
