/**
 * Builds a node's replicated service from its configuration: reads the cluster secret,
 * starts the Raft host (WAL, group store, transport, ticker) and wraps it in the service.
 */
import type { ClusterConfig, Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { type FaultInjector, secretBytesMin } from "../transport/mod.ts";
import { RaftHost } from "./raft_host.ts";
import type { RaftObserver } from "./raft_metrics.ts";
import { ReplicatedKvService } from "./replicated_service.ts";

/** The environment variable holding the cluster secret when no --secret-file is given. */
export const clusterSecretEnv = "RINGKV_CLUSTER_SECRET";

/**
 * The cluster secret: the --secret-file's content (one trailing newline dropped), else the
 * RINGKV_CLUSTER_SECRET variable. Throws when neither gives at least secretBytesMin bytes.
 */
export async function readClusterSecret(
  cluster: ClusterConfig,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<string> {
  let secret: string | undefined;
  let source: string;
  if (cluster.secretFile !== undefined) {
    source = `--secret-file ${cluster.secretFile}`;
    secret = (await Deno.readTextFile(cluster.secretFile)).replace(/\r?\n$/, "");
  } else {
    source = clusterSecretEnv;
    secret = (options.env ?? Deno.env.toObject())[clusterSecretEnv];
  }
  if (secret === undefined || new TextEncoder().encode(secret).byteLength < secretBytesMin) {
    throw new RangeError(
      `${source}: a cluster secret of at least ${secretBytesMin} bytes is required with --cluster`,
    );
  }
  return secret;
}

/** Options of {@link openReplicatedService}. */
export interface OpenReplicatedOptions {
  /** The cluster secret; required with config.cluster (a standalone node has no peers). */
  secret?: string;
  logger: Logger;
  /** Called once if the Raft group fails: the process should stop. */
  onFatal: (error: unknown) => void;
  /** Fault injection (tests only, --enable-fault-injection). Default none. */
  faults?: FaultInjector;
  /** Told of Raft, WAL, store and snapshot events, for metrics. Default none. */
  observer?: RaftObserver;
}

/**
 * Starts the Raft host of `config` and returns its service. Without `config.cluster` the node
 * is a cluster of one: the same Raft group, with no peer transport, whose WAL syncs as
 * --sync says; with it, a member whose WAL always syncs.
 */
export async function openReplicatedService(
  config: Config,
  options: OpenReplicatedOptions,
): Promise<ReplicatedKvService> {
  const cluster = config.cluster;
  const raft = config.raft;
  const host = await RaftHost.start({
    nodeId: config.id,
    members: cluster?.members ?? { [config.id]: "" },
    joining: cluster?.join !== undefined,
    peerListen: cluster && { hostname: cluster.peerHost, port: cluster.peerPort },
    secret: options.secret,
    walSync: { mode: config.sync, intervalMs: config.syncIntervalMs },
    diskBytesMax: config.diskBytesMax,
    dataDir: config.dataDir,
    storeOptions: {
      segmentBytesMax: config.segmentBytesMax,
      keyBytesMax: config.keyBytesMax,
      valueBytesMax: config.valueBytesMax,
      batchOpsMax: config.batchOpsMax,
      cacheBytesMax: config.cacheBytesMax,
      syncIntervalMs: config.syncIntervalMs,
    },
    timing: {
      tickMs: raft.tickMs,
      electionTicks: raft.electionTicks,
      heartbeatTicks: raft.heartbeatTicks,
      proposalTimeoutMs: raft.proposalTimeoutMs,
      readTimeoutMs: raft.proposalTimeoutMs,
    },
    logger: options.logger.child({ component: "raft" }),
    onFatal: options.onFatal,
    faults: options.faults,
    snapshotEntries: raft.snapshotEntries,
    observer: options.observer,
  });
  const service = new ReplicatedKvService(host);
  if (cluster?.join !== undefined) {
    // In the background: the node serves (503 until it has a leader) while it joins.
    service.membership.startJoin({
      url: cluster.join,
      peer: `${cluster.peerHost}:${cluster.peerPort}`,
      token: config.authTokens[0],
    });
  }
  return service;
}
