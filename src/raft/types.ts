/**
 * The public types of ringkv's Raft core: entries, hard state, messages, snapshots, the
 * Ready contract, configuration and the log storage interface.
 *
 * API changes (newest last; the API only grows, except where noted here):
 * - added: RaftNode.id, RaftNode.campaign(), seededRandom (mod.ts), NodeId export in mod.ts.
 * - readIndex on a follower throws NotLeaderError (like propose); the host forwards it.
 * - restartRaftNode throws RangeError on storage that holds nothing (use createRaftNode).
 * - added: ConfChange.context (opaque host data in the entry), RaftConfig.peerContexts.
 */

/** A Raft member's id, unique within a group. */
export type NodeId = string;

/** What an entry carries: client data, a membership change, or a leader's election no-op. */
export type EntryType = "normal" | "conf-change" | "noop";

/** One log entry. `index` starts at 1; `term` is the leader's term that created it. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Client bytes ("normal"), an encoded ConfChange ("conf-change"), or empty ("noop"). */
  data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or null. */
  vote: NodeId | null;
  /** Highest index known committed (persisted lazily; never moves backwards). */
  commit: number;
}

/** The members of a group: voters count toward quorums, learners only receive the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/**
 * One server at a time membership change, carried by a "conf-change" entry. `context` is
 * opaque host data that rides along in the entry (ringkv puts the node's peer address there);
 * the core never interprets it.
 */
export type ConfChange =
  | { type: "add-voter"; nodeId: NodeId; context?: string }
  | { type: "add-learner"; nodeId: NodeId; context?: string }
  | { type: "remove-node"; nodeId: NodeId; context?: string };

/** Where a snapshot stands in the log and which members it holds. */
export interface SnapshotMetadata {
  /** Index of the last entry the snapshot covers. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Membership as of `index`. */
  conf: ConfState;
}

/** A state machine image taken by the host, plus where it stands in the log. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  /** Opaque state machine bytes; the core never looks inside. */
  data: Uint8Array;
}

/** The roles of a Raft node. "pre-candidate" is the pre-vote phase of an election. */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Fields every message carries. The transport adds the group id around it. */
export interface MessageBase {
  from: NodeId;
  to: NodeId;
  /** Sender's term (for pre-vote requests: the term the sender would campaign in). */
  term: number;
}

/** RequestVote or its pre-vote rehearsal. */
export interface VoteRequest extends MessageBase {
  type: "vote" | "pre-vote";
  lastLogIndex: number;
  lastLogTerm: number;
  /** Set when the election follows a leadership transfer: voters skip the leader lease check. */
  transfer: boolean;
}

/** Answer to a VoteRequest. */
export interface VoteResponse extends MessageBase {
  type: "vote-resp" | "pre-vote-resp";
  reject: boolean;
}

/** AppendEntries: new entries after (prevLogIndex, prevLogTerm), plus the leader's commit. */
export interface AppendRequest extends MessageBase {
  type: "append";
  prevLogIndex: number;
  prevLogTerm: number;
  entries: Entry[];
  commit: number;
}

/** Answer to an AppendRequest. */
export interface AppendResponse extends MessageBase {
  type: "append-resp";
  reject: boolean;
  /**
   * On success, the highest index now known to match the leader's log. On reject, the
   * prevLogIndex that was rejected.
   */
  index: number;
  /** On reject: the follower's hint, an index at or below which the logs may agree. */
  hintIndex: number;
  /** On reject: the term of the follower's entry at hintIndex (0 if none). */
  hintTerm: number;
}

/** Leader heartbeat; `readSeq` > 0 asks the follower to confirm leadership for a read round. */
export interface Heartbeat extends MessageBase {
  type: "heartbeat";
  commit: number;
  readSeq: number;
}

/** Answer to a Heartbeat, echoing its `readSeq`. */
export interface HeartbeatResponse extends MessageBase {
  type: "heartbeat-resp";
  readSeq: number;
}

/** One chunk of an InstallSnapshot stream; chunks arrive in order of `offset`. */
export interface SnapshotChunk extends MessageBase {
  type: "snapshot";
  metadata: SnapshotMetadata;
  /** Byte offset of `data` in the snapshot's data. */
  offset: number;
  /** Total byte length of the snapshot's data. */
  totalBytes: number;
  data: Uint8Array;
}

/** Acknowledges snapshot chunks: `offset` is how many bytes of the snapshot the follower holds. */
export interface SnapshotResponse extends MessageBase {
  type: "snapshot-resp";
  /** Index of the snapshot being received. */
  index: number;
  offset: number;
  /** True when the follower could not use the chunk (it then reports the offset it expects). */
  reject: boolean;
}

/** Tells the transfer target to start an election at once (leadership transfer). */
export interface TimeoutNow extends MessageBase {
  type: "timeout-now";
}

/** Every message the core sends and accepts. */
export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow;

/** The kinds of message, as strings. */
export type MessageType = Message["type"];

/** Volatile state the host may want to observe (not persisted). */
export interface SoftState {
  role: Role;
  /** The leader this node knows of in its current term, or null. */
  leader: NodeId | null;
}

/** A read request confirmed safe: serve it once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * What the host must do, in this order:
 * 1. persist `snapshot` (if any), then `entries` (replacing any conflicting suffix), then
 *    `hardState` (if any), syncing when `mustSync`;
 * 2. send `messages` (only after step 1 is durable);
 * 3. apply `committedEntries` to the state machine, in order;
 * 4. serve `readStates` once the state machine has applied their index;
 * then call `advance(ready)`.
 */
export interface Ready {
  /** Present when role or leader changed since the last Ready. */
  softState?: SoftState;
  /** Present when term, vote or commit changed since the last Ready. */
  hardState?: HardState;
  /** Entries to append to stable storage. */
  entries: Entry[];
  /** A snapshot received from the leader, to persist and restore the state machine from. */
  snapshot?: Snapshot;
  /** Messages to send after persisting. */
  messages: Message[];
  /** Entries committed and not yet handed out, to apply in order. */
  committedEntries: Entry[];
  /** Reads now safe to serve (after applying up to their index). */
  readStates: ReadState[];
  /** True when term, vote or entries changed: the write must be synced before sending. */
  mustSync: boolean;
}

/** Per-follower replication state, seen from the leader. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** A leader's view of one follower. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  /** Appends sent and not yet acknowledged. */
  inflight: number;
  recentActive: boolean;
  isLearner: boolean;
  /** Index of the snapshot being sent to this member (state "snapshot"), else 0. */
  snapshotIndex: number;
}

/** A snapshot of a node's state for operators and tests. */
export interface RaftStatus {
  id: NodeId;
  role: Role;
  leader: NodeId | null;
  term: number;
  vote: NodeId | null;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  /** Only on a leader: each member's progress (including the leader itself). */
  progress?: Record<NodeId, ProgressStatus>;
  /** Target of a leadership transfer in progress, or null. */
  leadTransferee: NodeId | null;
  /** Bytes of proposed entries not yet committed (leader only, else 0). */
  uncommittedBytes: number;
}

/** How ReadIndex is confirmed. */
export type ReadOnlyOption = "safe" | "lease-based";

/** Options of one ReadIndex request. */
export interface ReadIndexOptions {
  /**
   * Serve this read from the leader lease when it holds, as readOnlyOption "lease-based" does
   * for every read (same rules: needs checkQuorum, no lease during a leadership transfer or
   * once TimeoutNow went out this term); otherwise it waits for a heartbeat round. Default
   * false.
   */
  lease?: boolean;
}

/**
 * Test-only switches that each plant a known bug, so the simulator can prove it catches it.
 * All default to false; never enable them outside tests.
 */
export interface RaftKnobs {
  /** Serve ReadIndex at once, without confirming leadership with a heartbeat quorum. */
  readIndexWithoutQuorum: boolean;
  /** Count replicas of previous-term entries toward commit (the Figure 8 bug). */
  commitPreviousTermByCount: boolean;
  /** Grant votes without checking that the candidate's log is up to date. */
  voteWithoutLogCheck: boolean;
  /** On restart from persisted state, ignore the persisted vote. */
  forgetVoteOnRestart: boolean;
}

/** Configuration of one Raft node. Only `id` is required. */
export interface RaftConfig {
  id: NodeId;
  /** Initial voters, used only by createRaftNode to bootstrap a new group. Include `id`. */
  peers?: NodeId[];
  /** Initial learners, used only by createRaftNode. */
  learners?: NodeId[];
  /**
   * Opaque host data per initial member, carried as the `context` of its bootstrap
   * conf-change entry (used only by createRaftNode; members without one get none).
   */
  peerContexts?: Record<NodeId, string>;
  /** Ticks without hearing from a leader before a follower campaigns (randomized to 2x). Default 10. */
  electionTicks?: number;
  /** Ticks between leader heartbeats. Default 1. Must be < electionTicks. */
  heartbeatTicks?: number;
  /** Run a pre-vote round before incrementing the term. Default true. */
  preVote?: boolean;
  /** A leader steps down if it has not heard from a quorum within electionTicks. Default true. */
  checkQuorum?: boolean;
  /** Maximum bytes of entry data in one append message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Maximum entries in one append message. Default 4096. */
  maxEntriesPerAppend?: number;
  /** Maximum append messages in flight to one follower (the pipeline window). Default 256. */
  maxInflightMsgs?: number;
  /** Maximum bytes of proposed, uncommitted entry data on a leader. Default 64 MiB. */
  maxUncommittedBytes?: number;
  /** Maximum bytes of committed entries handed out in one Ready. Default 64 MiB. */
  maxCommittedBytesPerReady?: number;
  /** Maximum bytes of snapshot data per InstallSnapshot chunk. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /** Maximum ReadIndex requests waiting on a leader. Default 65536. */
  maxPendingReads?: number;
  /**
   * "safe" (default) confirms each read round with a heartbeat quorum. "lease-based" serves
   * reads from the leader lease without a round trip: correct only if clocks drift within
   * bounds (a tick lasts about as long on every node), and it requires checkQuorum. A leader
   * confirms reads with a heartbeat round instead while a leadership transfer is pending and,
   * once it sent TimeoutNow, for the rest of its term (the transferee skips the lease).
   */
  readOnlyOption?: ReadOnlyOption;
  /** Seed of the PRNG that randomizes election timeouts. Default: derived from `id`. */
  randomSeed?: number;
  /** Overrides the PRNG: returns a number in [0, 1). */
  random?: () => number;
  /** Test-only planted bugs; default all off. */
  knobs?: Partial<RaftKnobs>;
}

/**
 * Read access to the persisted log (etcd's Storage). The host writes it (append, hard state,
 * snapshots, compaction) between `ready()` and `advance()`; the core only reads it.
 */
export interface LogStorage {
  /** The persisted hard state and the membership as of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if lo < hi, at most about `maxBytes` of data. Throws CompactedError / UnavailableError. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at `index` (first-1 gives the snapshot's term). Throws CompactedError / UnavailableError. */
  term(index: number): number;
  /** Index of the first entry still held (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry held (snapshot index if none). */
  lastIndex(): number;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

/** What propose and proposeConfChange assign to an accepted proposal. */
export interface ProposalPosition {
  index: number;
  term: number;
}
