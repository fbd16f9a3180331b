/**
 * The node-level Raft host: one shared WAL, one peer transport, one ticker, and the groups
 * this node hosts, keyed by group id (one group, id 1, for now). Peer messages are routed to
 * their group by the envelope's group id; one reserved id carries forwarded requests.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { createRaftNode, type Message, type NodeId, restartRaftNode } from "../raft/mod.ts";
import { open } from "../storage/mod.ts";
import type { StoreOptions } from "../storage/types.ts";
import { openWal, type Wal } from "../storage/wal/mod.ts";
import { PeerTransport } from "../transport/mod.ts";
import {
  Forwarder,
  forwardGroupId,
  type ForwardRequest,
  type ForwardResponse,
} from "./forwarding.ts";
import { decodeCommand } from "./command.ts";
import { GroupHost, isNotLeader } from "./group_host.ts";
import { RaftLogStore } from "./raft_log_store.ts";

/** The group every node hosts until sharding arrives. */
export const defaultGroupId = 1;

/** Raft timing and limits of a host. */
export interface RaftTiming {
  /** Period of one Raft tick. */
  tickMs: number;
  /** Ticks without a leader before a follower campaigns (randomized up to 2x). */
  electionTicks: number;
  /** Ticks between leader heartbeats; less than electionTicks. */
  heartbeatTicks: number;
  /** Longest wait for a write to be applied before its outcome is reported unknown. */
  proposalTimeoutMs: number;
  /** Longest wait for a read index and for the replica to apply it. */
  readTimeoutMs: number;
}

/** Options of {@link RaftHost.start}. */
export interface RaftHostOptions {
  nodeId: NodeId;
  /** Every voter of the initial cluster: id -> peer address host:port (this node included). */
  members: Record<NodeId, string>;
  /** Where the peer transport listens. */
  peerListen: { hostname: string; port: number };
  secret: string | Uint8Array;
  /** The node's data directory: wal/ and groups/<id>/ live in it. */
  dataDir: string;
  /** Options of each group's store (its sync mode is set here: the WAL is the durable record). */
  storeOptions: StoreOptions;
  timing: RaftTiming;
  logger: Logger;
  /** Called once if a group fails (WAL or store error): the process should stop. */
  onFatal: (error: unknown) => void;
}

function isRaftMessage(value: unknown, from: NodeId): value is Message {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.type === "string" && m.from === from && typeof m.to === "string" &&
    typeof m.term === "number";
}

/** A running host; see the module comment. */
export class RaftHost {
  readonly nodeId: NodeId;
  readonly timing: RaftTiming;
  #wal: Wal;
  #groups = new Map<number, GroupHost>();
  #transport: PeerTransport | undefined;
  #forwarder: Forwarder;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #logger: Logger;
  #closing: Promise<void> | undefined;

  private constructor(options: RaftHostOptions, wal: Wal) {
    this.nodeId = options.nodeId;
    this.timing = options.timing;
    this.#wal = wal;
    this.#logger = options.logger;
    this.#forwarder = new Forwarder({
      send: (to, message) =>
        this.#transport?.send(to, { groupId: forwardGroupId, message }) ?? false,
      serve: (from, request) => this.#serveForwarded(from, request),
    });
  }

  /**
   * Opens the WAL and group 1's store, bootstraps the group on first start (or restarts it
   * from the WAL), and starts the transport and the ticker. Throws if a directory is locked,
   * the peer port is taken, or `members` does not name this node.
   */
  static async start(options: RaftHostOptions): Promise<RaftHost> {
    if (options.members[options.nodeId] === undefined) {
      throw new RangeError(`--cluster does not name this node (${options.nodeId})`);
    }
    const wal = await openWal(join(options.dataDir, "wal"), {
      logger: options.logger.child({ component: "wal" }),
    });
    const host = new RaftHost(options, wal);
    try {
      await host.#openGroup(defaultGroupId, options);
      host.#transport = await PeerTransport.start({
        nodeId: options.nodeId,
        secret: options.secret,
        listen: options.peerListen,
        peers: Object.fromEntries(
          Object.entries(options.members).filter(([id]) => id !== options.nodeId),
        ),
        onMessage: (from, envelope) => host.#onEnvelope(from, envelope),
        logger: options.logger.child({ component: "transport" }),
      });
    } catch (error) {
      await host.close();
      throw error;
    }
    host.#ticker = setInterval(() => {
      for (const group of host.#groups.values()) group.tick();
    }, options.timing.tickMs);
    return host;
  }

  /** The host of group `groupId`; throws if this node does not host it. */
  group(groupId: number = defaultGroupId): GroupHost {
    const group = this.#groups.get(groupId);
    if (group === undefined) throw new RangeError(`this node does not host group ${groupId}`);
    return group;
  }

  /** The peer transport's actual listen address. */
  get peerAddr(): { hostname: string; port: number } | undefined {
    return this.#transport?.addr;
  }

  /** Sends `request` to `to` over the peer transport; undefined when no answer came in time. */
  forward(
    to: NodeId,
    request: ForwardRequest,
    timeoutMs: number,
  ): Promise<ForwardResponse | undefined> {
    return this.#forwarder.request(to, request, timeoutMs);
  }

  /** Stops ticking, the groups (rejecting waiters), the transport, then closes stores and WAL. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    clearInterval(this.#ticker);
    this.#forwarder.close();
    for (const group of this.#groups.values()) await group.close();
    await this.#transport?.close();
    for (const group of this.#groups.values()) await group.store.close();
    await this.#wal.close();
  }

  async #openGroup(groupId: number, options: RaftHostOptions): Promise<void> {
    const logStore = new RaftLogStore(this.#wal, groupId);
    const store = await open(join(options.dataDir, "groups", String(groupId)), {
      ...options.storeOptions,
      // The shared WAL is the durable record: the store syncs in the background only.
      sync: "interval",
      diskBytesMax: 0, // a quota could refuse an entry on one replica only: replicas diverge
      logger: options.logger.child({ component: "storage", group: groupId }),
    });
    const t = options.timing;
    const config = {
      id: options.nodeId,
      peers: Object.keys(options.members),
      electionTicks: t.electionTicks,
      heartbeatTicks: t.heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      randomSeed: (Date.now() ^ (Math.random() * 0x7fff_ffff)) >>> 0,
    };
    const restarting = logStore.hasState();
    // A node with durable state never bootstraps again: its membership is in its log.
    const node = restarting ? restartRaftNode(config, logStore) : createRaftNode(config, logStore);
    this.#logger.info(restarting ? "raft group restarted" : "raft group bootstrapped", {
      group: groupId,
      last_index: logStore.lastIndex(),
      store_seq: store.stats().lastSeq,
      voters: node.status().conf.voters,
    });
    this.#groups.set(
      groupId,
      new GroupHost({
        groupId,
        node,
        logStore,
        store,
        send: (to, message) => this.#transport?.send(to, { groupId, message }),
        logger: this.#logger,
        proposalTimeoutMs: t.proposalTimeoutMs,
        readTimeoutMs: t.readTimeoutMs,
        onFatal: options.onFatal,
        // Forwards waiting on a leader that was replaced cannot be answered by it any more.
        onLeaderChange: (_leader, previous) => {
          if (previous !== null) this.#forwarder.abandon(previous);
        },
      }),
    );
  }

  #onEnvelope(from: NodeId, envelope: { groupId: number; message: unknown }): void {
    if (envelope.groupId === forwardGroupId) {
      this.#forwarder.onMessage(from, envelope.message);
      return;
    }
    const group = this.#groups.get(envelope.groupId);
    if (group === undefined) return; // not hosted here (yet)
    if (!isRaftMessage(envelope.message, from)) {
      this.#logger.warn("dropped a malformed raft message", { from, group: envelope.groupId });
      return;
    }
    group.step(envelope.message);
  }

  async #serveForwarded(_from: NodeId, request: ForwardRequest): Promise<ForwardResponse> {
    const group = this.#groups.get(request.group);
    if (group === undefined) {
      return { ok: false, code: "no_leader", message: `group ${request.group} is not here` };
    }
    if (!group.isLeader) {
      return { ok: false, code: "not_leader", message: "not the leader", leader: group.leader };
    }
    try {
      if (request.op === "read-index") return { ok: true, index: await group.readIndex() };
      return { ok: true, result: await group.propose(decodeCommand(request.command)) };
    } catch (error) {
      if (!isNotLeader(error)) throw error;
      return { ok: false, code: "not_leader", message: error.message, leader: error.leader };
    }
  }
}
