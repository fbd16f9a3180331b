/** The documents of the cluster routes (/cluster, /cluster/members, /cluster/leader). */

/** One member as `GET /cluster` shows it; leader-only figures are null off the leader. */
export interface ClusterMember {
  id: string;
  /** Peer (Raft) address host:port, or null when unknown to the node that answered. */
  peer: string | null;
  role: "voter" | "learner";
  leader: boolean;
  /** Highest log index the leader knows the member holds. */
  match_index: number | null;
  /** Entries the member is behind the leader's last index. */
  lag: number | null;
  /** The leader's replication state to it: "probe", "replicate" or "snapshot". */
  progress: string | null;
  /** The leader heard from it within the last election timeout. */
  active: boolean | null;
  /** What the member reported itself; null when it did not answer in time. */
  commit_index: number | null;
  applied_index: number | null;
}

/** The answer of `GET /cluster`. */
export interface ClusterView {
  /** The node that built the view (the leader, unless `complete` is false). */
  answered_by: string;
  /** True when the leader built it, with every member's progress. */
  complete: boolean;
  leader: string | null;
  term: number;
  commit_index: number;
  last_index: number;
  transfer_to: string | null;
  members: ClusterMember[];
}

/** The answer of a member change. */
export interface MemberChange {
  id: string;
  /** The role after the call; null once removed. */
  role: "voter" | "learner" | null;
  peer: string | null;
  /** False when the member already was as asked. */
  changed: boolean;
  /** Log index of the membership change, when one was made. */
  index: number | null;
  /** Peer addresses of every member after the change. */
  peers: Record<string, string>;
}

/** The answer of `POST /cluster/leader`. */
export interface LeaderTransfer {
  leader: string;
  previous: string;
  changed: boolean;
  term: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks the shape of a `GET /cluster` answer; undefined when it is not one. */
export function asClusterView(value: unknown): ClusterView | undefined {
  if (!isObject(value) || !Array.isArray(value.members)) return undefined;
  if (typeof value.answered_by !== "string" || typeof value.term !== "number") return undefined;
  const membersOk = value.members.every((m) =>
    isObject(m) && typeof m.id === "string" && (m.role === "voter" || m.role === "learner")
  );
  return membersOk ? value as unknown as ClusterView : undefined;
}

/** Checks the shape of a member change answer; undefined when it is not one. */
export function asMemberChange(value: unknown): MemberChange | undefined {
  if (!isObject(value) || typeof value.id !== "string" || typeof value.changed !== "boolean") {
    return undefined;
  }
  return value as unknown as MemberChange;
}

/** Checks the shape of a leader transfer answer; undefined when it is not one. */
export function asLeaderTransfer(value: unknown): LeaderTransfer | undefined {
  if (!isObject(value) || typeof value.leader !== "string" || typeof value.term !== "number") {
    return undefined;
  }
  return value as unknown as LeaderTransfer;
}
