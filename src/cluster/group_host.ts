/**
 * The host of one Raft group on this node: it feeds the core ticks and peer messages, and
 * does what each Ready asks in Raft's order (persist to the WAL, then send, then apply
 * committed entries to the group's store, then serve reads, then advance). Proposals and
 * reads wait here until the state machine has applied what they need.
 */
import type { Logger } from "../log.ts";
import {
  type Entry,
  type Message,
  type NodeId,
  NotLeaderError,
  ProposalDroppedError,
  type RaftNode,
  type Ready,
  type SoftState,
} from "../raft/mod.ts";
import type { Store } from "../storage/types.ts";
import {
  applyCommand,
  type ApplyResult,
  decodeCommand,
  encodeCommand,
  type KvCommand,
} from "./command.ts";
import { KvServiceError } from "./kv_service.ts";
import type { RaftLogStore } from "./raft_log_store.ts";

/** Options of {@link GroupHost}. */
export interface GroupHostOptions {
  groupId: number;
  node: RaftNode;
  logStore: RaftLogStore;
  /** The group's state machine (data/groups/<id>/). */
  store: Store;
  /** Queues a Raft message to a peer; never blocks. */
  send: (to: NodeId, message: Message) => void;
  logger: Logger;
  /** Longest wait for a proposal to be applied before its outcome is reported unknown. */
  proposalTimeoutMs: number;
  /** Longest wait for a read index or for the state machine to catch up to one. */
  readTimeoutMs: number;
  /** Proposals (and reads) waiting at once; past it new ones are refused. Default 16384. */
  waitersMax?: number;
  /** Told when the known leader changes (null: none known). */
  onLeaderChange?: (leader: NodeId | null, previous: NodeId | null) => void;
  /** Called once when the group cannot go on (WAL or store failure): the node must stop. */
  onFatal: (error: unknown) => void;
}

interface ProposalWaiter {
  term: number;
  resolve: (result: ApplyResult) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface IndexWaiter {
  resolve: (index: number) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface AppliedWaiter {
  index: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Ready rounds handled in one go before yielding to the event loop. */
const roundsPerRunMax = 64;

/** Error of a write that certainly was not applied: safe to retry. */
export function notAppliedError(message: string): KvServiceError {
  return new KvServiceError("no_leader", message);
}

/** Error of a write that may or may not have been applied. */
export function outcomeUnknownError(message: string): KvServiceError {
  return new KvServiceError("outcome_unknown", message);
}

/** Drives one RaftNode; see the module comment. Create one per group the node hosts. */
export class GroupHost {
  readonly groupId: number;
  #o: GroupHostOptions;
  #node: RaftNode;
  #soft: SoftState;
  #applied = 0;
  /** Entries at or below this index were applied to the store before this process started. */
  #storeSeqAtOpen: number;
  #proposals = new Map<number, ProposalWaiter>();
  #reads = new Map<number, IndexWaiter>();
  #readSeq = 0;
  #appliedWaiters: AppliedWaiter[] = [];
  #leaderWaiters: (() => void)[] = [];
  #running: Promise<void> | undefined;
  #again = false;
  #failed: unknown = undefined;
  #closed = false;

  /** Wraps a created or restarted node; the host owns the node and the store from now on. */
  constructor(options: GroupHostOptions) {
    this.#o = options;
    this.groupId = options.groupId;
    this.#node = options.node;
    const status = this.#node.status();
    this.#soft = { role: status.role, leader: status.leader };
    this.#applied = status.applied;
    this.#storeSeqAtOpen = options.store.stats().lastSeq;
    this.#kick();
  }

  /** The leader this node knows of, or null. */
  get leader(): NodeId | null {
    return this.#soft.leader;
  }

  /** True while this node leads the group. */
  get isLeader(): boolean {
    return this.#soft.role === "leader";
  }

  /** Index of the last entry applied to the store. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** True when the group can serve: not failed, not closed, a leader known. */
  get healthy(): boolean {
    return this.#failed === undefined && !this.#closed && this.#soft.leader !== null;
  }

  /** The group's store (reads go straight to it after a read index is applied). */
  get store(): Store {
    return this.#o.store;
  }

  /** The core's status, for /status and tests. */
  status(): ReturnType<RaftNode["status"]> {
    return this.#node.status();
  }

  /** Advances the core's clock by one tick. */
  tick(): void {
    if (this.#failed !== undefined || this.#closed) return;
    this.#node.tick();
    this.#kick();
  }

  /** Feeds a message received from a peer (already checked to come from `from`). */
  step(message: Message): void {
    if (this.#failed !== undefined || this.#closed) return;
    this.#node.step(message);
    this.#kick();
  }

  /**
   * Proposes `command` and resolves to its apply result once applied here. Throws
   * NotLeaderError off the leader, "unavailable" when the leader refuses proposals now (a
   * limit, a transfer); rejects with code "no_leader" when the command certainly was not
   * applied, "outcome_unknown" when it may have been.
   */
  propose(command: KvCommand): Promise<ApplyResult> {
    this.#checkOpen();
    this.#checkRoom();
    const pos = this.#dropGuard(() => this.#node.propose(encodeCommand(command)));
    const stale = this.#proposals.get(pos.index);
    if (stale !== undefined) {
      // Our older entry at this index was cut from our log, but another replica may still
      // hold it and a later leader may commit it: its outcome is unknown.
      if (!(stale.term < pos.term)) throw new Error(`two proposals at index ${pos.index}`);
      clearTimeout(stale.timer);
      stale.reject(outcomeUnknownError("leadership changed while the write was in flight"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<ApplyResult>();
    const timer = setTimeout(() => {
      this.#proposals.delete(pos.index);
      reject(outcomeUnknownError(
        `the write was proposed at index ${pos.index} but not applied within ` +
          `${this.#o.proposalTimeoutMs} ms; read the key to learn whether it took effect`,
      ));
    }, this.#o.proposalTimeoutMs);
    this.#proposals.set(pos.index, { term: pos.term, resolve, reject, timer });
    this.#kick();
    return promise;
  }

  /**
   * A linearizable read point: resolves to an index such that a read of the store once it
   * has applied that index sees every write acknowledged before this call. Throws
   * NotLeaderError off the leader; rejects with code "no_leader" if leadership is lost or
   * not confirmed in time.
   */
  readIndex(): Promise<number> {
    this.#checkOpen();
    this.#checkRoom();
    const seq = ++this.#readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, seq);
    this.#dropGuard(() => this.#node.readIndex(ctx));
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const timer = setTimeout(() => {
      this.#reads.delete(seq);
      reject(notAppliedError(`leadership not confirmed within ${this.#o.readTimeoutMs} ms`));
    }, this.#o.readTimeoutMs);
    this.#reads.set(seq, { resolve, reject, timer });
    this.#kick();
    return promise;
  }

  /** Resolves once the store has applied `index`; rejects with "unavailable" after readTimeoutMs. */
  waitApplied(index: number): Promise<void> {
    this.#checkOpen();
    if (this.#applied >= index) return Promise.resolve();
    this.#checkRoom();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#appliedWaiters = this.#appliedWaiters.filter((w) => w.timer !== timer);
      reject(
        new KvServiceError("unavailable", `this replica did not apply index ${index} in time`),
      );
    }, this.#o.readTimeoutMs);
    this.#appliedWaiters.push({ index, resolve, reject, timer });
    return promise;
  }

  /** Resolves to the leader once one is known, or to null after `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<NodeId | null> {
    if (this.#soft.leader !== null || this.#closed) return this.#soft.leader;
    if (this.#leaderWaiters.length >= (this.#o.waitersMax ?? 16384)) return null;
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      this.#leaderWaiters = this.#leaderWaiters.filter((w) => w !== resolve);
      resolve();
    }, timeoutMs);
    this.#leaderWaiters.push(resolve);
    await promise;
    clearTimeout(timer);
    return this.#soft.leader;
  }

  /** Stops serving: every waiter is rejected; waits for the Ready in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#rejectAll(new KvServiceError("closed", "the node is stopping"));
    for (const w of this.#leaderWaiters.splice(0)) w();
    for (let i = 0; i < 1000 && this.#running !== undefined; i++) await this.#running;
  }

  /** Runs a core call; NotLeaderError passes through, a refused proposal becomes "unavailable". */
  #dropGuard<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      if (error instanceof ProposalDroppedError) {
        throw new KvServiceError(
          "unavailable",
          `the leader refused the request now (${error.reason}); retry`,
        );
      }
      throw error;
    }
  }

  #checkOpen(): void {
    if (this.#failed !== undefined) {
      throw new KvServiceError("unavailable", "this node's Raft group failed; see its log");
    }
    if (this.#closed) throw new KvServiceError("closed", "the node is stopping");
  }

  #checkRoom(): void {
    const waiting = this.#proposals.size + this.#reads.size + this.#appliedWaiters.length;
    if (waiting >= (this.#o.waitersMax ?? 16384)) {
      throw new KvServiceError("unavailable", `${waiting} requests already wait on the group`);
    }
  }

  #kick(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        // Yield to the event loop before the next run, so I/O and timers keep flowing.
        setTimeout(() => this.#kick(), 0);
      }
    });
  }

  async #run(): Promise<void> {
    try {
      for (let i = 0; i < roundsPerRunMax && !this.#closed && this.#node.hasReady(); i++) {
        await this.#handleReady(this.#node.ready());
      }
      if (!this.#closed && this.#node.hasReady()) this.#again = true;
    } catch (error) {
      this.#fail(error);
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    await this.#o.logStore.persist(rd); // Raft rule: persist before sending what depends on it
    for (const m of rd.messages) this.#o.send(m.to, m);
    if (rd.softState !== undefined) this.#onSoftState(rd.softState);
    await this.#apply(rd.committedEntries);
    for (const rs of rd.readStates) {
      const seq = new DataView(rs.requestCtx.buffer, rs.requestCtx.byteOffset, 8).getFloat64(0);
      const waiter = this.#reads.get(seq);
      if (waiter === undefined) continue; // timed out meanwhile
      this.#reads.delete(seq);
      clearTimeout(waiter.timer);
      waiter.resolve(rs.index);
    }
    this.#node.advance(rd);
  }

  async #apply(entries: Entry[]): Promise<void> {
    for (const entry of entries) {
      if (!(entry.index === this.#applied + 1)) {
        throw new Error(`apply out of order: entry ${entry.index} after ${this.#applied}`);
      }
      let result: ApplyResult = { ok: true };
      if (entry.type === "normal" && entry.data.byteLength > 0) {
        if (entry.index > this.#storeSeqAtOpen) {
          // Idempotent by index: entries the store already holds are not applied again.
          const command = decodeCommand(entry.data);
          result = await applyCommand(this.#o.store, { index: entry.index, command });
        }
      }
      this.#applied = entry.index;
      this.#settleProposal(entry, result);
    }
    if (entries.length > 0) this.#settleApplied();
  }

  #settleProposal(entry: Entry, result: ApplyResult): void {
    const waiter = this.#proposals.get(entry.index);
    if (waiter === undefined) return;
    this.#proposals.delete(entry.index);
    clearTimeout(waiter.timer);
    if (waiter.term === entry.term) {
      waiter.resolve(result);
    } else {
      // Log matching: another entry holds this index for good, so ours is never applied.
      waiter.reject(notAppliedError("leadership changed before the write committed; retry it"));
    }
  }

  #settleApplied(): void {
    if (this.#appliedWaiters.length === 0) return;
    const still: AppliedWaiter[] = [];
    for (const w of this.#appliedWaiters) {
      if (w.index <= this.#applied) {
        clearTimeout(w.timer);
        w.resolve();
      } else {
        still.push(w);
      }
    }
    this.#appliedWaiters = still;
  }

  #onSoftState(soft: SoftState): void {
    const wasLeader = this.#soft.role === "leader";
    const previous = this.#soft.leader;
    this.#soft = soft;
    if (previous !== soft.leader) this.#o.onLeaderChange?.(soft.leader, previous);
    this.#o.logger.info("raft role changed", {
      group: this.groupId,
      role: soft.role,
      leader: soft.leader,
      term: this.#node.status().term,
    });
    if (wasLeader && soft.role !== "leader") {
      // The core drops pending reads when it steps down: fail them now (reads have no effect).
      for (const [seq, w] of this.#reads) {
        clearTimeout(w.timer);
        w.reject(notAppliedError("leadership lost before the read was confirmed; retry"));
        this.#reads.delete(seq);
      }
    }
    if (soft.leader !== null) { for (const w of this.#leaderWaiters.splice(0)) w(); }
  }

  #rejectAll(error: unknown): void {
    for (const w of this.#proposals.values()) {
      clearTimeout(w.timer);
      w.reject(
        error instanceof KvServiceError && error.code === "closed"
          ? outcomeUnknownError("the node stopped before the write was applied")
          : error,
      );
    }
    this.#proposals.clear();
    for (const w of this.#reads.values()) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.#reads.clear();
    for (const w of this.#appliedWaiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.#appliedWaiters = [];
  }

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#o.logger.error("raft group failed; the node stops serving it", {
      group: this.groupId,
      error,
    });
    this.#rejectAll(outcomeUnknownError("the group failed while the request was in progress"));
    this.#o.onFatal(error);
  }
}

/** True when `error` is the core's NotLeaderError. */
export function isNotLeader(error: unknown): error is NotLeaderError {
  return error instanceof NotLeaderError;
}
