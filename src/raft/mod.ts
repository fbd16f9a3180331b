/**
 * ringkv's Raft consensus core: a pure state machine with no I/O, timers or randomness of
 * its own. The host drives a RaftNode with tick/step/propose/readIndex and performs what
 * each Ready asks, in order (persist, send, apply), then calls advance:
 *
 * ```ts
 * const storage = new MemoryStorage();
 * const node = createRaftNode({ id: "n1", peers: ["n1", "n2", "n3"] }, storage);
 * // on a timer: node.tick(); on a message: node.step(msg); on a write: node.propose(bytes)
 * if (node.hasReady()) {
 *   const rd = node.ready();
 *   if (rd.snapshot) storage.applySnapshot(rd.snapshot);
 *   storage.append(rd.entries);
 *   if (rd.hardState) storage.setHardState(rd.hardState);
 *   send(rd.messages); // only now: they may promise what was just persisted
 *   apply(rd.committedEntries);
 *   serveWhenApplied(rd.readStates);
 *   node.advance(rd);
 * }
 * ```
 *
 * A restarted process calls restartRaftNode(config, storage) instead; it throws on storage
 * that holds nothing (a node that never persisted anything is new: createRaftNode). The
 * files split the core by concept: raft.ts (roles, step), raft_log.ts (stable and unstable
 * log), progress.ts (per-follower state and in-flight window), quorum.ts, read_only.ts
 * (ReadIndex), conf_change.ts, raw_node.ts (the Ready contract), memory_storage.ts.
 */

export type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  LogStorage,
  Message,
  MessageBase,
  MessageType,
  NodeId,
  ProgressState,
  ProgressStatus,
  ProposalPosition,
  RaftConfig,
  RaftKnobs,
  RaftStatus,
  ReadIndexOptions,
  ReadOnlyOption,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotChunk,
  SnapshotMetadata,
  SnapshotResponse,
  SoftState,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from "./types.ts";
export {
  CompactedError,
  NotLeaderError,
  ProposalDroppedError,
  type ProposalDroppedReason,
  RaftInvariantError,
  UnavailableError,
} from "./errors.ts";
export { entryBytes, MemoryStorage } from "./memory_storage.ts";
export { applyConfChange, decodeConfChange, encodeConfChange } from "./conf_change.ts";
export { createRaftNode, RaftNode, restartRaftNode } from "./raw_node.ts";
export { seededRandom } from "./raft.ts";
