/**
 * The Raft state machine: roles, terms, votes, and the handling of every message. Pure:
 * outgoing messages are queued in `msgs`, persistence is the host's job via RaftLog.
 */

import { applyConfChange, decodeConfChange, encodeConfChange } from "./conf_change.ts";
import { invariant, NotLeaderError, ProposalDroppedError, RaftInvariantError } from "./errors.ts";
import { entryBytes } from "./memory_storage.ts";
import { Progress } from "./progress.ts";
import { committedIndex, hasQuorum, voteResult } from "./quorum.ts";
import { RaftLog } from "./raft_log.ts";
import { ReadOnly } from "./read_only.ts";
import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  Heartbeat,
  HeartbeatResponse,
  LogStorage,
  Message,
  NodeId,
  ProposalPosition,
  RaftConfig,
  RaftKnobs,
  ReadIndexOptions,
  ReadOnlyOption,
  ReadState,
  Role,
  Snapshot,
  SnapshotChunk,
  SnapshotResponse,
  VoteRequest,
  VoteResponse,
} from "./types.ts";

/** Config with every default filled in. */
export interface ResolvedConfig {
  id: NodeId;
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg: number;
  maxEntriesPerAppend: number;
  maxInflightMsgs: number;
  maxUncommittedBytes: number;
  maxCommittedBytesPerReady: number;
  snapshotChunkBytes: number;
  maxPendingReads: number;
  readOnlyOption: ReadOnlyOption;
  random: () => number;
  knobs: RaftKnobs;
}

/** Fills in defaults and validates `config`; throws RangeError on a bad value. */
export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const c: ResolvedConfig = {
    id: config.id,
    electionTicks: config.electionTicks ?? 10,
    heartbeatTicks: config.heartbeatTicks ?? 1,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxSizePerMsg: config.maxSizePerMsg ?? 1 << 20,
    maxEntriesPerAppend: config.maxEntriesPerAppend ?? 4096,
    maxInflightMsgs: config.maxInflightMsgs ?? 256,
    maxUncommittedBytes: config.maxUncommittedBytes ?? 64 << 20,
    maxCommittedBytesPerReady: config.maxCommittedBytesPerReady ?? 64 << 20,
    snapshotChunkBytes: config.snapshotChunkBytes ?? 1 << 20,
    maxPendingReads: config.maxPendingReads ?? 65536,
    readOnlyOption: config.readOnlyOption ?? "safe",
    random: config.random ?? seededRandom(config.randomSeed ?? hashString(config.id)),
    knobs: {
      readIndexWithoutQuorum: false,
      commitPreviousTermByCount: false,
      voteWithoutLogCheck: false,
      forgetVoteOnRestart: false,
      ...config.knobs,
    },
  };
  if (c.id === "") throw new RangeError("raft config: id must not be empty");
  if (!(c.heartbeatTicks >= 1)) throw new RangeError("raft config: heartbeatTicks must be >= 1");
  if (!(c.electionTicks > c.heartbeatTicks)) {
    throw new RangeError("raft config: electionTicks must be > heartbeatTicks");
  }
  for (
    const k of [
      "maxSizePerMsg",
      "maxEntriesPerAppend",
      "maxInflightMsgs",
      "maxUncommittedBytes",
    ] as const
  ) {
    if (!(c[k] >= 1)) throw new RangeError(`raft config: ${k} must be >= 1`);
  }
  if (!(c.snapshotChunkBytes >= 1)) {
    throw new RangeError("raft config: snapshotChunkBytes must be >= 1");
  }
  if (c.readOnlyOption === "lease-based" && !c.checkQuorum) {
    throw new RangeError("raft config: lease-based reads require checkQuorum");
  }
  return c;
}

/** mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const EMPTY = new Uint8Array(0);

/** A snapshot being received chunk by chunk. */
interface SnapshotReceive {
  snapshot: Snapshot;
  offset: number;
}

/** The Raft state machine of one node. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId | null = null;
  role: Role = "follower";
  leader: NodeId | null = null;
  conf: ConfState = { voters: [], learners: [] };
  /** Index of the last conf change applied to `conf`. */
  confIndex = 0;
  /** Memberships by the index where they took effect, for snapshots at older indexes. */
  confHistory: { index: number; conf: ConfState }[] = [];
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  readonly readOnly: ReadOnly;
  /** Reads that arrived before this leader committed an entry of its term. */
  pendingReads: { requestCtx: Uint8Array; lease: boolean }[] = [];
  leadTransferee: NodeId | null = null;
  /** Leader: a TimeoutNow went out in this term, so the lease no longer holds (see leaseHolds). */
  timeoutNowSent = false;
  /** A new conf change may be proposed only once the log is applied past this index. */
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  electionElapsed = 0;
  /**
   * Ticks during which this node, just restarted, still refuses votes as if it heard a
   * leader: it forgot whether it did, and granting at once could end a leader's lease early.
   */
  restartQuietTicks = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Leader: entries or commit need sending at the next flush. */
  needFlush = false;
  receiving: SnapshotReceive | null = null;

  /** Builds a follower at term 0 over `storage`; see createRaftNode / restartRaftNode. */
  constructor(config: RaftConfig, storage: LogStorage) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(storage, { maxCommittedBytes: this.cfg.maxCommittedBytesPerReady });
    this.readOnly = new ReadOnly(this.cfg.maxPendingReads);
    this.resetRandomizedElectionTimeout();
  }

  // ---- membership ----

  /** True when this node may campaign: it is a voter of the current membership. */
  promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  /** Sets the membership (at log index `index`), updating leader progress to match. */
  setConf(conf: ConfState, index: number): void {
    this.conf = conf;
    this.confIndex = index;
    this.confHistory.push({ index, conf });
    if (this.confHistory.length > 64) this.confHistory.splice(0, this.confHistory.length - 64);
    if (this.role !== "leader") return;
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = conf.learners.includes(id);
      const pr = this.progress.get(id);
      if (pr !== undefined) {
        pr.isLearner = isLearner;
        continue;
      }
      const np = new Progress(this.log.lastIndex() + 1, {
        maxInflight: this.cfg.maxInflightMsgs,
        isLearner,
      });
      np.recentActive = true;
      this.progress.set(id, np);
    }
  }

  /** The membership as of `index` (which must be >= the oldest remembered change). */
  confAt(index: number): ConfState {
    for (let i = this.confHistory.length - 1; i >= 0; i--) {
      if (this.confHistory[i].index <= index) return this.confHistory[i].conf;
    }
    throw new RangeError(`membership at index ${index} is no longer known`);
  }

  /** Applies a committed conf-change entry (called when the host advances past it). */
  applyConfEntry(entry: Entry): void {
    if (entry.index <= this.confIndex) return;
    const change = decodeConfChange(entry.data);
    this.setConf(applyConfChange(this.conf, change), entry.index);
    if (this.role !== "leader") return;
    if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee)) {
      this.leadTransferee = null;
    }
    // Raft rule (membership): a leader removed from the voters steps down.
    if (!this.promotable()) {
      this.becomeFollower(this.term, null);
      return;
    }
    // The quorum changed: commits and reads may now be possible.
    this.maybeCommit();
    this.readStates.push(...this.readOnly.recheck(this.conf.voters));
    this.needFlush = true;
  }

  // ---- roles ----

  resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTicks;
    this.randomizedElectionTimeout = e + Math.floor(this.cfg.random() * e);
    invariant(
      this.randomizedElectionTimeout >= e && this.randomizedElectionTimeout < 2 * e,
      "randomized election timeout out of range",
    );
  }

  reset(term: number): void {
    if (this.term !== term) {
      if (!(term > this.term)) {
        throw new RaftInvariantError(`term moved backwards from ${this.term} to ${term}`);
      }
      this.term = term;
      this.vote = null;
      this.receiving = null; // a snapshot stream belongs to one leader's term
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.leadTransferee = null;
    this.timeoutNowSent = false;
    this.readOnly.reset();
    this.pendingReads = [];
    this.uncommittedBytes = 0;
    this.needFlush = false;
    this.progress.clear();
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  becomePreCandidate(): void {
    invariant(this.role !== "leader", "a leader cannot become pre-candidate");
    // Pre-vote: neither the term nor the vote change until a real election starts.
    this.votes.clear();
    this.role = "pre-candidate";
    this.leader = null;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  becomeCandidate(): void {
    invariant(this.role !== "leader", "a leader cannot become candidate");
    this.reset(this.term + 1);
    this.role = "candidate";
    // Raft rule (election): a candidate votes for itself.
    this.vote = this.id;
  }

  becomeLeader(): void {
    invariant(this.role === "candidate", "only a candidate becomes leader");
    const term = this.term;
    this.reset(term);
    this.role = "leader";
    this.leader = this.id;
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = new Progress(this.log.lastIndex() + 1, {
        maxInflight: this.cfg.maxInflightMsgs,
        isLearner: this.conf.learners.includes(id),
      });
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
    const self = this.progress.get(this.id);
    invariant(self !== undefined, "leader has no progress for itself");
    self.match = this.log.lastIndex();
    self.becomeReplicate();
    // Raft rule (commit): a new leader appends a no-op so entries of older terms commit with it.
    const noop = this.appendEntries([{ type: "noop", data: EMPTY }]);
    // Raft rule (membership): no conf change until an entry of this term is applied.
    this.pendingConfIndex = noop.index;
    this.needFlush = true;
  }

  // ---- elections ----

  tick(): void {
    if (this.restartQuietTicks > 0) this.restartQuietTicks--;
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign("election");
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      // Raft rule (check quorum): a leader that has not heard from a quorum steps down.
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // A leadership transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  quorumActive(): boolean {
    const active = this.heardFromQuorum();
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active;
  }

  /**
   * Starts an election: "election" runs a pre-vote first when enabled, "real" skips it (the
   * pre-vote passed), "transfer" skips it and asks voters to ignore their leader lease.
   */
  campaign(kind: "election" | "real" | "transfer"): void {
    if (!this.promotable()) return;
    if (this.role === "leader") return;
    const transfer = kind === "transfer";
    const pre = this.cfg.preVote && kind === "election";
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const type = pre ? "pre-vote" : "vote";
    const term = pre ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.tallyVotes()) return;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({ type, from: this.id, to, term, lastLogIndex, lastLogTerm, transfer });
    }
  }

  /** Counts votes; on a result changes role. Returns true when the election ended. */
  tallyVotes(): boolean {
    const result = voteResult(this.conf.voters, this.votes);
    if (result === "pending") return false;
    if (result === "lost") {
      this.becomeFollower(this.term, null);
      return true;
    }
    if (this.role === "pre-candidate") {
      this.campaign("real");
      return true;
    }
    this.becomeLeader();
    return true;
  }

  // ---- step ----

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    switch (m.type) {
      case "pre-vote":
      case "vote":
        this.handleVoteRequest(m);
        return;
      case "pre-vote-resp":
      case "vote-resp":
        this.handleVoteResponse(m);
        return;
    }
    if (this.role === "leader") this.stepLeader(m);
    else this.stepNonLeader(m);
  }

  /** Handles a message from a higher term; returns false if it must be ignored. */
  stepHigherTerm(m: Message): boolean {
    if (m.type === "vote" || m.type === "pre-vote") {
      const inLease = this.cfg.checkQuorum &&
        ((this.leader !== null && this.electionElapsed < this.cfg.electionTicks) ||
          this.restartQuietTicks > 0);
      // Raft rule (check quorum / leader stickiness): ignore elections while a leader is heard.
      if (inLease && !m.transfer) return false;
      // Pre-vote: a pre-vote request never changes our term.
      if (m.type === "pre-vote") return true;
      this.becomeFollower(m.term, null);
      return true;
    }
    if (m.type === "pre-vote-resp" && !m.reject) return true; // granted for term+1
    const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
    // Raft rule (all servers): on a higher term, adopt it and become follower.
    this.becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  stepLowerTerm(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "append" || m.type === "heartbeat")
    ) {
      // A stale leader learns our term from the answer and steps down.
      this.send({
        type: "append-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        reject: true,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === "pre-vote") {
      this.send({
        type: "pre-vote-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        reject: true,
      });
    }
    // Anything else from an older term is dropped (Raft rule: reject stale terms).
  }

  handleVoteRequest(m: VoteRequest): void {
    const canVote = this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === "pre-vote" && m.term > this.term);
    const upToDate = this.cfg.knobs.voteWithoutLogCheck ||
      this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    const respType = m.type === "vote" ? "vote-resp" : "pre-vote-resp";
    // Raft rule (election): one vote per term, only for a candidate whose log is up to date.
    if (canVote && upToDate) {
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  handleVoteResponse(m: VoteResponse): void {
    const expected = this.role === "candidate"
      ? "vote-resp"
      : this.role === "pre-candidate"
      ? "pre-vote-resp"
      : null;
    if (m.type !== expected) return;
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
    this.tallyVotes();
  }

  stepNonLeader(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // Raft rule (candidates): an append from a leader of the current term ends the election.
        if (this.role !== "follower") this.becomeFollower(this.term, m.from);
        this.electionElapsed = 0;
        this.leader = m.from;
        if (m.type === "append") this.handleAppend(m);
        else if (m.type === "heartbeat") this.handleHeartbeat(m);
        else this.handleSnapshotChunk(m);
        return;
      case "timeout-now":
        // Leadership transfer: campaign at once, skipping pre-vote and the lease.
        if (this.role === "follower") this.campaign("transfer");
        return;
      default:
        return;
    }
  }

  // ---- follower side of replication ----

  handleAppend(m: AppendRequest): void {
    const base = { type: "append-resp" as const, from: this.id, to: m.from, term: this.term };
    let { prevLogIndex, prevLogTerm, entries } = m;
    const committed = this.log.committed;
    if (prevLogIndex < committed) {
      // Our committed prefix matches any leader's log: keep only the entries after it.
      const skip = committed - prevLogIndex;
      const termAtCommit = this.log.termOrNull(committed);
      if (entries.length <= skip || entries[skip - 1].term !== termAtCommit) {
        this.send({ ...base, reject: false, index: committed, hintIndex: 0, hintTerm: 0 });
        return;
      }
      prevLogIndex = committed;
      prevLogTerm = termAtCommit;
      entries = entries.slice(skip);
    }
    const lastNew = this.log.maybeAppend(prevLogIndex, prevLogTerm, m.commit, entries);
    if (lastNew !== null) {
      this.send({ ...base, reject: false, index: lastNew, hintIndex: 0, hintTerm: 0 });
      return;
    }
    // Fast back-off: hint the largest index whose term is <= the leader's prevLogTerm.
    const hintIndex = this.log.findConflictByTerm(
      Math.min(m.prevLogIndex, this.log.lastIndex()),
      m.prevLogTerm,
    );
    const hintTerm = this.log.termOrNull(hintIndex) ?? 0;
    this.send({ ...base, reject: true, index: m.prevLogIndex, hintIndex, hintTerm });
  }

  handleHeartbeat(m: Heartbeat): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({
      type: "heartbeat-resp",
      from: this.id,
      to: m.from,
      term: this.term,
      readSeq: m.readSeq,
    });
  }

  handleSnapshotChunk(m: SnapshotChunk): void {
    const md = m.metadata;
    const reply = (offset: number, reject: boolean) =>
      this.send({
        type: "snapshot-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index: md.index,
        offset,
        reject,
      });
    if (md.index <= this.log.committed) {
      // Already have everything the snapshot holds.
      this.receiving = null;
      this.sendAppendAck(m.from, this.log.committed);
      return;
    }
    if (m.offset === 0) {
      const snapshot = { metadata: md, data: new Uint8Array(m.totalBytes) };
      this.receiving = { snapshot, offset: 0 };
    }
    const r = this.receiving;
    if (r === null || r.snapshot.metadata.index !== md.index || r.offset !== m.offset) {
      reply(r !== null && r.snapshot.metadata.index === md.index ? r.offset : 0, true);
      return;
    }
    invariant(m.offset + m.data.byteLength <= m.totalBytes, "snapshot chunk past its total size");
    r.snapshot.data.set(m.data, m.offset);
    r.offset += m.data.byteLength;
    if (r.offset < m.totalBytes) {
      reply(r.offset, false);
      return;
    }
    this.receiving = null;
    this.restore(r.snapshot);
    // Acknowledge the snapshot's index only: entries of ours past it may not match the leader.
    this.sendAppendAck(m.from, md.index);
  }

  sendAppendAck(to: NodeId, index: number): void {
    this.send({
      type: "append-resp",
      from: this.id,
      to,
      term: this.term,
      reject: false,
      index,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  /** Installs a complete snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.log.committed) return;
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: just commit up to it.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(snapshot);
    this.setConf(snapshot.metadata.conf, index);
    this.confHistory = [{ index, conf: snapshot.metadata.conf }];
  }

  // ---- leader side ----

  /** Appends entries of this term on the leader; returns the position of the last. */
  appendEntries(items: { type: EntryType; data: Uint8Array }[]): ProposalPosition {
    invariant(this.role === "leader", "only a leader appends its own entries");
    let index = this.log.lastIndex();
    const entries: Entry[] = items.map((it) => ({
      term: this.term,
      index: ++index,
      type: it.type,
      data: it.data,
    }));
    this.log.append(entries);
    const self = this.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(index);
    // The leader's own match is the highest: it alone moves the quorum only with one voter.
    if (this.conf.voters.length <= 1) this.maybeCommit();
    this.needFlush = true;
    return { index, term: this.term };
  }

  propose(data: Uint8Array, type: EntryType = "normal"): ProposalPosition {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== null) throw new ProposalDroppedError("transfer-in-progress");
    const size = data.byteLength;
    // Limit: the leader refuses proposals past maxUncommittedBytes (one may always go when none wait).
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.cfg.maxUncommittedBytes) {
      throw new ProposalDroppedError("uncommitted-bytes-limit");
    }
    this.uncommittedBytes += size;
    return this.appendEntries([{ type, data }]);
  }

  proposeConfChange(change: ConfChange): ProposalPosition {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    // Raft rule (membership): one change at a time; the previous must be applied first.
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalDroppedError("conf-change-pending");
    }
    const next = applyConfChange(this.conf, change);
    if (next.voters.length === 0) throw new ProposalDroppedError("invalid-conf-change");
    const pos = this.propose(encodeConfChange(change), "conf-change");
    this.pendingConfIndex = pos.index;
    return pos;
  }

  readIndex(requestCtx: Uint8Array, options: ReadIndexOptions = {}): void {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    const lease = options.lease === true;
    if (this.conf.voters.length === 1 || this.cfg.knobs.readIndexWithoutQuorum) {
      this.readStates.push({ index: this.log.committed, requestCtx });
      return;
    }
    // Raft rule (ReadIndex): a leader serves reads only after committing an entry of its term.
    if (!this.committedInTerm()) {
      if (this.pendingReads.length >= this.cfg.maxPendingReads) {
        throw new ProposalDroppedError("too-many-pending-reads");
      }
      this.pendingReads.push({ requestCtx, lease });
      return;
    }
    this.addRead(requestCtx, lease);
  }

  committedInTerm(): boolean {
    return this.log.termOrNull(this.log.committed) === this.term;
  }

  addRead(requestCtx: Uint8Array, lease: boolean): void {
    // Lease read: served without a round trip only while a quorum was heard from in this
    // check-quorum window; it also assumes clocks drift within bounds. Otherwise: ReadIndex.
    const leaseAsked = lease || this.cfg.readOnlyOption === "lease-based";
    if (leaseAsked && this.cfg.checkQuorum && this.leaseHolds()) {
      this.readStates.push({ index: this.log.committed, requestCtx });
      return;
    }
    this.readOnly.add(this.log.committed, requestCtx);
  }

  /**
   * True when this leader may serve a read from its lease, without a heartbeat round. A
   * transferee's election skips the voters' lease check, so it may win at once.
   */
  leaseHolds(): boolean {
    invariant(this.role === "leader", "only a leader holds a lease");
    // Raft rule (lease reads): no lease during a transfer or once TimeoutNow went out this term.
    if (this.timeoutNowSent || this.leadTransferee !== null) return false;
    return this.heardFromQuorum();
  }

  /** True when a quorum of voters answered since the last check-quorum round. */
  heardFromQuorum(): boolean {
    return hasQuorum(this.conf.voters, (id) => {
      return id === this.id || this.progress.get(id)?.recentActive === true;
    });
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    if (to === this.id || this.leadTransferee === to) return;
    if (!this.conf.voters.includes(to)) {
      throw new RangeError(`transfer target ${to} is not a voter`);
    }
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to);
    invariant(pr !== undefined, "transfer target has no progress");
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.nudge(to, pr);
  }

  sendTimeoutNow(to: NodeId): void {
    invariant(this.role === "leader", "only a leader sends TimeoutNow");
    this.timeoutNowSent = true;
    this.send({ type: "timeout-now", from: this.id, to, term: this.term });
  }

  /** Raft rule (commit, Figure 8): only entries of the current term commit by counting replicas. */
  maybeCommit(): boolean {
    const index = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
    const termCheck = this.cfg.knobs.commitPreviousTermByCount ? null : this.term;
    const committed = this.log.maybeCommit(index, termCheck);
    if (committed) this.onCommitAdvanced();
    return committed;
  }

  onCommitAdvanced(): void {
    this.needFlush = true;
    if (this.pendingReads.length > 0 && this.committedInTerm()) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.addRead(r.requestCtx, r.lease);
    }
  }

  stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return; // not a member (any more)
    switch (m.type) {
      case "append-resp":
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case "heartbeat-resp":
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        return;
      case "snapshot-resp":
        pr.recentActive = true;
        this.handleSnapshotResponse(m, pr);
        return;
      default:
        return;
    }
  }

  handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (m.reject) {
      let hintNext = m.hintIndex + 1;
      if (m.hintTerm > 0) hintNext = this.log.findConflictByTerm(m.hintIndex, m.hintTerm) + 1;
      if (pr.maybeDecrTo(m.index, hintNext)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, pr);
      }
      return;
    }
    // A follower cannot hold more of this leader's log than the leader itself.
    if (m.index > this.log.lastIndex()) return;
    const wasPaused = pr.paused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.paused()) this.sendAppend(m.from, pr);
      return;
    }
    if (pr.state === "probe") pr.becomeReplicate();
    else if (
      pr.state === "snapshot" && pr.snapshot !== null && pr.match >= pr.snapshot.metadata.index
    ) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    pr.inflights.freeLE(m.index);
    if (!this.maybeCommit()) this.sendAppend(m.from, pr);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      // Leadership transfer: the target is caught up, tell it to campaign now.
      this.sendTimeoutNow(m.from);
    }
  }

  handleHeartbeatResponse(m: HeartbeatResponse, pr: Progress): void {
    if (pr.match < this.log.lastIndex() || pr.state === "snapshot") this.nudge(m.from, pr);
    else if (pr.sentCommit < this.log.committed) this.sendAppend(m.from, pr);
    if (m.readSeq > 0 && !pr.isLearner) {
      this.readStates.push(...this.readOnly.ack(m.readSeq, m.from, this.conf.voters));
    }
  }

  handleSnapshotResponse(m: SnapshotResponse, pr: Progress): void {
    if (pr.state !== "snapshot" || pr.snapshot === null) return;
    if (m.index !== pr.snapshot.metadata.index) return;
    if (m.reject) pr.snapshotOffset = m.offset;
    else if (m.offset > pr.snapshotOffset) pr.snapshotOffset = m.offset;
    else return; // duplicate acknowledgement
    this.sendSnapshotChunk(m.from, pr);
  }

  /** Resends to a follower that may have lost messages (a probe, an append at next, a chunk). */
  nudge(to: NodeId, pr: Progress): void {
    if (pr.state === "snapshot") {
      this.sendSnapshotChunk(to, pr);
    } else if (pr.state === "probe") {
      pr.probeSent = false;
      this.sendAppend(to, pr);
    } else {
      // An append may have been lost: send one at next so a gap shows up as a rejection.
      if (pr.inflights.full()) pr.inflights.freeFirst();
      this.sendOneAppend(to, pr);
    }
  }

  bcastHeartbeat(): void {
    const readSeq = this.readOnly.currentSeq();
    for (const [to, pr] of this.progress) {
      if (to === this.id) continue;
      this.sendHeartbeat(to, pr, readSeq);
    }
  }

  sendHeartbeat(to: NodeId, pr: Progress, readSeq: number): void {
    // Never tell a follower a commit index past what it is known to hold.
    const commit = Math.min(pr.match, this.log.committed);
    this.send({ type: "heartbeat", from: this.id, to, term: this.term, commit, readSeq });
  }

  /** Sends what each follower is missing (entries, then commit), and starts a read round. */
  flush(): void {
    if (this.role !== "leader") return;
    if (this.readOnly.needsRound()) {
      const seq = this.readOnly.startRound(this.id);
      for (const [to, pr] of this.progress) if (to !== this.id) this.sendHeartbeat(to, pr, seq);
    }
    if (!this.needFlush) return;
    this.needFlush = false;
    for (const [to, pr] of this.progress) {
      if (to === this.id) continue;
      this.sendAppend(to, pr);
    }
  }

  /**
   * Sends appends to `to` while it is not paused and misses entries (pipelining within the
   * inflight window), or one empty append to propagate commit.
   */
  sendAppend(to: NodeId, pr: Progress): void {
    const last = this.log.lastIndex();
    const limit = this.cfg.maxInflightMsgs + 1;
    for (let i = 0; i < limit && !pr.paused(); i++) {
      if (pr.next > last && pr.sentCommit >= this.log.committed && pr.state === "replicate") return;
      if (!this.sendOneAppend(to, pr)) return;
      if (pr.state !== "replicate") return;
    }
  }

  /** Sends one append (or starts a snapshot); returns false when nothing more should go. */
  sendOneAppend(to: NodeId, pr: Progress): boolean {
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.termOrNull(prevLogIndex);
    if (prevLogTerm === null || pr.next < this.log.firstIndex()) {
      this.startSnapshot(to, pr);
      return false;
    }
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, {
      maxBytes: this.cfg.maxSizePerMsg,
      maxCount: this.cfg.maxEntriesPerAppend,
    });
    const commit = this.log.committed;
    this.send({
      type: "append",
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit,
    });
    pr.sentCommit = commit;
    if (pr.state === "replicate") {
      if (entries.length === 0) return false;
      const lastSent = entries[entries.length - 1].index;
      pr.next = lastSent + 1;
      pr.inflights.add(lastSent);
      return true;
    }
    pr.probeSent = true;
    return false;
  }

  /** The follower is behind the compacted log: stream it the latest snapshot. */
  startSnapshot(to: NodeId, pr: Progress): void {
    if (!pr.recentActive) return; // do not start a transfer to a node that is not answering
    const snapshot = this.log.storage.snapshot();
    invariant(
      snapshot.metadata.index >= this.log.firstIndex() - 1,
      "snapshot behind the compacted log",
    );
    pr.becomeSnapshot(snapshot);
    this.sendSnapshotChunk(to, pr);
  }

  sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snapshot;
    if (snap === null) return;
    const total = snap.data.byteLength;
    const chunk = this.cfg.snapshotChunkBytes;
    // Once all is acknowledged, resend the last chunk: its answer tells whether the follower
    // installed the snapshot (an append ack) or lost it (a reject from offset 0).
    const offset = pr.snapshotOffset < total
      ? pr.snapshotOffset
      : Math.max(0, Math.floor((total - 1) / chunk) * chunk);
    const end = Math.min(total, offset + chunk);
    this.send({
      type: "snapshot",
      from: this.id,
      to,
      term: this.term,
      metadata: snap.metadata,
      offset,
      totalBytes: total,
      data: snap.data.subarray(offset, end),
    });
  }

  // ---- output ----

  send(m: Message): void {
    invariant(m.to !== this.id, "a node never sends to itself");
    this.msgs.push(m);
  }

  /** The host applied committed entries; apply conf changes and release the byte budget. */
  onApplied(entries: Entry[]): void {
    for (const e of entries) {
      if (e.type === "conf-change") this.applyConfEntry(e);
      if (this.role === "leader" && e.term === this.term) {
        this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entryBytes(e));
      }
    }
  }

  /** Applies the conf changes of committed entries in [from, to] on restart. */
  replayConf(from: number, to: number): void {
    for (let lo = from; lo <= to;) {
      const ents = this.log.slice(lo, to + 1, { maxBytes: 1 << 20, maxCount: 4096 });
      invariant(ents.length > 0, "replay: no entries returned");
      for (const e of ents) if (e.type === "conf-change") this.applyConfEntry(e);
      lo = ents[ents.length - 1].index + 1;
    }
  }

  /** A snapshot value at `index` holding `data`, for the host to persist and compact with. */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    if (!(index <= this.log.applied)) {
      throw new RaftInvariantError(`snapshot at ${index} past applied ${this.log.applied}`);
    }
    const term = this.log.term(index);
    const conf = this.confAt(index);
    return {
      metadata: { index, term, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
      data,
    };
  }
}
