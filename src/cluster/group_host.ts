/**
 * The host of one Raft group on this node: it feeds the core ticks and peer messages, and
 * does what each Ready asks in Raft's order (persist to the WAL, then send, then apply
 * committed entries to the group's store, then serve reads, then advance). Proposals and
 * reads wait here until the state machine has applied what they need.
 */
import { setImmediate } from "node:timers";
import type { Logger } from "../log.ts";
import {
  type ConfChange,
  decodeConfChange,
  type Entry,
  type Message,
  type NodeId,
  NotLeaderError,
  ProposalDroppedError,
  type ProposalPosition,
  type RaftNode,
  type Ready,
  type Snapshot,
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
import { Coalescer } from "./coalescer.ts";
import { KvServiceError } from "./kv_service.ts";
import type { GroupSnapshots } from "./group_snapshots.ts";
import type { RaftLogStore } from "./raft_log_store.ts";
import type { GroupObserver } from "./raft_metrics.ts";

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
  /**
   * How long after a quorum confirmed this leader (measured from when the confirming read
   * was asked) it may serve lease reads without a round; see {@link leaseMsOf}. Default 0:
   * every lease read waits for a heartbeat round.
   */
  leaseMs?: number;
  /** Told when the known leader changes (null: none known). */
  onLeaderChange?: (leader: NodeId | null, previous: NodeId | null) => void;
  /** Told of every committed membership change as it is applied (also when replayed at start). */
  onConfChange?: (change: ConfChange, index: number) => void;
  /** Called once when the group cannot go on (WAL or store failure): the node must stop. */
  onFatal: (error: unknown) => void;
  /** Snapshots of the group (taking, compaction, receiving); none: the log is never compacted. */
  snapshots?: GroupSnapshots;
  /** Opens the group's store again after a received snapshot replaced it. */
  reopenStore?: () => Promise<Store>;
  /** Told of each proposal made here once applied here (commit latency), for metrics. */
  observer?: Pick<GroupObserver, "committed">;
  /**
   * Writes are refused with "quota_exceeded" when the store's files would pass this many
   * bytes. Checked when proposing (on the leader), never when applying: every replica must
   * apply every committed entry. Default 0: no quota.
   */
  diskBytesMax?: number;
  /**
   * Rebuilds the core from what the WAL holds, as a restart would. Given, a full disk (the
   * WAL or the store refused a write) does not stop the group: the core restarts from its
   * durable state, writes are refused with "disk_full" for a while, then tried again.
   * Without it a full disk fails the group like any I/O error.
   */
  restartNode?: () => RaftNode;
}

/** The first pause after a full disk; it doubles up to diskFullPauseMsMax while it stays full. */
const diskFullPauseMs = 250;
const diskFullPauseMsMax = 5000;

function isDiskFull(error: unknown): boolean {
  return typeof error === "object" && error !== null &&
    (error as { code?: unknown }).code === "disk_full";
}

interface ProposalWaiter {
  term: number;
  /** What was proposed, for the timeout's message. */
  kind: "write" | "membership change";
  /** performance.now() when it was proposed, and when it times out. */
  proposedMs: number;
  expiresMs: number;
  resolve: (result: ApplyResult) => void;
  reject: (error: unknown) => void;
}

interface IndexWaiter {
  /** performance.now() when the read was asked. */
  askedMs: number;
  /** The term it was asked in. */
  term: number;
  /** True when it was asked of the core's lease (so it confirms nothing). */
  lease: boolean;
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

/** Committed entries whose store writes are queued together at most. */
const applyWindowEntriesMax = 4096;

/**
 * How many of `rd`'s committed entries are durable here already: those below the first
 * entry `rd` itself persists (an earlier Ready persisted them, and Ready rounds run one at a
 * time). A committed entry can sit among `rd.entries` (a follower told of a commit together
 * with the entries, or a leader alone in its group): those wait for this Ready's persist.
 */
export function durableCommitted(rd: Ready): number {
  const committed = rd.committedEntries;
  if (rd.snapshot !== undefined) return 0;
  if (rd.entries.length === 0) return committed.length;
  const firstNew = rd.entries[0].index;
  let n = 0;
  while (n < committed.length && committed[n].index < firstNew) n++;
  return n;
}

/**
 * The lease of a leader with this timing: a follower that heard from the leader refuses to
 * vote for anyone else for electionTicks of its own ticks, which last at least
 * (electionTicks - 1) * tickMs of real time; 10% of that is kept as a margin for clocks
 * that run at slightly different rates.
 */
export function leaseMsOf(timing: { tickMs: number; electionTicks: number }): number {
  return Math.max(0, Math.floor((timing.electionTicks - 1) * timing.tickMs * 0.9));
}

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
  /** The group's store; replaced when a snapshot from the leader is installed. */
  #store: Store;
  #proposals = new Map<number, ProposalWaiter>();
  #reads = new Map<number, IndexWaiter>();
  #readSeq = 0;
  #appliedWaiters: AppliedWaiter[] = [];
  /** Conf-change entries applied in the Ready being handled, settled after its advance. */
  #confApplied: { entry: Entry; result: ApplyResult }[] = [];
  #leaderWaiters: (() => void)[] = [];
  /** This leader may serve lease reads until this performance.now() time, in #leaseTerm. */
  #leaseUntilMs = 0;
  #leaseTerm = -1;
  /** The term of the leader in #soft (-1 when none). */
  #leaderTerm = -1;
  /** performance.now() when a message of the current leader last arrived. */
  #leaderContactMs: number | undefined;
  /** Index of this leader's first entry in its term (its entries before it were committed). */
  #termStartIndex = Infinity;
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
    this.#store = options.store;
    this.#storeSeqAtOpen = options.store.stats().lastSeq;
    if (options.snapshots !== undefined) {
      options.snapshots.offered = () => this.#offeredSnapshots();
    }
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

  /** Proposals made here that wait to be applied. */
  get proposalsPending(): number {
    return this.#proposals.size;
  }

  /** True when the group can serve: not failed, not closed, a leader known. */
  get healthy(): boolean {
    return this.#failed === undefined && !this.#closed && this.#soft.leader !== null;
  }

  /** The group's store (reads go straight to it after a read index is applied). */
  get store(): Store {
    return this.#store;
  }

  /** The core's status, for /status and tests. */
  status(): ReturnType<RaftNode["status"]> {
    return this.#node.status();
  }

  /** Campaigns at once when this node is the group's only voter (it wins alone). */
  campaignIfAlone(): void {
    if (this.#failed !== undefined || this.#closed || !this.#node.isSoleVoter()) return;
    this.#node.campaign();
    this.#kick();
  }

  /**
   * True when a read of the local store now is linearizable without a heartbeat round: this
   * node leads as the only voter (nobody else can commit a write), and it applied every
   * entry before its term's first one (so every write acknowledged by an earlier leader,
   * itself before a restart, is in the store). Writes are acknowledged only once applied.
   */
  get readsLocally(): boolean {
    return this.#soft.role === "leader" && this.#applied >= this.#termStartIndex &&
      this.#failed === undefined && !this.#closed && this.#node.isSoleVoter();
  }

  /** Advances the core's clock by one tick, and expires proposals waiting too long. */
  tick(): void {
    this.expireProposals();
    if (this.#failed !== undefined || this.#closed || this.#diskFullPaused()) return;
    this.#node.tick();
    this.#kick();
  }

  /** Feeds a message received from a peer (already checked to come from `from`). */
  step(message: Message): void {
    // Paused by a full disk: like a node cut off, it neither hears nor answers.
    if (this.#failed !== undefined || this.#closed || this.#diskFullPaused()) return;
    if (message.type === "snapshot" && this.#o.snapshots !== undefined) {
      // The core sees a snapshot only once its image is here (fetched in the background).
      const admitted = this.#o.snapshots.admit(message, this.#applied, () => this.step(message));
      if (!admitted) return;
    }
    this.#noteLeaderContact(message);
    this.#node.step(message);
    this.#kick();
  }

  /**
   * Proposes `command` and resolves to its apply result once applied here. Throws
   * NotLeaderError off the leader, "unavailable" when the leader refuses proposals now (a
   * limit, a transfer); rejects with code "no_leader" when the command certainly was not
   * applied, "outcome_unknown" when it may have been. `encoded` is the command's bytes when
   * the caller has them already (a forwarded write, decoded once to check it).
   */
  propose(command: KvCommand, encoded?: Uint8Array): Promise<ApplyResult> {
    this.#checkOpen();
    this.#checkRoom();
    this.checkDiskFull();
    const data = encoded ?? encodeCommand(command);
    this.#checkQuota(data.byteLength);
    const pos = this.#dropGuard(() => this.#node.propose(data));
    const stale = this.#proposals.get(pos.index);
    if (stale !== undefined) {
      // Our older entry at this index was cut from our log, but another replica may still
      // hold it and a later leader may commit it: its outcome is unknown.
      if (!(stale.term < pos.term)) throw new Error(`two proposals at index ${pos.index}`);
    }
    const promise = this.#waitProposal(pos, "write");
    this.#kick();
    return promise;
  }

  /**
   * Registers the waiter of the proposal at `pos`; an older one at the same index (cut from
   * the log by a later leader, yet maybe held by another replica) learns its outcome is
   * unknown. No timer each: tick() expires them in order of proposal.
   */
  #waitProposal(pos: ProposalPosition, kind: ProposalWaiter["kind"]): Promise<ApplyResult> {
    const stale = this.#proposals.get(pos.index);
    if (stale !== undefined) {
      this.#proposals.delete(pos.index);
      stale.reject(outcomeUnknownError(`leadership changed while the ${stale.kind} was in flight`));
    }
    const { promise, resolve, reject } = Promise.withResolvers<ApplyResult>();
    const proposedMs = performance.now();
    const expiresMs = proposedMs + this.#o.proposalTimeoutMs;
    this.#proposals.set(pos.index, {
      term: pos.term,
      kind,
      proposedMs,
      expiresMs,
      resolve,
      reject,
    });
    return promise;
  }

  /** Fails the proposals that waited longer than proposalTimeoutMs (the oldest come first). */
  expireProposals(): void {
    if (this.#proposals.size === 0) return;
    const nowMs = performance.now();
    for (const [index, w] of this.#proposals) {
      if (w.expiresMs > nowMs) break;
      this.#proposals.delete(index);
      const learn = w.kind === "write"
        ? "read the key to learn whether it took effect"
        : "read GET /cluster to learn whether it took effect";
      w.reject(outcomeUnknownError(
        `the ${w.kind} was proposed at index ${index} but not applied within ` +
          `${this.#o.proposalTimeoutMs} ms; ${learn}`,
      ));
    }
  }

  /**
   * Proposes one membership change and resolves to its log index once applied here. Throws
   * NotLeaderError off the leader and the core's ProposalDroppedError as is (reason
   * "conf-change-pending" while another change is in flight); rejects like propose.
   */
  proposeConfChange(change: ConfChange): Promise<number> {
    this.#checkOpen();
    this.#checkRoom();
    const pos = this.#node.proposeConfChange(change);
    const promise = this.#waitProposal(pos, "membership change");
    this.#kick();
    return promise.then(() => pos.index);
  }

  /**
   * Asks the core to hand leadership to voter `to` (it campaigns once caught up). Throws
   * NotLeaderError off the leader and RangeError when `to` is not a voter.
   */
  transferLeader(to: NodeId): void {
    this.#checkOpen();
    this.#node.transferLeadership(to);
    this.#kick();
  }

  /**
   * A linearizable read point: resolves to an index such that a read of the store once it
   * has applied that index sees every write acknowledged before this call. Throws (or
   * rejects with) NotLeaderError off the leader; rejects with code "no_leader" if leadership
   * is lost or not confirmed in time. With `options.lease` the read is served from the
   * leader's lease, without a heartbeat round, when both hold: the core's (a quorum heard in this
   * check-quorum window, no leadership transfer) and this host's real-time one (a round
   * confirmed less than leaseMs ago in this term, so a paused or stalled process never
   * trusts an old lease). Otherwise it waits for a round, as without the option.
   */
  readIndex(options: { lease?: boolean } = {}): Promise<number> {
    this.#checkOpen();
    this.#checkRoom();
    if (options.lease === true) {
      const term = this.#node.status().term;
      const askedMs = performance.now();
      if (term === this.#leaseTerm && askedMs < this.#leaseUntilMs) {
        return this.#readIndexNow({ lease: true, term, askedMs });
      }
    }
    // Every other read shares a heartbeat round, one round at a time: those that arrive
    // while a round runs join the next one (so a read may wait up to two readTimeoutMs).
    return this.#readRounds.run();
  }

  /** Reads waiting on heartbeat rounds; see readIndex. */
  #readRounds = new Coalescer<number>(() => {
    this.#checkOpen();
    return this.#readIndexNow({
      lease: false,
      term: this.#node.status().term,
      askedMs: performance.now(),
    });
  });

  /** Asks the core for one read index (from its lease with `lease`) and waits for it. */
  #readIndexNow(read: { lease: boolean; term: number; askedMs: number }): Promise<number> {
    const { lease, term, askedMs } = read;
    const seq = ++this.#readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, seq);
    this.#dropGuard(() => this.#node.readIndex(ctx, { lease }));
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const timer = setTimeout(() => {
      this.#reads.delete(seq);
      reject(notAppliedError(`leadership not confirmed within ${this.#o.readTimeoutMs} ms`));
    }, this.#o.readTimeoutMs);
    this.#reads.set(seq, { askedMs, term, lease, resolve, reject, timer });
    this.#kick();
    return promise;
  }

  /**
   * Milliseconds since this replica last heard from the leader it follows: 0 while it leads,
   * null when it has heard from none since it started.
   */
  leaderContactAgoMs(): number | null {
    if (this.#soft.role === "leader") return 0;
    if (this.#leaderContactMs === undefined) return null;
    return Math.max(0, Math.round(performance.now() - this.#leaderContactMs));
  }

  /**
   * The index a read of the local store reflects at least, for a stale read served now
   * without a leader. Throws "unavailable" when the group failed, "closed" when stopping.
   */
  localReadIndex(): number {
    this.#checkOpen();
    return this.#applied;
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

  /**
   * Resolves to the leader once one is known (with `unreachable`, one other than that: a
   * leader this node could not reach), or to null after `timeoutMs`.
   */
  async waitForLeader(timeoutMs: number, unreachable?: NodeId): Promise<NodeId | null> {
    let deadlineMs: number | undefined;
    for (;;) {
      const leader = this.#soft.leader;
      if (leader !== null && leader !== unreachable) return leader;
      deadlineMs ??= performance.now() + timeoutMs;
      const leftMs = deadlineMs - performance.now();
      if (this.#closed || leftMs <= 0) return null;
      if (this.#leaderWaiters.length >= (this.#o.waitersMax ?? 16384)) return null;
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, leftMs);
      this.#leaderWaiters.push(resolve);
      await promise;
      clearTimeout(timer);
      this.#leaderWaiters = this.#leaderWaiters.filter((w) => w !== resolve);
    }
  }

  /** Stops serving: every waiter is rejected; waits for the Ready in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#diskFullTimer);
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

  /** Refuses a write whose entry would take the store past diskBytesMax (it grows by about as much). */
  #checkQuota(bytes: number): void {
    const quota = this.#o.diskBytesMax ?? 0;
    if (quota <= 0) return;
    if (this.#store.stats().diskBytes + bytes > quota) {
      throw new KvServiceError(
        "quota_exceeded",
        `the data directory would pass its quota of ${quota} bytes (--disk-quota); delete ` +
          `keys (space returns after a merge) or raise the quota`,
      );
    }
  }

  #checkRoom(): void {
    const waiting = this.#proposals.size + this.#reads.size + this.#appliedWaiters.length +
      this.#readRounds.waiting;
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
        // Yield to the event loop before the next run, so I/O and timers keep flowing (an
        // immediate, not a zero timeout: that one waits a millisecond or more).
        setImmediate(() => this.#kick());
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
      if (isDiskFull(error) && this.#o.restartNode !== undefined && !this.#closed) {
        this.#recoverFromFullDisk(error);
      } else {
        this.#fail(error);
      }
    }
  }

  #diskFullPaused(): boolean {
    return this.#diskFullUntilMs > 0 && performance.now() < this.#diskFullUntilMs;
  }

  /** Writes are refused until this performance.now() time after the disk filled up. */
  #diskFullUntilMs = 0;
  #diskFullPauseMs = 0;
  #diskFullTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Throws "disk_full" while the group waits out a full disk: the write would not be
   * applied now. Called before a write waits for a leader.
   */
  checkDiskFull(): void {
    if (this.#diskFullPaused()) {
      throw new KvServiceError(
        "disk_full",
        "the disk is full: the write was not applied; free space (or delete keys) and retry",
      );
    }
  }

  /**
   * The WAL or the store could not write for lack of space. The core restarts from what the
   * WAL holds, as after a crash (Raft allows a leader to lose what it had not persisted):
   * entries that never reached the WAL are gone, so their writes were not applied here (with
   * other voters, one may have kept them: the outcome is unknown). Entries the WAL holds
   * stay, and their writes keep waiting to be applied. After a pause (doubling while the
   * disk stays full) a node alone campaigns again; in a cluster it follows the leader.
   */
  #recoverFromFullDisk(error: unknown): void {
    const durable = this.#o.logStore.lastIndex();
    const alone = this.#node.isSoleVoter();
    this.#node = this.#o.restartNode!();
    for (const [index, w] of this.#proposals) {
      if (index <= durable) continue;
      this.#proposals.delete(index);
      w.reject(
        alone
          ? new KvServiceError(
            "disk_full",
            `the disk is full: the ${w.kind} was not applied; free space and retry`,
          )
          : outcomeUnknownError(`the disk filled up while the ${w.kind} was in flight`),
      );
    }
    for (const [seq, w] of this.#reads) {
      clearTimeout(w.timer);
      w.reject(notAppliedError("the disk filled up before the read was confirmed; retry"));
      this.#reads.delete(seq);
    }
    const status = this.#node.status();
    this.#onSoftState({ role: status.role, leader: status.leader });
    this.#diskFullPauseMs = Math.min(
      diskFullPauseMsMax,
      this.#diskFullPauseMs === 0 ? diskFullPauseMs : this.#diskFullPauseMs * 2,
    );
    this.#diskFullUntilMs = performance.now() + this.#diskFullPauseMs;
    this.#o.logger.error("the disk is full: writes are refused, then tried again", {
      group: this.groupId,
      error,
      durable_index: durable,
      retry_in_ms: this.#diskFullPauseMs,
    });
    clearTimeout(this.#diskFullTimer);
    this.#diskFullTimer = setTimeout(() => this.campaignIfAlone(), this.#diskFullPauseMs);
  }

  #sendAll(messages: Message[]): void {
    for (const m of messages) this.#o.send(m.to, m);
  }

  async #handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot !== undefined) await this.#installSnapshot(rd.snapshot);
    // Raft thesis 10.2.1: a leader may send its appends while it writes them to its own disk.
    // Holding its heartbeats behind a slow fsync starves followers into an election. The core
    // counts the leader's own match before its fsync, and that stays safe because Ready rounds
    // run one at a time: a follower can acknowledge an entry only after the Ready that
    // persists it here was handed out, so a commit that counts it shows up (as committed
    // entries, or as a commit index in messages) only in a later Ready, produced after this
    // persist finished. #assertDurable checks it for every entry applied.
    const leading = (rd.softState?.role ?? this.#soft.role) === "leader";
    if (leading) this.#sendAll(rd.messages);
    // Committed entries that an earlier Ready persisted are applied while this one syncs.
    const durable = durableCommitted(rd);
    const committed = rd.committedEntries;
    const early = durable === committed.length ? committed : committed.slice(0, durable);
    this.#assertDurable(early);
    const [persisted, applied] = await Promise.allSettled([
      this.#o.logStore.persist(rd), // Raft rule: persist before sending what depends on it
      this.#apply(early),
    ]);
    if (persisted.status === "rejected") throw persisted.reason;
    if (applied.status === "rejected") throw applied.reason;
    if (rd.entries.length > 0) this.#diskFullPauseMs = 0; // the disk took entries again
    if (!leading) this.#sendAll(rd.messages);
    if (rd.softState !== undefined) this.#onSoftState(rd.softState);
    if (durable < committed.length) {
      const late = committed.slice(durable);
      this.#assertDurable(late);
      await this.#apply(late);
    }
    for (const rs of rd.readStates) {
      const seq = new DataView(rs.requestCtx.buffer, rs.requestCtx.byteOffset, 8).getFloat64(0);
      const waiter = this.#reads.get(seq);
      if (waiter === undefined) continue; // timed out meanwhile
      this.#reads.delete(seq);
      clearTimeout(waiter.timer);
      if (!waiter.lease) this.#extendLease(waiter);
      waiter.resolve(rs.index);
    }
    this.#node.advance(rd);
    for (const { entry, result } of this.#confApplied.splice(0)) {
      this.#settleProposal(entry, result);
    }
    const snaps = this.#o.snapshots;
    if (snaps?.due(this.#applied)) {
      const status = this.#node.status();
      await snaps.take(this.#store, {
        index: this.#applied,
        term: this.#o.logStore.term(this.#applied),
        conf: status.conf,
      });
    }
  }

  /**
   * Raft rule (durability): an entry is applied (and its write acknowledged) only once this
   * node's WAL holds it durably. Checks the last of `entries` (they are consecutive).
   */
  #assertDurable(entries: Entry[]): void {
    const last = entries.at(-1);
    if (last === undefined) return;
    const log = this.#o.logStore;
    const held = last.index <= log.lastIndex() && log.term(last.index) === last.term;
    if (!held) {
      throw new Error(
        `invariant: committed entry ${last.index} (term ${last.term}) is not durable in the WAL`,
      );
    }
  }

  /** Replaces the store with a received snapshot's image, before the WAL records it. */
  async #installSnapshot(snapshot: Snapshot): Promise<void> {
    const snaps = this.#o.snapshots;
    const reopen = this.#o.reopenStore;
    if (snaps === undefined || reopen === undefined) {
      throw new Error("received a snapshot but this group host cannot install one");
    }
    this.#store = await snaps.install(snapshot, this.#store, reopen);
    this.#applied = snapshot.metadata.index;
    this.#storeSeqAtOpen = this.#store.stats().lastSeq;
    this.#settleApplied();
  }

  /** Indexes of the snapshots this leader is sending to members now. */
  #offeredSnapshots(): number[] {
    const progress = this.#node.status().progress ?? {};
    return Object.values(progress).map((p) => p.snapshotIndex).filter((i) => i > 0);
  }

  async #apply(entries: Entry[]): Promise<void> {
    // A core restarted after a full disk hands out again entries applied before it.
    if (entries.length > 0 && entries[0].index <= this.#applied) {
      entries = entries.filter((e) => e.index > this.#applied);
    }
    for (let at = 0; at < entries.length; at += applyWindowEntriesMax) {
      const window = entries.length <= applyWindowEntriesMax
        ? entries
        : entries.slice(at, at + applyWindowEntriesMax);
      await this.#applyWindow(window);
    }
    if (entries.length > 0) this.#settleApplied();
  }

  /**
   * Applies consecutive entries: every store write is queued at once, in log order, so they
   * share one group write (the store applies queued writes in order, and none after one that
   * failed: no gap); then each entry is settled in order once its write is done.
   */
  async #applyWindow(entries: Entry[]): Promise<void> {
    const writes: (Promise<ApplyResult> | undefined)[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (!(entry.index === this.#applied + 1 + i)) {
        throw new Error(`apply out of order: entry ${entry.index} after ${this.#applied + i}`);
      }
      // Idempotent by index: entries the store already holds are not applied again.
      const write = entry.type === "normal" && entry.data.byteLength > 0 &&
        entry.index > this.#storeSeqAtOpen;
      if (write) writes[i] = this.#applyCommand(entry);
    }
    const settled = await Promise.allSettled(writes);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const outcome = settled[i];
      if (outcome.status === "rejected") throw outcome.reason;
      const result: ApplyResult = outcome.value ?? { ok: true };
      if (entry.type === "conf-change") {
        this.#o.onConfChange?.(decodeConfChange(entry.data), entry.index);
      }
      this.#applied = entry.index;
      // A membership change is answered once the core applied it too (at advance), so the
      // caller's next look at status() shows it.
      if (entry.type === "conf-change") this.#confApplied.push({ entry, result });
      else this.#settleProposal(entry, result);
    }
  }

  /** Queues the store write of a normal entry (a corrupt entry rejects, it never throws). */
  async #applyCommand(entry: Entry): Promise<ApplyResult> {
    const command = decodeCommand(entry.data);
    return await applyCommand(this.#store, { index: entry.index, command });
  }

  #settleProposal(entry: Entry, result: ApplyResult): void {
    const waiter = this.#proposals.get(entry.index);
    if (waiter === undefined) return;
    this.#proposals.delete(entry.index);
    if (waiter.term === entry.term) {
      this.#o.observer?.committed(this.groupId, (performance.now() - waiter.proposedMs) / 1000);
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

  /**
   * A quorum confirmed this leader in `read.term` after `read.askedMs`: each of its followers
   * refuses to vote for another candidate for an election timeout from then.
   */
  #extendLease(read: IndexWaiter): void {
    const leaseMs = this.#o.leaseMs ?? 0;
    if (leaseMs <= 0) return;
    if (read.term !== this.#leaseTerm) {
      this.#leaseTerm = read.term;
      this.#leaseUntilMs = 0;
    }
    this.#leaseUntilMs = Math.max(this.#leaseUntilMs, read.askedMs + leaseMs);
  }

  /** Records when a message of the leader this node follows (in its term) arrived. */
  #noteLeaderContact(m: Message): void {
    if (m.type !== "append" && m.type !== "heartbeat" && m.type !== "snapshot") return;
    if (m.from === this.#soft.leader && m.term === this.#leaderTerm) {
      this.#leaderContactMs = performance.now();
    }
  }

  #onSoftState(soft: SoftState): void {
    const wasLeader = this.#soft.role === "leader";
    const previous = this.#soft.leader;
    this.#soft = soft;
    const status = this.#node.status();
    this.#leaderTerm = soft.leader === null ? -1 : status.term;
    // A new leader's first entry (the empty one) is its last now: no proposal came yet.
    this.#termStartIndex = soft.role === "leader" ? status.lastIndex : Infinity;
    if (soft.role !== "leader") this.#leaseUntilMs = 0;
    // A leader that steps down last heard from a leader (itself) now.
    if (wasLeader && soft.role !== "leader") this.#leaderContactMs = performance.now();
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
