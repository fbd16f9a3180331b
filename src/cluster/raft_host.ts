/**
 * The node-level Raft host: one shared WAL, one peer transport, one ticker, and the groups
 * this node hosts, keyed by group id (one group, id 1, for now). Peer messages are routed to
 * their group by the envelope's group id; one reserved id carries forwarded requests.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import {
  type ConfChange,
  createRaftNode,
  type Message,
  type NodeId,
  restartRaftNode,
} from "../raft/mod.ts";
import { open } from "../storage/mod.ts";
import type { Store, StoreOptions } from "../storage/types.ts";
import { openWal, type Wal } from "../storage/wal/mod.ts";
import { type FaultInjector, PeerTransport, type TransportStats } from "../transport/mod.ts";
import {
  Forwarder,
  forwardGroupId,
  type ForwardRequest,
  type ForwardResponse,
} from "./forwarding.ts";
import { decodeCommand } from "./command.ts";
import { GroupHost, isNotLeader, leaseMsOf } from "./group_host.ts";
import { decodeMemberContext, encodeMemberContext } from "./member_context.ts";
import { GroupSnapshots, type SnapshotObserver } from "./group_snapshots.ts";
import { RaftLogStore } from "./raft_log_store.ts";
import type { RaftObserver } from "./raft_metrics.ts";
import { GroupDirs, recoverGroupDirs, type SnapshotMeta } from "./snapshot_files.ts";
import { snapshotGroupId, SnapshotTransfer } from "./snapshot_transfer.ts";
import { adoptTopLevelStore } from "./standalone_layout.ts";

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
  /**
   * Every voter of the initial cluster: id -> peer address host:port (this node included).
   * Empty for a joining node; ignored once the node has durable state (its log holds them).
   */
  members: Record<NodeId, string>;
  /** A new node that waits to be added by the cluster instead of bootstrapping one. */
  joining?: boolean;
  /**
   * Where the peer transport listens. Absent: a standalone node, a cluster of one that runs
   * no transport (it has no peers to talk to) and needs no secret.
   */
  peerListen?: { hostname: string; port: number };
  /** The cluster secret peers prove in the handshake; required with peerListen. */
  secret?: string | Uint8Array;
  /**
   * When a WAL append counts as durable (see WalOptions.sync). Anything but "always" only for
   * a standalone node. Default "always".
   */
  walSync?: { mode: "always" | "interval" | "none"; intervalMs: number };
  /** Writes are refused ("quota_exceeded") once a group's store holds this many bytes; 0 = none. */
  diskBytesMax?: number;
  /** The node's data directory: wal/ and groups/<id>/ live in it. */
  dataDir: string;
  /** Options of each group's store (its sync mode is set here: the WAL is the durable record). */
  storeOptions: StoreOptions;
  timing: RaftTiming;
  logger: Logger;
  /** Called once if a group fails (WAL or store error): the process should stop. */
  onFatal: (error: unknown) => void;
  /** Fault injection (tests only): peer traffic faults and fsync delays. Default none. */
  faults?: FaultInjector;
  /** A snapshot is taken (and the log compacted) every this many applied entries. Default 10000. */
  snapshotEntries?: number;
  /** Told of snapshot work, for metrics. Default: `observer`. */
  snapshotObserver?: SnapshotObserver;
  /** Told of leader changes, commits, WAL appends and fsyncs, for metrics. Default none. */
  observer?: RaftObserver;
}

/** WAL entry data a standalone node keeps in memory (the core reads back only its newest). */
const standaloneWalCacheBytes = 1024 * 1024;

/** Default of RaftHostOptions.snapshotEntries. */
export const snapshotEntriesDefault = 10_000;

function isRaftMessage(value: unknown, from: NodeId): value is Message {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.type === "string" && m.from === from && typeof m.to === "string" &&
    typeof m.term === "number";
}

/** How long a removed peer stays connected, so the removal notice can reach it. */
const removedPeerGraceMs = 2000;

/** Serves the membership calls other nodes forward here (set by the Membership). */
export type MembershipServer = (
  from: NodeId,
  request: Extract<ForwardRequest, { op: "membership" }>,
) => Promise<ForwardResponse>;

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
  /** Peer addresses of the members, as the applied log (or --cluster, or a join answer) says. */
  #addresses = new Map<NodeId, string>();
  #removeTimers = new Map<NodeId, ReturnType<typeof setTimeout>>();
  #removedAt: number | undefined;
  #membershipServer: MembershipServer | undefined;
  /** performance.now() when each peer's last message arrived. */
  #heardAtMs = new Map<NodeId, number>();
  #dataDir: string;
  #standalone: boolean;
  #snapshotTransfer: SnapshotTransfer;

  private constructor(options: RaftHostOptions, wal: Wal) {
    this.nodeId = options.nodeId;
    this.timing = options.timing;
    this.#wal = wal;
    this.#logger = options.logger;
    for (const [id, addr] of Object.entries(options.members)) {
      if (addr !== "") this.#addresses.set(id, addr); // "": a standalone node has no peer port
    }
    this.#forwarder = new Forwarder({
      send: (to, message, sendOptions) =>
        this.#transport?.send(to, { groupId: forwardGroupId, message }, sendOptions) ?? false,
      serve: (from, request) => this.#serveForwarded(from, request),
    });
    this.#dataDir = options.dataDir;
    this.#standalone = options.peerListen === undefined;
    this.#snapshotTransfer = new SnapshotTransfer({
      send: (to, message) =>
        this.#transport?.send(to, { groupId: snapshotGroupId, message }) ?? false,
      dirsOf: (group) => this.#groups.has(group) ? new GroupDirs(this.#dataDir, group) : undefined,
      logger: options.logger.child({ component: "snapshot" }),
    });
  }

  /**
   * Opens the WAL and group 1's store, bootstraps the group on first start (or, when
   * `joining`, creates it empty to be added by the cluster; or restarts it from the WAL), and
   * starts the transport and the ticker. Throws if a directory is locked, the peer port is
   * taken, or `members` does not name this node (unless joining).
   */
  static async start(options: RaftHostOptions): Promise<RaftHost> {
    if (!options.joining && options.members[options.nodeId] === undefined) {
      throw new RangeError(`--cluster does not name this node (${options.nodeId})`);
    }
    const walSync = options.walSync ?? { mode: "always", intervalMs: 100 };
    if (options.peerListen !== undefined) {
      if (options.secret === undefined) throw new RangeError("a peer transport needs a secret");
      if (walSync.mode !== "always") {
        throw new RangeError("a cluster member acknowledges only synced writes: WAL sync always");
      }
    }
    const faults = options.faults;
    const wal = await openWal(join(options.dataDir, "wal"), {
      sync: walSync.mode,
      syncIntervalMs: walSync.intervalMs,
      // Entry data is kept for followers that lag; alone, nobody reads it back.
      ...(options.peerListen === undefined ? { cacheBytesMax: standaloneWalCacheBytes } : {}),
      logger: options.logger.child({ component: "wal" }),
      beforeSync: faults === undefined ? undefined : () => faults.beforeSync(),
      observer: options.observer?.wal,
    });
    const host = new RaftHost(options, wal);
    try {
      await host.#openGroup(defaultGroupId, options);
      if (options.peerListen === undefined) {
        host.#checkAlone();
        // Alone: no election timeout to wait for, and nobody else could win one.
        for (const group of host.#groups.values()) group.campaignIfAlone();
        return host.#startTicker(options.timing.tickMs);
      }
      host.#transport = await PeerTransport.start({
        nodeId: options.nodeId,
        secret: options.secret!,
        listen: options.peerListen,
        // What the log replayed so far says (the rest arrives through setPeer as it applies).
        peers: host.peers(),
        onMessage: (from, envelope) => host.#onEnvelope(from, envelope),
        logger: options.logger.child({ component: "transport" }),
        faults: options.faults,
      });
      // Membership replayed while the transport was starting reached no transport: add it now.
      for (const [id, addr] of Object.entries(host.peers())) host.#transport.setPeer(id, addr);
    } catch (error) {
      await host.close();
      throw error;
    }
    return host.#startTicker(options.timing.tickMs);
  }

  #startTicker(tickMs: number): RaftHost {
    this.#ticker = setInterval(() => {
      for (const group of this.#groups.values()) {
        if (this.#removedAt === undefined) group.tick();
        else group.expireProposals(); // a removed node stays silent, its waiters still end
      }
    }, tickMs);
    return this;
  }

  /**
   * A node started without --cluster must be its group's only member: one whose log names
   * others could never reach them, so it would wait for a leader forever.
   */
  #checkAlone(): void {
    for (const group of this.#groups.values()) {
      const { voters, learners } = group.status().conf;
      const others = [...voters, ...learners].filter((id) => id !== this.nodeId);
      if (others.length > 0) {
        throw new Error(
          `this data directory belongs to a cluster (its log names ${others.join(", ")} as ` +
            `members): start the node with --peer and --cluster as before`,
        );
      }
    }
  }

  /** True when this node runs no peer transport: a cluster of one that cannot grow as it is. */
  get standalone(): boolean {
    return this.#standalone;
  }

  /** The host of group `groupId`; throws if this node does not host it. */
  group(groupId: number = defaultGroupId): GroupHost {
    const group = this.#groups.get(groupId);
    if (group === undefined) throw new RangeError(`this node does not host group ${groupId}`);
    return group;
  }

  /** The groups this node hosts (read by metrics at scrape time). */
  groupHosts(): IterableIterator<GroupHost> {
    return this.#groups.values();
  }

  /** The peer transport's counters; undefined before it started. */
  transportStats(): TransportStats | undefined {
    return this.#transport?.stats();
  }

  /** The peer transport's actual listen address. */
  get peerAddr(): { hostname: string; port: number } | undefined {
    return this.#transport?.addr;
  }

  /** The host's logger. */
  get logger(): Logger {
    return this.#logger;
  }

  /** Peer addresses of the other members this node knows of (id -> host:port). */
  peers(): Record<NodeId, string> {
    const peers: Record<NodeId, string> = {};
    for (const [id, addr] of this.#addresses) if (id !== this.nodeId) peers[id] = addr;
    return peers;
  }

  /** Milliseconds since a message from peer `id` last arrived; null when none did. */
  peerContactAgoMs(id: NodeId): number | null {
    const at = this.#heardAtMs.get(id);
    return at === undefined ? null : performance.now() - at;
  }

  /** The peer address of member `id` (this node included), if known. */
  peerAddress(id: NodeId): string | undefined {
    return this.#addresses.get(id);
  }

  /**
   * Learns peer addresses from outside the log (a join answer), so a new node accepts the
   * leader's connection before its log names anyone. The log's own entries win later.
   */
  learnPeers(peers: Record<NodeId, string>): void {
    for (const [id, addr] of Object.entries(peers)) {
      if (id === this.nodeId || this.#addresses.get(id) === addr) continue;
      this.#addresses.set(id, addr);
      this.#transport?.setPeer(id, addr);
    }
  }

  /** True once this node learned that it was removed from the cluster. */
  get removed(): boolean {
    return this.#removedAt !== undefined;
  }

  /** Routes forwarded membership calls to `server`. */
  serveMembership(server: MembershipServer): void {
    this.#membershipServer = server;
  }

  /**
   * Stops this node taking part after another member told it (over the authenticated peer
   * transport) that the entry at `index` removed it: it no longer ticks or steps messages,
   * so it never campaigns. Ignored when this node's applied log re-added it after `index`.
   */
  retire(index: number, by: NodeId): void {
    if (this.#removedAt !== undefined) return;
    if (this.#addedAt > index) return; // a stale notice of an earlier removal
    this.#removedAt = index;
    // Once the answer to the notice is out, leave the peers alone: they forget this node
    // and would refuse its connections anyway.
    this.#removeTimers.set(
      this.nodeId,
      setTimeout(() => {
        this.#transport?.close().catch((error) => {
          this.#logger.warn("closing the peer transport failed", { error });
        });
      }, removedPeerGraceMs),
    );
    this.#logger.error(
      "this node was removed from the cluster; it no longer takes part. Stop it, and to " +
        "bring it back delete its data directory and start it with --join",
      { removed_at_index: index, told_by: by },
    );
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
    for (const timer of this.#removeTimers.values()) clearTimeout(timer);
    this.#forwarder.close();
    this.#snapshotTransfer.close();
    for (const snaps of this.#snapshots.values()) await snaps.close();
    for (const group of this.#groups.values()) await group.close();
    await this.#transport?.close();
    for (const group of this.#groups.values()) await group.store.close();
    await this.#wal.close();
  }

  async #openGroup(groupId: number, options: RaftHostOptions): Promise<void> {
    const dirs = new GroupDirs(options.dataDir, groupId);
    if (groupId === defaultGroupId) {
      await adoptTopLevelStore(options.dataDir, dirs, {
        standalone: this.#standalone,
        logger: this.#logger,
      });
    }
    const recovered = await recoverGroupDirs(dirs);
    if (recovered.length > 0) {
      this.#logger.info("finished interrupted snapshot work", { recovered });
    }
    const openStore = () =>
      open(dirs.store, {
        ...options.storeOptions,
        // The shared WAL is the durable record: the store syncs in the background only.
        sync: "interval",
        // The quota is checked when a write is proposed: applying must never refuse an entry.
        diskBytesMax: 0,
        logger: options.logger.child({ component: "storage", group: groupId }),
        beforeSync: options.faults === undefined ? undefined : () => options.faults!.beforeSync(),
        observer: options.observer?.store,
      });
    const store = await openStore();
    const snapshots = new GroupSnapshots({
      nodeId: options.nodeId,
      dirs,
      wal: this.#wal,
      transfer: this.#snapshotTransfer,
      logger: this.#logger.child({ component: "snapshot", group: groupId }),
      entriesPerSnapshot: options.snapshotEntries ?? snapshotEntriesDefault,
      observer: options.snapshotObserver ?? options.observer,
      addresses: () => Object.fromEntries(this.#addresses),
      onInstalled: (meta) => this.#onSnapshotInstalled(groupId, meta),
    });
    this.#snapshots.set(groupId, snapshots);
    await this.#finishSnapshotInstall(groupId, snapshots);
    await this.#catchUpLogToStore(groupId, store, snapshots);
    for (const [id, addr] of Object.entries(snapshots.latest?.addresses ?? {})) {
      if (!this.#addresses.has(id)) this.#addresses.set(id, addr);
    }
    const logStore = new RaftLogStore(this.#wal, groupId, snapshots);
    const t = options.timing;
    const config = {
      id: options.nodeId,
      peers: options.joining ? [] : Object.keys(options.members),
      // Each founding member's address rides in its bootstrap entry, so joiners learn it.
      peerContexts: Object.fromEntries(
        Object.entries(options.members).filter(([, peer]) => peer !== "")
          .map(([id, peer]) => [id, encodeMemberContext({ peer })]),
      ),
      electionTicks: t.electionTicks,
      heartbeatTicks: t.heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      randomSeed: (Date.now() ^ (Math.random() * 0x7fff_ffff)) >>> 0,
    };
    const restarting = logStore.hasState();
    // A node with durable state never bootstraps again: its membership is in its log.
    const node = restarting ? restartRaftNode(config, logStore) : createRaftNode(config, logStore);
    const started = restarting
      ? "raft group restarted"
      : options.joining
      ? "raft group created empty; waiting to be added to the cluster"
      : "raft group bootstrapped";
    this.#logger.info(started, {
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
        diskBytesMax: options.diskBytesMax,
        leaseMs: leaseMsOf(t),
        onFatal: options.onFatal,
        // Forwards waiting on a leader that was replaced cannot be answered by it any more.
        onLeaderChange: (leader, previous) => {
          if (leader !== null) options.observer?.leaderChanged(groupId);
          if (previous !== null) this.#forwarder.abandon(previous);
        },
        observer: options.observer,
        onConfChange: (change, index) => this.#onConfChange(groupId, change, index),
        snapshots,
        reopenStore: openStore,
        restartNode: () => restartRaftNode(config, logStore),
      }),
    );
  }

  #snapshots = new Map<number, GroupSnapshots>();

  /**
   * A crash between a received snapshot replacing the store and the WAL recording it leaves
   * the WAL's log behind the store: record the snapshot now (Raft's rule keeps a matching
   * suffix), so the log and the store agree before the core starts.
   */
  async #finishSnapshotInstall(groupId: number, snapshots: GroupSnapshots): Promise<void> {
    const latest = snapshots.latest;
    const mark = this.#wal.snapshotMark(groupId);
    if (latest === undefined || latest.index <= mark.index) return;
    let matches = false;
    try {
      matches = latest.index <= this.#wal.lastIndex(groupId) &&
        this.#wal.term(groupId, latest.index) === latest.term;
    } catch { /* compacted or missing: does not match */ }
    if (matches) return;
    await this.#wal.markSnapshot(groupId, latest.index, latest.term);
    this.#logger.info("recorded a snapshot installed before a crash", {
      group: groupId,
      index: latest.index,
    });
  }

  /**
   * A standalone node whose WAL was not synced ("interval" or "none") can lose the WAL's tail
   * in a power loss while the store kept more (the kernel writes files back in any order).
   * The store is then the truth: its state becomes a snapshot the log continues after, so no
   * new entry reuses an index the store already holds (and is skipped as applied).
   */
  async #catchUpLogToStore(groupId: number, store: Store, snapshots: GroupSnapshots) {
    const storeSeq = store.stats().lastSeq;
    const walLast = this.#wal.lastIndex(groupId);
    if (storeSeq <= walLast) return;
    if (!this.#standalone) {
      throw new Error(
        `group ${groupId}: the store holds entries up to ${storeSeq} but the WAL ends at ` +
          `${walLast}; a cluster member's WAL is always synced, so this data directory was ` +
          `damaged: delete it and add the node back with --join`,
      );
    }
    const hs = this.#wal.hardState(groupId);
    const mark = this.#wal.snapshotMark(groupId);
    const lastTerm = walLast > mark.index ? this.#wal.term(groupId, walLast) : mark.term;
    const term = Math.max(hs.term, lastTerm, 1);
    this.#logger.warn(
      "the WAL ends before the store (an unsynced tail lost in a crash); " +
        "continuing from the store's state",
      { group: groupId, wal_last: walLast, store_seq: storeSeq },
    );
    await snapshots.take(store, {
      index: storeSeq,
      term,
      conf: { voters: [this.nodeId], learners: [] },
    });
    await snapshots.settled();
    if (snapshots.metaAt(storeSeq) === undefined) {
      throw new Error(`group ${groupId}: could not snapshot the store at ${storeSeq}; see the log`);
    }
    await this.#wal.append(groupId, {
      snapshot: { index: storeSeq, term },
      hardState: { term, vote: hs.vote, commit: storeSeq },
    });
  }

  /** The membership jumped to a received snapshot's: learn the addresses it carries. */
  #onSnapshotInstalled(groupId: number, meta: SnapshotMeta): void {
    const members = new Set([...meta.conf.voters, ...meta.conf.learners]);
    if (members.has(this.nodeId)) this.#addedAt = Math.max(this.#addedAt, meta.index);
    for (const [id, addr] of Object.entries(meta.addresses ?? {})) {
      if (id === this.nodeId || !members.has(id)) continue;
      if (this.#addresses.get(id) !== addr) {
        this.#addresses.set(id, addr);
        this.#transport?.setPeer(id, addr);
      }
    }
    // Members removed in the entries the snapshot covers: forget them as a removal would.
    for (const id of [...this.#addresses.keys()]) {
      if (id === this.nodeId || members.has(id)) continue;
      this.#addresses.delete(id);
      this.#transport?.removePeer(id);
    }
    this.#logger.info("membership set by a snapshot", {
      group: groupId,
      index: meta.index,
      voters: meta.conf.voters,
      learners: meta.conf.learners,
    });
  }

  /** Index of the last applied entry that added this node (0: none yet). */
  #addedAt = 0;

  /** Keeps the address book and the transport in step with an applied membership change. */
  #onConfChange(groupId: number, change: ConfChange, index: number): void {
    const id = change.nodeId;
    if (change.type === "remove-node") {
      this.#logger.info("membership change applied", {
        group: groupId,
        member: id,
        change: change.type,
        index,
      });
      if (id === this.nodeId) {
        this.retire(index, this.nodeId);
        return;
      }
      this.#addresses.delete(id);
      // Tell the removed node (it hears nothing more from the leader), then forget it.
      const notice: ForwardRequest = { op: "membership", group: groupId, call: "removed", index };
      this.#forwarder.request(id, notice, removedPeerGraceMs).catch(() => {});
      clearTimeout(this.#removeTimers.get(id));
      this.#removeTimers.set(
        id,
        setTimeout(() => {
          this.#removeTimers.delete(id);
          if (!this.#addresses.has(id)) this.#transport?.removePeer(id);
        }, removedPeerGraceMs),
      );
      return;
    }
    if (id === this.nodeId) this.#addedAt = index;
    const peer = decodeMemberContext(change.context)?.peer;
    this.#logger.info("membership change applied", {
      group: groupId,
      member: id,
      change: change.type,
      peer,
      index,
    });
    if (peer === undefined) return;
    this.#addresses.set(id, peer);
    if (id === this.nodeId) return;
    clearTimeout(this.#removeTimers.get(id));
    this.#removeTimers.delete(id);
    this.#transport?.setPeer(id, peer);
  }

  #onEnvelope(from: NodeId, envelope: { groupId: number; message: unknown }): void {
    this.#heardAtMs.set(from, performance.now());
    if (envelope.groupId === snapshotGroupId) {
      this.#snapshotTransfer.onMessage(from, envelope.message);
      return;
    }
    if (this.#removedAt !== undefined && envelope.groupId !== forwardGroupId) return;
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

  async #serveForwarded(from: NodeId, request: ForwardRequest): Promise<ForwardResponse> {
    if (request.op === "membership") {
      if (this.#membershipServer === undefined) {
        return { ok: false, code: "unavailable", message: "membership calls are not served here" };
      }
      return await this.#membershipServer(from, request);
    }
    const group = this.#groups.get(request.group);
    if (group === undefined) {
      return { ok: false, code: "no_leader", message: `group ${request.group} is not here` };
    }
    if (!group.isLeader) {
      return { ok: false, code: "not_leader", message: "not the leader", leader: group.leader };
    }
    try {
      if (request.op === "read-index") return { ok: true, index: await group.readIndex() };
      if (request.op === "lease-read") {
        return { ok: true, index: await group.readIndex({ lease: true }) };
      }
      // Decoded once to check it at the edge; the log keeps the bytes as they came.
      const command = decodeCommand(request.command);
      return { ok: true, result: await group.propose(command, request.command) };
    } catch (error) {
      if (!isNotLeader(error)) throw error;
      return { ok: false, code: "not_leader", message: error.message, leader: error.leader };
    }
  }
}
