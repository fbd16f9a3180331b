/**
 * RaftNode: the host-facing face of the core and its Ready/advance contract. The host
 * calls tick/step/propose/readIndex, then drains ready() (persist, send, apply) and calls
 * advance(ready) before the next ready().
 */

import { encodeConfChange } from "./conf_change.ts";
import { invariant } from "./errors.ts";
import { Raft } from "./raft.ts";
import type {
  ConfChange,
  Entry,
  HardState,
  LogStorage,
  Message,
  NodeId,
  ProgressStatus,
  ProposalPosition,
  RaftConfig,
  RaftStatus,
  ReadIndexOptions,
  Ready,
  Snapshot,
  SoftState,
} from "./types.ts";

/** One Raft node: a pure state machine driven by the host. Not safe for concurrent use. */
export class RaftNode {
  readonly #raft: Raft;
  #prevHard: HardState;
  #prevSoft: SoftState;
  #outstanding: Ready | null = null;

  /** Wraps a Raft state machine; use createRaftNode or restartRaftNode. */
  constructor(raft: Raft) {
    this.#raft = raft;
    this.#prevHard = { term: 0, vote: null, commit: 0 };
    this.#prevSoft = { role: raft.role, leader: raft.leader };
  }

  /** This node's id. */
  get id(): NodeId {
    return this.#raft.id;
  }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum). */
  tick(): void {
    this.#raft.tick();
  }

  /** Feeds one message received from a peer. Messages addressed elsewhere are ignored. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /** Starts an election now (pre-vote first when enabled); no-op on a leader or non-voter. */
  campaign(): void {
    this.#raft.campaign("election");
  }

  /**
   * Appends `data` as a normal entry. Returns its index and term; it is committed only once
   * it shows up in committedEntries with that same term. Throws NotLeaderError (with the
   * known leader) off the leader, ProposalDroppedError past maxUncommittedBytes or during a
   * leadership transfer.
   */
  propose(data: Uint8Array): ProposalPosition {
    return this.#raft.propose(data);
  }

  /**
   * Proposes one membership change. It takes effect when the host applies its entry.
   * Throws NotLeaderError off the leader; ProposalDroppedError while another change is
   * pending or if it would leave no voter.
   */
  proposeConfChange(change: ConfChange): ProposalPosition {
    return this.#raft.proposeConfChange(change);
  }

  /**
   * Asks for a linearizable read point. A ReadState with this `requestCtx` comes out in a
   * later Ready once leadership is confirmed (reads between two ready() calls share one
   * heartbeat round). Throws NotLeaderError off the leader. Reads still pending when the
   * leader steps down are dropped: the host times them out. With `options.lease` the read
   * is served from the leader lease when it holds (see ReadIndexOptions).
   */
  readIndex(requestCtx: Uint8Array, options: ReadIndexOptions = {}): void {
    this.#raft.readIndex(requestCtx, options);
  }

  /**
   * Hands leadership to voter `to`: once it has the whole log it is told to campaign at
   * once. Proposals are refused meanwhile; abandoned after an election timeout. Lease-based
   * reads fall back to a heartbeat round from now until this leader's term ends. Throws
   * NotLeaderError off the leader and RangeError if `to` is not a voter.
   */
  transferLeadership(to: NodeId): void {
    this.#raft.transferLeadership(to);
  }

  /**
   * True when this node is the only voter of the membership it works with now: nobody else
   * can win an election or commit anything, so as leader it alone decides.
   */
  isSoleVoter(): boolean {
    const voters = this.#raft.conf.voters;
    return voters.length === 1 && voters[0] === this.#raft.id;
  }

  /** True when ready() would return something to do. */
  hasReady(): boolean {
    const r = this.#raft;
    r.flush();
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0 || r.log.unstable.snapshot !== null) return true;
    if (r.log.hasNextCommitted()) return true;
    if (r.role !== this.#prevSoft.role || r.leader !== this.#prevSoft.leader) return true;
    return !sameHardState(this.#hardState(), this.#prevHard);
  }

  /**
   * Everything the host must do now (see Ready for the order). Call advance(ready) before
   * the next ready(); throws if the previous one was not advanced.
   */
  ready(): Ready {
    invariant(this.#outstanding === null, "ready() called before advance() of the previous Ready");
    const r = this.#raft;
    r.flush();
    const hard = this.#hardState();
    const entries = r.log.unstableEntries();
    const rd: Ready = {
      entries,
      messages: r.msgs,
      committedEntries: r.log.takeNextCommitted(),
      readStates: r.readStates,
      mustSync: entries.length > 0 || r.log.unstable.snapshot !== null ||
        hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (r.log.unstable.snapshot !== null) rd.snapshot = r.log.unstable.snapshot;
    if (!sameHardState(hard, this.#prevHard)) {
      rd.hardState = hard;
      this.#prevHard = hard;
    }
    if (r.role !== this.#prevSoft.role || r.leader !== this.#prevSoft.leader) {
      rd.softState = { role: r.role, leader: r.leader };
      this.#prevSoft = rd.softState;
    }
    this.#outstanding = rd;
    return rd;
  }

  /** Tells the core the host finished `ready`: entries persisted, committed entries applied. */
  advance(ready: Ready): void {
    invariant(this.#outstanding === ready, "advance() of a Ready that is not the outstanding one");
    this.#outstanding = null;
    const r = this.#raft;
    if (ready.snapshot !== undefined) {
      r.log.stableSnapTo(ready.snapshot.metadata.index);
      r.log.appliedTo(ready.snapshot.metadata.index);
    }
    const n = ready.entries.length;
    if (n > 0) r.log.stableTo(ready.entries[n - 1].index, ready.entries[n - 1].term);
    const committed = ready.committedEntries;
    if (committed.length > 0) {
      r.log.appliedTo(committed[committed.length - 1].index);
      r.onApplied(committed);
    }
  }

  /**
   * A snapshot value at applied index `index` holding the state machine image `data`. The
   * host persists it and may then compact its log storage up to `index`. Throws if
   * `index` is past the applied index or already compacted.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    return this.#raft.createSnapshot(index, data);
  }

  /** The node's state: role, term, indexes, membership, and on a leader each member's progress. */
  status(): RaftStatus {
    const r = this.#raft;
    const status: RaftStatus = {
      id: r.id,
      role: r.role,
      leader: r.leader,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      conf: { voters: [...r.conf.voters], learners: [...r.conf.learners] },
      leadTransferee: r.leadTransferee,
      uncommittedBytes: r.role === "leader" ? r.uncommittedBytes : 0,
    };
    if (r.role === "leader") {
      const progress: Record<NodeId, ProgressStatus> = {};
      for (const [id, pr] of r.progress) progress[id] = pr.status();
      status.progress = progress;
    }
    return status;
  }

  #hardState(): HardState {
    const r = this.#raft;
    return { term: r.term, vote: r.vote, commit: r.log.committed };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Starts a brand-new node over empty `storage`. With `config.peers` it bootstraps a group:
 * the first Ready carries committed conf-change entries (term 1) adding each peer (with its
 * `config.peerContexts` entry as context), the same on every initial member. Without peers
 * it is a joiner that learns the membership from the leader's log or snapshot. Throws RangeError if storage is not empty or config is invalid.
 */
export function createRaftNode(config: RaftConfig, storage: LogStorage): RaftNode {
  const { hardState } = storage.initialState();
  if (storage.lastIndex() !== 0 || hardState.term !== 0) {
    throw new RangeError("createRaftNode needs empty storage; use restartRaftNode");
  }
  const raft = new Raft(config, storage);
  const voters = [...new Set(config.peers ?? [])].sort();
  const learners = [...new Set(config.learners ?? [])].filter((id) => !voters.includes(id)).sort();
  if (voters.length === 0) {
    if (learners.length > 0) throw new RangeError("a group needs at least one voter");
    return new RaftNode(raft);
  }
  const withContext = (change: ConfChange): ConfChange => {
    const context = config.peerContexts?.[change.nodeId];
    return context === undefined ? change : { ...change, context };
  };
  const changes: ConfChange[] = [
    ...voters.map((nodeId) => withContext({ type: "add-voter", nodeId })),
    ...learners.map((nodeId) => withContext({ type: "add-learner", nodeId })),
  ];
  const entries: Entry[] = changes.map((c, i) => ({
    term: 1,
    index: i + 1,
    type: "conf-change",
    data: encodeConfChange(c),
  }));
  raft.becomeFollower(1, null);
  raft.log.append(entries);
  raft.log.commitTo(entries.length);
  for (const e of entries) raft.applyConfEntry(e);
  return new RaftNode(raft);
}

/**
 * Restarts a node from what `storage` persisted: hard state, snapshot and log. The
 * membership is the snapshot's plus every committed conf change after it. `config.peers`
 * and `config.learners` are ignored. Throws RangeError when `storage` holds nothing (no
 * hard state, no entry, no snapshot): a node that never persisted anything is new and
 * must start with createRaftNode (with the initial peers for a founding member, without
 * them for a joiner); restarting it would leave it with no log and no membership.
 */
export function restartRaftNode(config: RaftConfig, storage: LogStorage): RaftNode {
  const { hardState, confState } = storage.initialState();
  if (isEmptyStorage(storage, hardState)) {
    throw new RangeError(
      "restartRaftNode needs persisted state but the storage is empty; " +
        "use createRaftNode for a new member",
    );
  }
  const raft = new Raft(config, storage);
  // Raft rule (check quorum / lease reads): a restarted node may have heard a leader just
  // before it stopped; it waits one election timeout before granting a vote.
  raft.restartQuietTicks = raft.cfg.electionTicks;
  const snapIndex = storage.firstIndex() - 1;
  raft.setConf(confState, snapIndex);
  invariant(hardState.commit <= storage.lastIndex(), "persisted commit past the persisted log");
  if (hardState.term > 0) raft.becomeFollower(hardState.term, null);
  // Planted bug (test-only knob): forget the vote cast in the persisted term.
  raft.vote = raft.cfg.knobs.forgetVoteOnRestart ? null : hardState.vote;
  raft.log.commitTo(Math.max(hardState.commit, snapIndex));
  raft.replayConf(snapIndex + 1, raft.log.committed);
  const node = new RaftNode(raft);
  return node;
}

/** True when `storage` holds no hard state, no entry and no snapshot. */
function isEmptyStorage(storage: LogStorage, hardState: HardState): boolean {
  const noHardState = hardState.term === 0 && hardState.vote === null && hardState.commit === 0;
  return noHardState && storage.lastIndex() === 0 && storage.firstIndex() === 1;
}
