/**
 * Cluster membership as an operator sees it: the view of GET /cluster, adding a node as a
 * learner, promoting it to voter once it has caught up, removing a member (the leader hands
 * its leadership over first), leadership transfer, and the `--join` procedure of a new node.
 * Any node accepts a call and forwards it to the leader over the peer transport; the leader
 * makes one change at a time (the Raft core changes one server at a time).
 */
import { type Logger, silentLogger } from "../log.ts";
import {
  type ConfChange,
  type NodeId,
  NotLeaderError,
  ProposalDroppedError,
  type RaftStatus,
  type Role,
} from "../raft/mod.ts";
import type { ForwardRequest, ForwardResponse, MemberRole, MembershipCall } from "./forwarding.ts";
import { isNotLeader, notAppliedError, outcomeUnknownError } from "./group_host.ts";
import { KvServiceError } from "./kv_service.ts";
import { encodeMemberContext } from "./member_context.ts";
import type { MembershipServer, RaftTiming } from "./raft_host.ts";

export type { MemberRole } from "./forwarding.ts";

/** Why a membership call failed: "invalid" 400, "not_found" 404, "conflict" 409, "unavailable" 503. */
export type MembershipErrorCode = "invalid" | "not_found" | "conflict" | "unavailable";

/** Extra fields of a membership problem (e.g. `reason`, `lag`). */
export type ProblemFields = Record<string, string | number | boolean | null>;

/** A refused membership call; `extra.reason` names the cause of a 409 for programs. */
export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
    readonly extra: ProblemFields = {},
  ) {
    super(message);
    this.name = "MembershipError";
  }
}

/** One member as GET /cluster shows it. Leader-only fields are null off the leader. */
export interface MemberView {
  id: NodeId;
  /** Peer (Raft) address host:port; null when this node does not know it. */
  peer: string | null;
  role: MemberRole;
  leader: boolean;
  /** Highest log index the leader knows the member holds. */
  match_index: number | null;
  /** Entries the member is behind the leader's last index. */
  lag: number | null;
  /** The leader's replication state to it: "probe", "replicate" or "snapshot". */
  progress: string | null;
  /** The leader heard from it within the last election timeout. */
  active: boolean | null;
  /** What the member itself reported; null when it did not answer in time. */
  commit_index: number | null;
  applied_index: number | null;
}

/** The answer of GET /cluster. */
export interface ClusterView {
  /** The node that built this view (the leader, unless `complete` is false). */
  answered_by: NodeId;
  /** True when built by the leader, with every member's progress. */
  complete: boolean;
  leader: NodeId | null;
  term: number;
  /** Commit and last log index of the node that answered. */
  commit_index: number;
  last_index: number;
  /** Target of a leadership transfer in progress, or null. */
  transfer_to: NodeId | null;
  members: MemberView[];
}

/** The answer of a member change (POST and DELETE /cluster/members). */
export interface MemberChange {
  id: NodeId;
  /** The member's role after the call; null once removed. */
  role: MemberRole | null;
  peer: string | null;
  /** False when the member already was as asked (nothing was proposed). */
  changed: boolean;
  /** Log index of the membership change, when one was made. */
  index: number | null;
  /** Peer addresses of every member after the change (what a joining node needs). */
  peers: Record<NodeId, string>;
}

/** The answer of POST /cluster/leader. */
export interface LeaderTransfer {
  leader: NodeId;
  previous: NodeId;
  changed: boolean;
  term: number;
}

/**
 * A set-member request. Without `role` (or with "learner"): add `id` as a learner at `peer`,
 * unless it is a member already. With role "voter": promote learner `id` once caught up.
 */
export interface MemberRequest {
  id: NodeId;
  role?: MemberRole;
  peer?: string;
}

/** What the HTTP API needs from a cluster node. Every method may throw MembershipError. */
export interface ClusterAdmin {
  view(): Promise<ClusterView>;
  setMember(request: MemberRequest): Promise<MemberChange>;
  removeMember(id: NodeId): Promise<MemberChange>;
  transferLeader(id?: NodeId): Promise<LeaderTransfer>;
}

/** The group calls membership needs (GroupHost has them). */
export interface MembershipGroup {
  readonly groupId: number;
  readonly leader: NodeId | null;
  readonly isLeader: boolean;
  readonly appliedIndex: number;
  status(): RaftStatus;
  proposeConfChange(change: ConfChange): Promise<number>;
  transferLeader(to: NodeId): void;
  waitForLeader(timeoutMs: number): Promise<NodeId | null>;
}

/** The host calls membership needs (RaftHost has them). */
export interface MembershipHost {
  readonly nodeId: NodeId;
  readonly timing: RaftTiming;
  readonly removed: boolean;
  /** True when the node runs without a peer transport (started without --cluster). */
  readonly standalone?: boolean;
  group(): MembershipGroup;
  peers(): Record<NodeId, string>;
  peerAddress(id: NodeId): string | undefined;
  /** Milliseconds since a message from peer `id` last arrived; null when none did. */
  peerContactAgoMs(id: NodeId): number | null;
  learnPeers(peers: Record<NodeId, string>): void;
  retire(index: number, by: NodeId): void;
  forward(
    to: NodeId,
    request: ForwardRequest,
    timeoutMs: number,
  ): Promise<ForwardResponse | undefined>;
  serveMembership(server: MembershipServer): void;
}

/** Options of {@link Membership}. */
export interface MembershipOptions {
  logger?: Logger;
  /** A learner is promoted only within this many entries of the leader's last index. Default 1000. */
  promoteLagMax?: number;
}

/** Options of {@link Membership.join}. */
export interface JoinOptions {
  /** Base URL of any member's HTTP API. */
  url: string;
  /** This node's peer address as the others must dial it. */
  peer: string;
  /** Bearer token for the member's API, when it requires one. */
  token?: string;
  /** Give up after this long. Default 30 minutes. */
  deadlineMs?: number;
  /** fetch implementation (tests). Default globalThis.fetch. */
  fetch?: typeof fetch;
}

/** A node report of the "node-status" call. */
interface NodeReport {
  id: NodeId;
  role: Role;
  commit_index: number;
  applied_index: number;
}

/** Attempts to reach the current leader before giving up. */
const hopsMax = 3;
/** Default of MembershipOptions.promoteLagMax. */
export const promoteLagMaxDefault = 1000;
const joinDeadlineMsDefault = 30 * 60_000;
const joinRequestTimeoutMs = 10_000;

/** Runs membership calls on this node or forwards them to the leader; see the module comment. */
export class Membership implements ClusterAdmin {
  #host: MembershipHost;
  #logger: Logger;
  #promoteLagMax: number;
  /** The change this (leader) node is making now, if any. */
  #busy: string | undefined;
  #abort = new AbortController();
  #joining: Promise<void> | undefined;

  /** Serves forwarded membership calls of `host` from now on. */
  constructor(host: MembershipHost, options: MembershipOptions = {}) {
    this.#host = host;
    this.#logger = options.logger ?? silentLogger;
    this.#promoteLagMax = options.promoteLagMax ?? promoteLagMaxDefault;
    if (!(Number.isSafeInteger(this.#promoteLagMax) && this.#promoteLagMax >= 0)) {
      throw new RangeError("promoteLagMax must be a non-negative integer");
    }
    host.serveMembership((from, request) => this.#serve(from, request));
  }

  /** The cluster as the leader sees it; this node's own view when the leader cannot be asked. */
  async view(): Promise<ClusterView> {
    const group = this.#host.group();
    if (group.isLeader) {
      try {
        return await this.#leaderView();
      } catch (error) {
        if (!isNotLeader(error)) throw error;
      }
    }
    const leader = group.leader;
    if (leader !== null && leader !== this.#host.nodeId && !this.#host.removed) {
      const call: MembershipCall = { call: "cluster-view" };
      const resp = await this.#host.forward(leader, this.#request(call), this.#viewTimeoutMs * 2);
      if (resp?.ok === true && isClusterView(resp.value)) return resp.value;
    }
    return this.#localView();
  }

  /** Adds `id` as a learner or promotes it; see MemberRequest. Forwarded to the leader. */
  async setMember(request: MemberRequest): Promise<MemberChange> {
    if (this.#host.standalone === true) {
      throw new MembershipError(
        "conflict",
        `this node runs alone (started without --cluster) and has no peer port a new member ` +
          `could reach; restart it with the same --data-dir plus --peer host:port and ` +
          `--cluster ${this.#host.nodeId}=host:port, then add members`,
      );
    }
    return await this.#call({ call: "set-member", ...request }) as MemberChange;
  }

  /** Removes member `id` (the leader hands over its leadership first). */
  async removeMember(id: NodeId): Promise<MemberChange> {
    return await this.#call({ call: "remove-member", id }) as MemberChange;
  }

  /** Hands leadership to voter `id`, or to the most caught-up voter when `id` is undefined. */
  async transferLeader(id?: NodeId): Promise<LeaderTransfer> {
    const call: MembershipCall = id === undefined
      ? { call: "transfer-leader" }
      : { call: "transfer-leader", id };
    return await this.#call(call) as LeaderTransfer;
  }

  /**
   * Starts the `--join` procedure in the background, unless this node already has a log
   * (a restarted node never joins again): ask `options.url` to add this node as a learner
   * (retrying with backoff), then, once it has received the log, ask the leader to promote
   * it, retrying while the leader answers that it lags. Progress is logged.
   */
  startJoin(options: JoinOptions): void {
    const status = this.#host.group().status();
    if (status.lastIndex > 0 || status.term > 0) {
      this.#logger.info("this node has a Raft log: it is already a member, not joining again", {
        last_index: status.lastIndex,
      });
      return;
    }
    this.#joining ??= this.#join(options).catch((error) => {
      this.#logger.error("joining the cluster failed", { error });
    });
  }

  /** Stops the join procedure (if running) and waits for it. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#joining;
  }

  // ---- routing ----

  get #leaderWaitMs(): number {
    const t = this.#host.timing;
    return Math.min(t.proposalTimeoutMs, 6 * t.electionTicks * t.tickMs);
  }

  get #transferTimeoutMs(): number {
    const t = this.#host.timing;
    return Math.max(2000, 4 * t.electionTicks * t.tickMs);
  }

  get #viewTimeoutMs(): number {
    return Math.min(1000, this.#host.timing.readTimeoutMs);
  }

  #request(call: MembershipCall): ForwardRequest {
    return { op: "membership", group: this.#host.group().groupId, ...call };
  }

  /** Serves `call` here when this node leads, else forwards it to the leader. */
  async #call(call: MembershipCall): Promise<unknown> {
    const t = this.#host.timing;
    const timeoutMs = 2 * t.proposalTimeoutMs + this.#transferTimeoutMs;
    for (let hop = 0; hop < hopsMax; hop++) {
      if (hop > 0) await sleep(t.heartbeatTicks * t.tickMs * 2);
      if (this.#host.removed) {
        throw new MembershipError(
          "unavailable",
          "this node was removed from the cluster; send the request to a member",
        );
      }
      const leader = await this.#host.group().waitForLeader(this.#leaderWaitMs);
      if (leader === null) throw notAppliedError("no leader: the cluster has no quorum now");
      if (leader === this.#host.nodeId) {
        try {
          return await this.#serveHere(call);
        } catch (error) {
          if (isNotLeader(error)) continue;
          throw error;
        }
      }
      const resp = await this.#host.forward(leader, this.#request(call), timeoutMs);
      if (resp === undefined) {
        throw outcomeUnknownError(
          `no answer from the leader ${leader} in time; the change may have been made: ` +
            "see GET /cluster",
        );
      }
      if (resp.ok) return resp.value;
      if (resp.code === "not_leader") continue;
      throw errorOfResponse(resp);
    }
    throw notAppliedError("the leader kept changing; nothing was changed; retry");
  }

  /** Answers a call forwarded by `from`. */
  async #serve(
    from: NodeId,
    request: Extract<ForwardRequest, { op: "membership" }>,
  ): Promise<ForwardResponse> {
    try {
      if (request.call === "node-status") return { ok: true, value: this.#nodeReport() };
      if (request.call === "removed") {
        this.#host.retire(request.index, from);
        return { ok: true };
      }
      const group = this.#host.group();
      if (!group.isLeader) {
        return { ok: false, code: "not_leader", message: "not the leader", leader: group.leader };
      }
      return { ok: true, value: await this.#serveHere(request) };
    } catch (error) {
      if (isNotLeader(error)) {
        return { ok: false, code: "not_leader", message: error.message, leader: error.leader };
      }
      if (error instanceof MembershipError) {
        return { ok: false, code: error.code, message: error.message, extra: error.extra };
      }
      throw error;
    }
  }

  /** Runs a leader call on this node; throws NotLeaderError when it does not lead. */
  #serveHere(call: MembershipCall): Promise<unknown> {
    switch (call.call) {
      case "cluster-view":
        return this.#leaderView();
      case "set-member":
        return this.#exclusive(
          `${call.role === "voter" ? "promoting" : "adding"} ${call.id}`,
          () => this.#setMemberHere(call),
        );
      case "remove-member":
        return this.#removeHere(call.id);
      case "transfer-leader":
        return this.#exclusive("transferring leadership", () => this.#transferHere(call.id));
      case "node-status":
        return Promise.resolve(this.#nodeReport());
      case "removed":
        throw new Error("a removal notice is served by #serve only");
    }
  }

  /** Runs one change at a time on this leader; a second one meanwhile is refused with 409. */
  async #exclusive<T>(what: string, change: () => Promise<T>): Promise<T> {
    if (this.#busy !== undefined) {
      throw new MembershipError(
        "conflict",
        `another membership change is in progress (${this.#busy}); retry once it is done`,
        { reason: "change-in-progress" },
      );
    }
    this.#busy = what;
    try {
      // No other change runs here, so a change the core still holds pending is one of an
      // earlier leader, or this new leader's first entry: both settle within moments.
      const t = this.#host.timing;
      const deadline = Date.now() + Math.min(t.proposalTimeoutMs, this.#transferTimeoutMs);
      for (let attempt = 0;; attempt++) {
        try {
          return await change();
        } catch (error) {
          const pending = error instanceof ProposalDroppedError &&
            error.reason === "conf-change-pending";
          if (!pending || Date.now() >= deadline) throw mapDropped(error);
        }
        await sleep(Math.min(t.heartbeatTicks * t.tickMs * 2 ** Math.min(attempt, 4), 200));
      }
    } finally {
      this.#busy = undefined;
    }
  }

  // ---- changes, on the leader ----

  async #setMemberHere(request: MemberRequest): Promise<MemberChange> {
    const group = this.#leaderGroup();
    const { conf } = group.status();
    const { id, role, peer } = request;
    const known = this.#host.peerAddress(id);
    if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
      return await this.#addLearner(id, role, peer);
    }
    if (peer !== undefined && known !== undefined && peer !== known) {
      throw new MembershipError(
        "conflict",
        `${id} is already a member with peer ${known}; remove it first to change its address`,
        { reason: "member-conflict" },
      );
    }
    const unchanged = (r: MemberRole): MemberChange => ({
      id,
      role: r,
      peer: known ?? null,
      changed: false,
      index: null,
      peers: this.#allPeers(),
    });
    if (conf.voters.includes(id)) {
      if (role !== "learner") return unchanged("voter");
      throw new MembershipError(
        "conflict",
        `${id} is a voter and a voter cannot become a learner: remove it, then add it again`,
        { reason: "cannot-demote" },
      );
    }
    if (role !== "voter") return unchanged("learner");
    return await this.#promote(id, known);
  }

  async #addLearner(
    id: NodeId,
    role: MemberRole | undefined,
    peer: string | undefined,
  ): Promise<MemberChange> {
    if (role === "voter") {
      throw new MembershipError(
        "conflict",
        `${id} is not a member: add it as a learner first ({"id":"${id}","peer":"host:port"}), ` +
          "then promote it once it has caught up",
        { reason: "not-a-member" },
      );
    }
    if (peer === undefined) {
      throw new MembershipError(
        "invalid",
        `a new member needs its peer address: {"id":"${id}","peer":"host:port"}`,
      );
    }
    for (const [other, addr] of Object.entries(this.#allPeers())) {
      if (addr === peer) {
        throw new MembershipError(
          "conflict",
          `peer address ${peer} is already member ${other}'s; give ${id} its own address`,
          { reason: "peer-in-use" },
        );
      }
    }
    const context = encodeMemberContext({ peer });
    const group = this.#leaderGroup();
    const index = await group.proposeConfChange({ type: "add-learner", nodeId: id, context });
    this.#logger.info("member added as a learner", { member: id, peer, index });
    return { id, role: "learner", peer, changed: true, index, peers: this.#allPeers() };
  }

  async #promote(id: NodeId, peer: string | undefined): Promise<MemberChange> {
    const group = this.#leaderGroup();
    const status = group.status();
    const pr = status.progress?.[id];
    if (pr === undefined) throw new Error(`leader has no progress for member ${id}`); // invariant
    const lag = Math.max(0, status.lastIndex - pr.match);
    const figures = { lag, match_index: pr.match, last_index: status.lastIndex };
    const answering = this.#answering(id);
    if (!answering || pr.state !== "replicate" || lag > this.#promoteLagMax) {
      const why = !answering
        ? "has not answered the leader recently"
        : pr.state !== "replicate"
        ? `is still being brought up to date (${pr.state})`
        : `is more than ${this.#promoteLagMax} entries behind`;
      throw new MembershipError(
        "conflict",
        `${id} ${why}: it holds the log up to ${pr.match} of ${status.lastIndex} (lag ${lag}); ` +
          "retry once it has caught up",
        { reason: "lagging", ...figures },
      );
    }
    const change: ConfChange = peer === undefined
      ? { type: "add-voter", nodeId: id }
      : { type: "add-voter", nodeId: id, context: encodeMemberContext({ peer }) };
    const index = await group.proposeConfChange(change);
    this.#logger.info("learner promoted to voter", { member: id, index, lag });
    return { id, role: "voter", peer: peer ?? null, changed: true, index, peers: this.#allPeers() };
  }

  async #removeHere(id: NodeId): Promise<MemberChange> {
    const self = this.#host.nodeId;
    const status = this.#leaderGroup().status();
    const { conf } = status;
    if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
      throw new MembershipError("not_found", `${id} is not a member of the cluster`);
    }
    if (id !== self) {
      return await this.#exclusive(`removing ${id}`, async () => {
        const peer = this.#host.peerAddress(id) ?? null;
        const group = this.#leaderGroup();
        const index = await group.proposeConfChange({ type: "remove-node", nodeId: id });
        this.#logger.info("member removed", { member: id, index });
        return { id, role: null, peer, changed: true, index, peers: this.#allPeers() };
      });
    }
    // Removing the leader: hand leadership over, then the new leader removes this node.
    await this.#exclusive(`removing ${id}`, async () => {
      const target = mostCaughtUp(status, (id) => this.#answering(id));
      if (target === undefined) {
        throw new MembershipError(
          "conflict",
          `${id} is the only voter that answers; a cluster cannot remove its last voter`,
          { reason: "last-voter" },
        );
      }
      await this.#handOver(target);
    });
    return await this.#call({ call: "remove-member", id }) as MemberChange;
  }

  async #transferHere(id: NodeId | undefined): Promise<LeaderTransfer> {
    const self = this.#host.nodeId;
    const status = this.#leaderGroup().status();
    if (id === self) return { leader: self, previous: self, changed: false, term: status.term };
    if (id !== undefined && !status.conf.voters.includes(id)) {
      if (status.conf.learners.includes(id)) {
        throw new MembershipError(
          "conflict",
          `${id} is a learner: promote it to voter before handing it leadership`,
          { reason: "not-a-voter" },
        );
      }
      throw new MembershipError("not_found", `${id} is not a member of the cluster`);
    }
    const target = id ?? mostCaughtUp(status, (id) => this.#answering(id));
    if (target === undefined) {
      throw new MembershipError("conflict", "no other voter answers the leader now", {
        reason: "no-target",
      });
    }
    await this.#handOver(target);
    return {
      leader: target,
      previous: self,
      changed: true,
      term: this.#host.group().status().term,
    };
  }

  /** Asks the core to hand leadership to `target` and waits until `target` leads. */
  async #handOver(target: NodeId): Promise<void> {
    const group = this.#leaderGroup();
    const t = this.#host.timing;
    this.#logger.info("transferring leadership", { to: target });
    group.transferLeader(target);
    const deadline = Date.now() + this.#transferTimeoutMs;
    while (Date.now() < deadline) {
      await sleep(t.tickMs);
      const leader = group.leader;
      if (leader === target) {
        this.#logger.info("leadership transferred", { to: target, term: group.status().term });
        return;
      }
      if (leader !== null && leader !== this.#host.nodeId) {
        throw new MembershipError(
          "unavailable",
          `leadership moved to ${leader} instead of ${target}; retry`,
        );
      }
      // The core abandons a transfer after an election timeout (the target was still
      // catching up): ask again while time remains. The core's own role is checked: it may
      // have stepped down already (the target's election) before this host heard of it.
      const now = group.status();
      if (now.role === "leader" && now.leadTransferee === null) group.transferLeader(target);
    }
    throw new MembershipError(
      "unavailable",
      `leadership did not move to ${target} within ${this.#transferTimeoutMs} ms; check that ` +
        `${target} is up and caught up (GET /cluster), then retry`,
    );
  }

  /** True when a message from `id` arrived within the last election timeout (at most). */
  #answering(id: NodeId): boolean {
    const t = this.#host.timing;
    const agoMs = this.#host.peerContactAgoMs(id);
    return agoMs !== null && agoMs <= 2 * t.electionTicks * t.tickMs;
  }

  #leaderGroup(): MembershipGroup {
    const group = this.#host.group();
    if (!group.isLeader) throw new NotLeaderError(group.leader);
    return group;
  }

  #allPeers(): Record<NodeId, string> {
    const peers = this.#host.peers();
    const own = this.#host.peerAddress(this.#host.nodeId);
    if (own !== undefined) peers[this.#host.nodeId] = own;
    return peers;
  }

  // ---- views ----

  #nodeReport(): NodeReport {
    const status = this.#host.group().status();
    return {
      id: this.#host.nodeId,
      role: status.role,
      commit_index: status.commit,
      applied_index: this.#host.group().appliedIndex,
    };
  }

  async #leaderView(): Promise<ClusterView> {
    const group = this.#leaderGroup();
    const status = group.status();
    const self = this.#host.nodeId;
    const others = [...status.conf.voters, ...status.conf.learners].filter((id) => id !== self);
    const reports = new Map<NodeId, NodeReport>();
    reports.set(self, this.#nodeReport());
    await Promise.all(others.map(async (id) => {
      const call: MembershipCall = { call: "node-status" };
      const resp = await this.#host.forward(id, this.#request(call), this.#viewTimeoutMs);
      if (resp?.ok === true && isNodeReport(resp.value)) reports.set(id, resp.value);
    }));
    const view = this.#baseView(status);
    view.complete = true;
    for (const member of view.members) {
      const pr = status.progress?.[member.id];
      const report = reports.get(member.id);
      if (pr !== undefined) {
        member.match_index = pr.match;
        member.lag = Math.max(0, status.lastIndex - pr.match);
        member.progress = pr.state;
        member.active = member.id === self || this.#answering(member.id);
      }
      member.commit_index = report?.commit_index ?? null;
      member.applied_index = report?.applied_index ?? null;
    }
    return view;
  }

  #localView(): ClusterView {
    const status = this.#host.group().status();
    const view = this.#baseView(status);
    const own = view.members.find((m) => m.id === this.#host.nodeId);
    if (own !== undefined) {
      own.commit_index = status.commit;
      own.applied_index = this.#host.group().appliedIndex;
    }
    return view;
  }

  #baseView(status: RaftStatus): ClusterView {
    const member = (id: NodeId, role: MemberRole): MemberView => ({
      id,
      peer: this.#host.peerAddress(id) ?? null,
      role,
      leader: id === status.leader,
      match_index: null,
      lag: null,
      progress: null,
      active: null,
      commit_index: null,
      applied_index: null,
    });
    return {
      answered_by: this.#host.nodeId,
      complete: false,
      leader: status.leader,
      term: status.term,
      commit_index: status.commit,
      last_index: status.lastIndex,
      transfer_to: status.leadTransferee,
      members: [
        ...status.conf.voters.map((id) => member(id, "voter")),
        ...status.conf.learners.map((id) => member(id, "learner")),
      ],
    };
  }

  // ---- joining ----

  async #join(options: JoinOptions): Promise<void> {
    const deadline = Date.now() + (options.deadlineMs ?? joinDeadlineMsDefault);
    const added = await this.#askToBeAdded(options, deadline);
    if (added === undefined) return;
    this.#host.learnPeers(added.peers);
    this.#logger.info("added to the cluster as a learner; receiving the log", {
      index: added.index,
      via: options.url,
    });
    await this.#askToBePromoted(added.index ?? 0, deadline);
  }

  /** POSTs this node to `options.url` until it is a member; undefined when it gave up. */
  async #askToBeAdded(options: JoinOptions, deadline: number): Promise<MemberChange | undefined> {
    const self = this.#host.nodeId;
    const body = JSON.stringify({ id: self, peer: options.peer });
    const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    for (let attempt = 0; Date.now() < deadline && !this.#abort.signal.aborted; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt), this.#abort.signal);
      let outcome: { status: number; doc: Record<string, unknown> };
      try {
        const res = await doFetch(`${options.url.replace(/\/+$/, "")}/cluster/members`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          },
          body,
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(joinRequestTimeoutMs)]),
        });
        outcome = { status: res.status, doc: asObject(await res.json().catch(() => ({}))) };
      } catch (error) {
        if (this.#abort.signal.aborted) return undefined;
        this.#logger.warn("join request failed; retrying", { url: options.url, attempt, error });
        continue;
      }
      const { status, doc } = outcome;
      if (status === 200 && isMemberChange(doc)) return doc;
      const retryable = status === 503 || status === 500 ||
        (status === 409 && doc.reason === "change-in-progress");
      const fields = { url: options.url, attempt, status, detail: doc.detail };
      if (!retryable) {
        this.#logger.error(
          "the cluster refused to add this node; fix the cause and restart",
          fields,
        );
        return undefined;
      }
      this.#logger.warn("join request not served yet; retrying", fields);
    }
    if (!this.#abort.signal.aborted) {
      this.#logger.error("gave up joining the cluster: no member added this node in time", {
        url: options.url,
      });
    }
    return undefined;
  }

  /** Once the log up to `addedIndex` is here, asks the leader for promotion until it agrees. */
  async #askToBePromoted(addedIndex: number, deadline: number): Promise<void> {
    const self = this.#host.nodeId;
    for (let attempt = 0; Date.now() < deadline && !this.#abort.signal.aborted; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt), this.#abort.signal);
      if (this.#abort.signal.aborted || this.#host.removed) return;
      const group = this.#host.group();
      const status = group.status();
      if (status.conf.voters.includes(self)) {
        this.#logger.info("this node is a voter of the cluster", { term: status.term });
        return;
      }
      if (group.appliedIndex < addedIndex || group.leader === null) continue;
      try {
        const change = await this.setMember({ id: self, role: "voter" });
        this.#logger.info("promoted to voter", { index: change.index });
        return;
      } catch (error) {
        const lagging = error instanceof MembershipError && error.extra.reason === "lagging";
        const fields = {
          attempt,
          reason: lagging ? "catching up" : (error as Error).message,
          lag: error instanceof MembershipError ? error.extra.lag : undefined,
          applied_index: group.appliedIndex,
        };
        if (lagging) this.#logger.info("not promoted yet; retrying", fields);
        else this.#logger.warn("not promoted yet; retrying", fields);
      }
    }
    if (!this.#abort.signal.aborted) {
      this.#logger.error("gave up asking for promotion: this node stays a learner", {
        hint: 'promote it with POST /cluster/members {"id":"' + self + '","role":"voter"}',
      });
    }
  }
}

/** The voter other than the leader with the longest log among those that answer. */
function mostCaughtUp(
  status: RaftStatus,
  answering: (id: NodeId) => boolean,
): NodeId | undefined {
  let best: { id: NodeId; match: number } | undefined;
  for (const id of status.conf.voters) {
    const pr = status.progress?.[id];
    if (id === status.id || pr === undefined || !answering(id)) continue;
    if (best === undefined || pr.match > best.match) best = { id, match: pr.match };
  }
  return best?.id;
}

/** The core's refusals as membership errors (a change or transfer in flight: 409). */
function mapDropped(error: unknown): unknown {
  if (!(error instanceof ProposalDroppedError)) return error;
  switch (error.reason) {
    case "conf-change-pending":
      return new MembershipError(
        "conflict",
        "the previous membership change is not applied yet (or a new leader has not " +
          "committed its first entry); retry shortly",
        { reason: "change-in-progress" },
      );
    case "transfer-in-progress":
      return new MembershipError("conflict", "a leadership transfer is in progress; retry", {
        reason: "change-in-progress",
      });
    case "invalid-conf-change":
      return new MembershipError("conflict", "the change would leave the cluster without voters", {
        reason: "last-voter",
      });
    default:
      return new KvServiceError(
        "unavailable",
        `the leader refused the change now (${error.reason})`,
      );
  }
}

/** The error a forwarded call's refusal stands for. */
function errorOfResponse(resp: Extract<ForwardResponse, { ok: false }>): Error {
  const code = resp.code;
  if (code === "invalid" || code === "not_found" || code === "conflict" || code === "unavailable") {
    return new MembershipError(code, resp.message, resp.extra ?? {});
  }
  return new KvServiceError(code as KvServiceError["code"], resp.message);
}

function backoffMs(attempt: number): number {
  const capMs = Math.min(5000, 200 * 2 ** Math.min(attempt, 10));
  return capMs / 2 + Math.random() * capMs / 2;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? value as Record<string, unknown> : {};
}

function isClusterView(value: unknown): value is ClusterView {
  const v = asObject(value);
  return typeof v.answered_by === "string" && Array.isArray(v.members) &&
    typeof v.term === "number";
}

function isNodeReport(value: unknown): value is NodeReport {
  const v = asObject(value);
  return typeof v.id === "string" && typeof v.commit_index === "number" &&
    typeof v.applied_index === "number";
}

function isMemberChange(value: unknown): value is MemberChange {
  const v = asObject(value);
  const peers = asObject(v.peers);
  return typeof v.id === "string" && typeof v.peers === "object" &&
    Object.values(peers).every((p) => typeof p === "string");
}
