/**
 * One simulated ringkv node: a real Raft core, a "disk" (a MemoryStorage that survives
 * crashes), a key-value state machine that does not, and the host loop that drives the
 * core in Raft's order: persist, then send, then apply, then serve reads, then advance.
 */

import {
  applyConfChange,
  type ConfState,
  createRaftNode,
  decodeConfChange,
  type Entry,
  MemoryStorage,
  type Message,
  NotLeaderError,
  ProposalDroppedError,
  type RaftConfig,
  type RaftNode,
  type Ready,
  restartRaftNode,
} from "../../src/raft/mod.ts";
import { durableCommitted } from "../../src/cluster/group_host.ts";
import { decodeCommand, encodeCommand, KvStateMachine } from "./kv_state_machine.ts";
import type { KvOutput } from "./linearizability.ts";
import type { SafetyMonitor } from "./invariants.ts";
import type { ClientRequest } from "./workload.ts";

/** What a node answers a client. */
export type NodeReply =
  | { type: "ok"; output: KvOutput; nodeId: string }
  | { type: "refused"; leader: string | null; nodeId: string; reason: string };

/** A client request as it reaches a node. */
export interface RequestEnvelope {
  opId: number;
  clientId: number;
  request: ClientRequest;
}

/** What a node needs from the world around it. */
export interface NodeEnv {
  now(): number;
  send(message: Message): void;
  reply(clientId: number, opId: number, reply: NodeReply): void;
  /** Calls `done` after the disk write latency, unless the node crashed meanwhile. */
  persistLater(node: SimNode, done: () => void): void;
  monitor: SafetyMonitor;
  trace(line: string): void;
  /** Called when this node becomes leader. */
  onLeader(node: SimNode): void;
  /** Called after this node applied committed entries. */
  onCommitted(node: SimNode, entries: Entry[]): void;
  /** Called when this node applies a client command (by its operation id). */
  onCommandApplied(opId: number): void;
  /** Called when this node applies a membership change. */
  onConfApplied(node: SimNode, conf: ConfState, index: number): void;
  /** Test-only: send messages before persisting what they depend on (planted bug). */
  sendBeforePersist: boolean;
  /**
   * Handle each Ready in the order of the production group host (src/cluster/group_host.ts):
   * a leader sends its messages while it persists, and committed entries an earlier Ready
   * persisted are applied (and answered) while this Ready persists.
   */
  groupHostOrder: boolean;
  /** Take a snapshot every this many applied entries. */
  snapshotEveryEntries: number;
  /** Entries kept behind a snapshot for slow followers. */
  snapshotKeepEntries: number;
}

type Input =
  | { type: "message"; message: Message }
  | { type: "tick" }
  | { type: "request"; envelope: RequestEnvelope };

const inboxMax = 10_000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One node of the simulated cluster. */
export class SimNode {
  readonly id: string;
  /** The durable log: survives crashes. Only persisted Ready contents reach it. */
  readonly storage = new MemoryStorage();
  raft: RaftNode | null = null;
  sm = new KvStateMachine();
  alive = false;
  /** Bumped on every crash so late callbacks of an old life are ignored. */
  incarnation = 0;
  /** Membership as of the last applied entry or snapshot. */
  conf: ConfState = { voters: [], learners: [] };
  #config: RaftConfig;
  #env: NodeEnv;
  #busy = false;
  #booted: "start" | "join" = "start";
  #inbox: Input[] = [];
  #writes = new Map<number, RequestEnvelope>();
  #reads = new Map<string, RequestEnvelope>();
  #readsReady: { index: number; envelope: RequestEnvelope }[] = [];

  /** Creates a node; call start() or join() to bring it up. */
  constructor(config: RaftConfig, env: NodeEnv) {
    this.id = config.id;
    this.#config = config;
    this.#env = env;
  }

  /** Boots a node of the initial group (its config's peers are the first voters). */
  start(): void {
    this.#booted = "start";
    this.raft = createRaftNode(this.#config, this.storage);
    this.conf = { voters: [...(this.#config.peers ?? [])].sort(), learners: [] };
    this.alive = true;
  }

  /** Boots a node added by a membership change: empty log, it learns everything from the leader. */
  join(): void {
    this.#booted = "join";
    this.raft = createRaftNode({ ...this.#config, peers: [], learners: [] }, this.storage);
    this.alive = true;
  }

  /** Loses everything not persisted: the core, the state machine, pending requests. */
  crash(): void {
    this.alive = false;
    this.raft = null;
    this.incarnation++;
    this.#busy = false;
    this.#inbox = [];
    this.#writes.clear();
    this.#reads.clear();
    this.#readsReady = [];
  }

  /** Restarts from the disk: the latest snapshot, then the log after it. */
  restart(): void {
    if (this.alive) throw new Error(`${this.id} restarted while alive`);
    const disk = this.storage.initialState().hardState;
    if (this.storage.lastIndex() === 0 && disk.term === 0) {
      // Nothing ever reached the disk, not even the bootstrap entries: like a real host
      // finding an empty data directory, boot as new. (Restarting over an empty log would
      // make an initial member apply "add-voter self" alone and lead a group of one.)
      this.sm = new KvStateMachine();
      if (this.#booted === "start") this.start();
      else this.join();
      return;
    }
    const snap = this.storage.snapshot();
    this.sm = KvStateMachine.restore(snap.data, snap.metadata.index);
    this.conf = structuredClone(snap.metadata.conf);
    this.raft = restartRaftNode(this.#config, this.storage);
    this.alive = true;
  }

  /** Queues an input and drives the core if it is idle. */
  deliver(input: Input): void {
    if (!this.alive) return;
    if (this.#inbox.length >= inboxMax) return; // overload: the input is lost, like a full socket
    this.#inbox.push(input);
    this.drive();
  }

  /** Runs queued inputs through the core, then handles its Ready (unless one is in progress). */
  drive(): void {
    const raft = this.raft;
    if (!this.alive || this.#busy || raft === null) return;
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const input of inbox) this.#handle(raft, input);
    if (!raft.hasReady()) return;
    const rd = raft.ready();
    this.#busy = true;
    const life = this.incarnation;
    if (rd.softState?.role === "leader") {
      const term = rd.hardState?.term ?? raft.status().term;
      this.#env.trace(`${this.id} becomes leader of term ${term}`);
      this.#env.monitor.onLeader(term, {
        nodeId: this.id,
        storage: this.storage,
        pending: rd.entries,
      });
      this.#env.onLeader(this);
    }
    const leading = (rd.softState?.role ?? raft.status().role) === "leader";
    const sendEarly = this.#env.sendBeforePersist || (this.#env.groupHostOrder && leading);
    if (sendEarly) { for (const m of rd.messages) this.#env.send(m); }
    const applied = this.#applyEarly(rd);
    this.#env.persistLater(this, () => {
      if (this.incarnation !== life) return;
      this.#afterPersist(raft, rd, { sent: sendEarly, applied });
    });
  }

  /** With groupHostOrder: applies the committed entries durable already; returns how many. */
  #applyEarly(rd: Ready): number {
    if (!this.#env.groupHostOrder) return 0;
    const n = durableCommitted(rd);
    const early = rd.committedEntries.slice(0, n);
    for (const e of early) this.#apply(e);
    if (early.length > 0) this.#env.onCommitted(this, early);
    return n;
  }

  #handle(raft: RaftNode, input: Input): void {
    switch (input.type) {
      case "tick":
        raft.tick();
        return;
      case "message":
        raft.step(input.message);
        return;
      case "request":
        this.#request(raft, input.envelope);
        return;
    }
  }

  #request(raft: RaftNode, envelope: RequestEnvelope): void {
    const r = envelope.request;
    if (r.kind === "stale-get") {
      const v = this.sm.get(r.key);
      const output: KvOutput = { kind: "get", value: v?.value ?? null, version: v?.version ?? 0 };
      this.#env.reply(envelope.clientId, envelope.opId, { type: "ok", output, nodeId: this.id });
      return;
    }
    try {
      if (r.kind === "get") {
        const ctx = String(envelope.opId);
        raft.readIndex(encoder.encode(ctx));
        this.#reads.set(ctx, envelope);
      } else {
        raft.propose(encodeCommand({ ...r, id: envelope.opId }));
        this.#writes.set(envelope.opId, envelope);
      }
    } catch (e) {
      const leader = e instanceof NotLeaderError ? e.leader : null;
      if (!(e instanceof NotLeaderError || e instanceof ProposalDroppedError)) throw e;
      this.#env.reply(envelope.clientId, envelope.opId, {
        type: "refused",
        leader,
        nodeId: this.id,
        reason: e.message,
      });
    }
  }

  #afterPersist(raft: RaftNode, rd: Ready, done: { sent: boolean; applied: number }): void {
    // 1. Persist: snapshot, then entries, then hard state.
    if (rd.snapshot) {
      this.storage.applySnapshot(rd.snapshot);
      this.sm = KvStateMachine.restore(rd.snapshot.data, rd.snapshot.metadata.index);
      this.conf = structuredClone(rd.snapshot.metadata.conf);
      this.#env.trace(`${this.id} installs snapshot at ${rd.snapshot.metadata.index}`);
    }
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    // 2. Send, now that what the messages promise is durable.
    if (!done.sent) { for (const m of rd.messages) this.#env.send(m); }
    // 3. Apply committed entries (those not applied while persisting).
    const rest = done.applied === 0 ? rd.committedEntries : rd.committedEntries.slice(done.applied);
    for (const e of rest) this.#apply(e);
    if (rest.length > 0) this.#env.onCommitted(this, rest);
    // 4. Serve reads whose index is applied.
    for (const rs of rd.readStates) {
      const ctx = decoder.decode(rs.requestCtx);
      const envelope = this.#reads.get(ctx);
      if (envelope === undefined) continue;
      this.#reads.delete(ctx);
      this.#readsReady.push({ index: rs.index, envelope });
    }
    this.#serveReads();
    raft.advance(rd);
    this.#maybeSnapshot();
    this.#busy = false;
    this.drive();
  }

  #apply(e: Entry): void {
    if (e.index <= this.sm.applied) return; // already in the restored snapshot
    this.#env.monitor.onApply(this.id, e);
    if (e.type === "normal" && e.data.byteLength > 0) {
      const command = decodeCommand(e.data);
      const output = this.sm.apply(e.index, command);
      this.#env.onCommandApplied(command.id);
      const envelope = this.#writes.get(command.id);
      if (envelope !== undefined) {
        this.#writes.delete(command.id);
        this.#env.reply(envelope.clientId, envelope.opId, { type: "ok", output, nodeId: this.id });
      }
      return;
    }
    this.sm.skip(e.index);
    if (e.type === "conf-change") {
      const change = decodeConfChange(e.data);
      this.conf = applyConfChange(this.conf, change);
      this.#env.trace(`${this.id} applies ${change.type} ${change.nodeId} at ${e.index}`);
      this.#env.onConfApplied(this, this.conf, e.index);
    }
  }

  #serveReads(): void {
    const waiting: { index: number; envelope: RequestEnvelope }[] = [];
    for (const r of this.#readsReady) {
      if (r.index > this.sm.applied) {
        waiting.push(r);
        continue;
      }
      const v = this.sm.get(r.envelope.request.key);
      const output: KvOutput = { kind: "get", value: v?.value ?? null, version: v?.version ?? 0 };
      this.#env.reply(r.envelope.clientId, r.envelope.opId, {
        type: "ok",
        output,
        nodeId: this.id,
      });
    }
    this.#readsReady = waiting;
  }

  #maybeSnapshot(): void {
    const snapIndex = this.storage.snapshot().metadata.index;
    const applied = this.sm.applied;
    if (applied - snapIndex < this.#env.snapshotEveryEntries) return;
    this.storage.createSnapshot(this.raft!.createSnapshot(applied, this.sm.snapshot()));
    this.storage.compact(Math.max(snapIndex, applied - this.#env.snapshotKeepEntries));
  }

  /** Proposes a membership change if this node leads; returns false when refused. */
  proposeConfChange(change: Parameters<RaftNode["proposeConfChange"]>[0]): boolean {
    if (!this.alive || this.raft === null) return false;
    try {
      this.raft.proposeConfChange(change);
    } catch (e) {
      if (e instanceof NotLeaderError || e instanceof ProposalDroppedError) return false;
      throw e;
    }
    this.drive();
    return true;
  }
}
