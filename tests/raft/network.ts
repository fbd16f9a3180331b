/**
 * A test network of Raft cores: each node's Ready is persisted to its MemoryStorage at once,
 * messages are queued and delivered step by step, and filters cut or drop traffic.
 */

import {
  createRaftNode,
  type Entry,
  MemoryStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  type RaftNode,
  type ReadState,
  restartRaftNode,
} from "../../src/raft/mod.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One member of the network with its persisted storage and applied state. */
export interface Member {
  node: RaftNode;
  storage: MemoryStorage;
  config: RaftConfig;
  /** Normal entries' data applied, in order (the state machine). */
  applied: string[];
  appliedIndex: number;
  readStates: ReadState[];
  down: boolean;
}

/** Returns true to deliver a message, false to drop it. */
export type MessageFilter = (m: Message) => boolean;

/** Options of {@link Network}. */
export interface NetworkOptions {
  /** Config fields shared by every node (ids and peers are filled in). */
  config?: Partial<RaftConfig>;
  /** Members that start as learners. */
  learners?: NodeId[];
}

/** A set of Raft nodes wired by an in-memory, step-by-step message queue. */
export class Network {
  readonly members = new Map<NodeId, Member>();
  queue: Message[] = [];
  /** Every message delivered, for assertions on the exchange. */
  delivered: Message[] = [];
  /** What was applied at each index by any node: state machine safety is checked on apply. */
  readonly appliedAt = new Map<number, string>();
  #cut = new Set<string>();
  #filters: MessageFilter[] = [];
  readonly #shared: Partial<RaftConfig>;

  /** Bootstraps a group of `ids` (voters unless listed in options.learners). */
  constructor(ids: NodeId[], options: NetworkOptions = {}) {
    this.#shared = options.config ?? {};
    const learners = options.learners ?? [];
    const peers = ids.filter((id) => !learners.includes(id));
    for (const id of ids) {
      const config: RaftConfig = { ...this.#configFor(id), peers, learners };
      const storage = new MemoryStorage();
      this.#add(id, createRaftNode(config, storage), storage, config);
    }
    this.settle();
  }

  /**
   * The shared config for `id`. A shared randomSeed is mixed with the id: nodes with one
   * seed would draw the same election timeouts forever and split every vote in lockstep.
   */
  #configFor(id: NodeId): RaftConfig {
    const config: RaftConfig = { ...this.#shared, id };
    const base = this.#shared.randomSeed;
    if (base !== undefined) config.randomSeed = mixSeed(base, id);
    return config;
  }

  #add(id: NodeId, node: RaftNode, storage: MemoryStorage, config: RaftConfig): Member {
    const m: Member = {
      node,
      storage,
      config,
      applied: [],
      appliedIndex: 0,
      readStates: [],
      down: false,
    };
    this.members.set(id, m);
    return m;
  }

  /** Starts a new, empty node that joins by learning the log from the leader. */
  addJoiner(id: NodeId): Member {
    const config = this.#configFor(id);
    const storage = new MemoryStorage();
    return this.#add(id, createRaftNode(config, storage), storage, config);
  }

  /** The member `id`; throws if unknown. */
  get(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** The node `id`. */
  node(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /** Cuts traffic both ways between every node of `a` and every node of `b`. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.#cut.add(`${x}>${y}`);
        this.#cut.add(`${y}>${x}`);
      }
    }
  }

  /** Cuts `id` off from everyone. */
  isolate(id: NodeId): void {
    this.partition([id], [...this.members.keys()].filter((x) => x !== id));
  }

  /** Cuts traffic from `from` to `to` only. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Restores every link and removes every filter. */
  heal(): void {
    this.#cut.clear();
    this.#filters = [];
  }

  /** Drops every message for which `filter` returns false, until heal(). */
  addFilter(filter: MessageFilter): void {
    this.#filters.push(filter);
  }

  /** Crashes `id`: its unpersisted state and queued messages are lost. */
  crash(id: NodeId): void {
    this.get(id).down = true;
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  /**
   * Restarts `id` from its storage, with `config` overrides (e.g. knobs). A node that never
   * persisted anything boots as new, like a host finding an empty data directory.
   */
  restart(id: NodeId, config: Partial<RaftConfig> = {}): void {
    const m = this.get(id);
    m.config = { ...m.config, ...config };
    const empty = m.storage.lastIndex() === 0 && m.storage.hardState().term === 0;
    m.node = empty ? createRaftNode(m.config, m.storage) : restartRaftNode(m.config, m.storage);
    m.down = false;
    // The state machine restarts from the snapshot and replays committed entries.
    const snap = m.storage.snapshot();
    m.applied = snap.data.byteLength > 0 ? JSON.parse(decoder.decode(snap.data)) : [];
    m.appliedIndex = snap.metadata.index;
  }

  /** Handles every pending Ready of `id` as a correct host would (persist, send, apply). */
  processReady(id: NodeId): boolean {
    const m = this.get(id);
    if (m.down || !m.node.hasReady()) return false;
    const rd = m.node.ready();
    if (rd.snapshot !== undefined) {
      m.storage.applySnapshot(rd.snapshot);
      m.applied = JSON.parse(decoder.decode(rd.snapshot.data));
      m.appliedIndex = rd.snapshot.metadata.index;
    }
    m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    for (const msg of rd.messages) this.queue.push(msg);
    for (const e of rd.committedEntries) this.#apply(m, e);
    m.readStates.push(...rd.readStates);
    m.node.advance(rd);
    return true;
  }

  #apply(m: Member, e: Entry): void {
    if (e.index !== m.appliedIndex + 1) {
      throw new Error(`${m.node.id} applied ${e.index} after ${m.appliedIndex}`);
    }
    m.appliedIndex = e.index;
    const what = `${e.term}/${e.type}/${decoder.decode(e.data)}`;
    const seen = this.appliedAt.get(e.index);
    if (seen !== undefined && seen !== what) {
      throw new Error(
        `state machine safety: ${m.node.id} applied ${what} at ${e.index}, another node ${seen}`,
      );
    }
    this.appliedAt.set(e.index, what);
    if (e.type === "normal") m.applied.push(decoder.decode(e.data));
  }

  /** Delivers one message unless its link is cut, a filter drops it or its target is down. */
  deliver(msg: Message): boolean {
    if (!this.#deliverable(msg)) return false;
    this.delivered.push(msg);
    this.get(msg.to).node.step(msg);
    return true;
  }

  #deliverable(msg: Message): boolean {
    if (this.#cut.has(`${msg.from}>${msg.to}`)) return false;
    const to = this.members.get(msg.to);
    if (to === undefined || to.down) return false;
    return this.#filters.every((f) => f(msg));
  }

  /**
   * Processes Readies and delivers messages until nothing moves. Returns the number of
   * messages delivered; throws after `maxRounds` rounds (a livelock is a bug).
   */
  settle(maxRounds = 10_000): number {
    let count = 0;
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.members.keys()) moved = this.processReady(id) || moved;
      const batch = this.queue;
      this.queue = [];
      for (const msg of batch) {
        if (!this.deliver(msg)) continue;
        count++;
        moved = true;
      }
      if (!moved) return count;
    }
    throw new Error(`network did not settle within ${maxRounds} rounds`);
  }

  /** Ticks every live node (or only `ids`) `n` times, settling after each tick. */
  tick(n: number, ids?: NodeId[]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids ?? this.members.keys()) {
        const m = this.get(id);
        if (!m.down) m.node.tick();
      }
      this.settle();
    }
  }

  /** Makes `id` campaign and settles. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.settle();
  }

  /** Proposes a string on `id` and settles. */
  propose(id: NodeId, value: string): void {
    this.node(id).propose(encoder.encode(value));
    this.settle();
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log there. */
  compact(id: NodeId): number {
    const m = this.get(id);
    const snap = m.node.createSnapshot(m.appliedIndex, encoder.encode(JSON.stringify(m.applied)));
    m.storage.createSnapshot(snap);
    m.storage.compact(snap.metadata.index);
    return snap.metadata.index;
  }

  /** The ids whose node thinks it is leader. */
  leaders(): NodeId[] {
    return [...this.members.values()]
      .filter((m) => !m.down && m.node.status().role === "leader")
      .map((m) => m.node.id);
  }

  /** The stored log of `id` as "index:term" strings after its snapshot. */
  log(id: NodeId): string[] {
    const s = this.get(id).storage;
    const first = s.firstIndex();
    const last = s.lastIndex();
    if (last < first) return [];
    return s.entries(first, last + 1).map((e) => `${e.index}:${e.term}`);
  }
}

function mixSeed(seed: number, id: NodeId): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Encodes a string as request bytes. */
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes bytes as a string. */
export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

/** One line per message, etcd-transcript style: "n1->n2 append t2 prev=3/1 ents=[4/2] commit=3". */
export function describe(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "pre-vote":
    case "vote":
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? " transfer" : ""}`;
    case "pre-vote-resp":
    case "vote-resp":
      return `${head}${m.reject ? " reject" : ""}`;
    case "append": {
      const ents = m.entries.map((e) => `${e.index}/${e.term}`).join(",");
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} ents=[${ents}] commit=${m.commit}`;
    }
    case "append-resp":
      return m.reject
        ? `${head} reject index=${m.index} hint=${m.hintIndex}/${m.hintTerm}`
        : `${head} index=${m.index}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.readSeq > 0 ? ` read=${m.readSeq}` : ""}`;
    case "heartbeat-resp":
      return `${head}${m.readSeq > 0 ? ` read=${m.readSeq}` : ""}`;
    case "snapshot":
      return `${head} snap=${m.metadata.index}/${m.metadata.term} offset=${m.offset}/${m.totalBytes}`;
    case "snapshot-resp":
      return `${head} snap=${m.index} offset=${m.offset}${m.reject ? " reject" : ""}`;
    case "timeout-now":
      return head;
  }
}
