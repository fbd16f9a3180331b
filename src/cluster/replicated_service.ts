/**
 * The replicated KvService: writes go through group 1's Raft log and are acknowledged once
 * committed on a quorum and applied here; reads are linearizable by default (ReadIndex, then
 * a read of the local store once it has applied that index), or on request served from the
 * leader's lease, or stale (the local store at once). Any node serves any request: a follower
 * forwards writes and read-index (or lease-read) requests to the leader over the peer
 * transport.
 */
import type { NodeId } from "../raft/mod.ts";
import { type ApplyResult, encodeCommand, type KvCommand } from "./command.ts";
import { Coalescer } from "./coalescer.ts";
import { type ForwardRequest, type ForwardResponse, unreachableCode } from "./forwarding.ts";
import { isNotLeader, notAppliedError, outcomeUnknownError } from "./group_host.ts";
import { listStore, storeStatus } from "./store_view.ts";
import {
  type Bytes,
  type KvBatchOp,
  type KvListOptions,
  type KvListPage,
  type KvPutResult,
  type KvReadOptions,
  type KvService,
  KvServiceError,
  type KvStatus,
  type KvValue,
  type KvWriteOptions,
  type ReadConsistency,
  type ReplicaFreshness,
  type Version,
} from "./kv_service.ts";
import { defaultGroupId, type RaftHost } from "./raft_host.ts";
import { Membership } from "./membership.ts";

/** A failed write's error, carrying what the API shows (failing op, current version). */
export class ApplyError extends KvServiceError {
  readonly currentSeq?: number;

  /** Builds the error of a result that was not ok. */
  constructor(result: Extract<ApplyResult, { ok: false }>) {
    super(result.code as KvServiceError["code"], result.message, { opIndex: result.opIndex });
    this.currentSeq = result.currentSeq;
  }
}

/** Attempts to reach the current leader before giving up (each one follows a new leader hint). */
const hopsMax = 3;

/** A KvService over a RaftHost; closing the service closes the host. */
export class ReplicatedKvService implements KvService {
  #host: RaftHost;
  /** GET /cluster, member changes, leadership transfer and --join (see membership.ts). */
  readonly membership: Membership;
  #closing = false;

  /** Serves over a started host; the service owns it from now on. */
  constructor(host: RaftHost) {
    this.#host = host;
    this.membership = new Membership(host, {
      logger: host.logger.child({ component: "membership" }),
    });
  }

  /** The host (for status and tests). */
  get host(): RaftHost {
    return this.#host;
  }

  async get(key: Bytes, read: KvReadOptions = {}): Promise<KvValue | undefined> {
    await this.#readPoint(read.consistency);
    const found = await this.#group().store.getVersioned(key);
    if (found === undefined) return undefined;
    return { value: found.value, version: found.seq };
  }

  /** True while getCached can answer: this node leads its group alone (see readsLocally). */
  servesCachedNow(): boolean {
    return this.#group().readsLocally;
  }

  /** From memory, only where a local read is linearizable now (a leader alone in its group). */
  getCached(key: Bytes): KvValue | null | undefined {
    const group = this.#group();
    if (!group.readsLocally) return undefined;
    const found = group.store.getCachedVersioned?.(key);
    if (found === undefined || found === null) return found;
    return { value: found.value, version: found.seq };
  }

  async put(key: Bytes, value: Bytes, options: KvWriteOptions = {}): Promise<KvPutResult> {
    const r = await this.#write({ op: "put", key, value, condition: options.condition });
    if (r.version === undefined) throw new Error("a put applied without a version"); // invariant
    return { version: r.version, created: r.created === true };
  }

  async delete(key: Bytes, options: KvWriteOptions = {}): Promise<Version | undefined> {
    const r = await this.#write({ op: "delete", key, condition: options.condition });
    return r.version;
  }

  async batch(ops: KvBatchOp[]): Promise<{ version: Version }> {
    const r = await this.#write({ op: "batch", ops });
    if (r.version === undefined) throw new Error("a batch applied without a version"); // invariant
    return { version: r.version };
  }

  async list(options: KvListOptions, read: KvReadOptions = {}): Promise<KvListPage> {
    if (!(options.limit >= 1)) throw new RangeError(`list limit must be >= 1: ${options.limit}`);
    await this.#readPoint(read.consistency);
    return await listStore(this.#group().store, options);
  }

  replicaFreshness(): ReplicaFreshness {
    const group = this.#group();
    return { appliedIndex: group.appliedIndex, leaderContactAgoMs: group.leaderContactAgoMs() };
  }

  status(): KvStatus {
    return storeStatus(this.#group().store);
  }

  ready(): boolean {
    return !this.#closing && !this.#host.removed && this.#group().healthy;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.membership.close();
    await this.#host.close();
  }

  #group() {
    return this.#host.group(defaultGroupId);
  }

  /** Proposes on the leader (here or forwarded) and returns the ok result, or throws. */
  async #write(command: KvCommand): Promise<Extract<ApplyResult, { ok: true }>> {
    const result = await this.#propose(command);
    if (!result.ok) throw new ApplyError(result);
    return result;
  }

  async #propose(command: KvCommand): Promise<ApplyResult> {
    const group = this.#group();
    group.checkDiskFull();
    let encoded: Uint8Array | undefined;
    for (let hop = 0; hop < hopsMax; hop++) {
      if (hop > 0) await this.#pause();
      const leader = await this.#leader();
      if (leader === this.#host.nodeId) {
        try {
          return await group.propose(command);
        } catch (error) {
          if (isNotLeader(error)) continue; // lost leadership before proposing: safe to retry
          throw error;
        }
      }
      encoded ??= encodeCommand(command);
      const request: ForwardRequest = { op: "propose", group: group.groupId, command: encoded };
      const resp = await this.#host.forward(leader, request, this.#host.timing.proposalTimeoutMs);
      if (resp === undefined) {
        throw outcomeUnknownError(
          `no answer from the leader ${leader} in time; the write may have been applied`,
        );
      }
      if (resp.ok) {
        if (resp.result === undefined) throw new Error("forwarded write answered without a result");
        return resp.result;
      }
      if (resp.code === "not_leader") continue; // the peer did not propose it: safe to retry
      if (resp.code === unreachableCode) {
        await this.#otherLeader(leader); // it was never sent: wait for a leader we can reach
        continue;
      }
      throw new KvServiceError(resp.code as KvServiceError["code"], resp.message);
    }
    throw notAppliedError("the leader kept changing; the write was not applied; retry");
  }

  /**
   * Waits until this replica may serve a read at `consistency`: at once for "stale" (the
   * local store as it is, no leader needed), else once it applied a read point confirmed by
   * the leader (from its lease for "lease").
   */
  async #readPoint(consistency: ReadConsistency = "linearizable"): Promise<void> {
    if (consistency === "stale") {
      this.#group().localReadIndex(); // throws when the group failed or is closing
      return;
    }
    if (this.#group().readsLocally) return;
    await this.#linearizable(consistency === "lease");
  }

  /** Waits until this replica has applied a linearizable read point (from the leader lease). */
  async #linearizable(lease: boolean): Promise<void> {
    const group = this.#group();
    let op: "read-index" | "lease-read" = lease ? "lease-read" : "read-index";
    for (let hop = 0; hop < hopsMax; hop++) {
      if (hop > 0) await this.#pause();
      const leader = await this.#leader();
      let index: number;
      if (leader === this.#host.nodeId) {
        try {
          index = await group.readIndex({ lease });
        } catch (error) {
          if (isNotLeader(error)) continue;
          throw error;
        }
      } else {
        const resp = await this.#forwardRead(leader, op);
        if (resp === undefined) {
          throw notAppliedError(`no read index from the leader ${leader} in time`);
        }
        if (!resp.ok) {
          if (resp.code === "not_leader") continue;
          if (resp.code === unreachableCode) {
            await this.#otherLeader(leader);
            continue;
          }
          if (resp.code === "unsupported" && op === "lease-read") {
            op = "read-index"; // a leader that predates lease reads: ask it for a ReadIndex
            continue;
          }
          throw new KvServiceError(resp.code as KvServiceError["code"], resp.message);
        }
        if (typeof resp.index !== "number") throw new Error("read index answer without an index");
        index = resp.index;
      }
      await group.waitApplied(index);
      return;
    }
    throw notAppliedError("the leader kept changing; retry the read");
  }

  /** Forwarded read points: one ask in flight per leader and op, shared by the reads waiting. */
  #readForwards = new Map<string, Coalescer<ForwardResponse | undefined>>();

  /** Asks `leader` for a read point taken after this call (shared; see Coalescer). */
  #forwardRead(
    leader: NodeId,
    op: "read-index" | "lease-read",
  ): Promise<ForwardResponse | undefined> {
    const key = `${op} ${leader}`;
    let asks = this.#readForwards.get(key);
    if (asks === undefined) {
      // A few leaders over a node's life; the running asks keep their waiters when dropped.
      if (this.#readForwards.size >= 64) this.#readForwards.clear();
      const request: ForwardRequest = { op, group: this.#group().groupId };
      asks = new Coalescer(() =>
        this.#host.forward(leader, request, this.#host.timing.readTimeoutMs)
      );
      this.#readForwards.set(key, asks);
    }
    return asks.run();
  }

  /** Waits about one heartbeat, so a changing leadership can settle before the next hop. */
  #pause(): Promise<void> {
    const t = this.#host.timing;
    return new Promise((resolve) => setTimeout(resolve, t.heartbeatTicks * t.tickMs * 2));
  }

  /**
   * Waits (as long as #leader would) for a leader other than `unreachable`, whose connection
   * is down: most likely it died and the others are electing a successor.
   */
  async #otherLeader(unreachable: NodeId): Promise<void> {
    const t = this.#host.timing;
    const waitMs = Math.min(t.proposalTimeoutMs, 3 * 2 * t.electionTicks * t.tickMs);
    const leader = await this.#group().waitForLeader(waitMs, unreachable);
    if (leader === null) {
      throw notAppliedError(`the leader ${unreachable} cannot be reached and no other was elected`);
    }
  }

  /** The leader, waiting up to a few election timeouts for one; throws "no_leader". */
  async #leader(): Promise<NodeId> {
    const t = this.#host.timing;
    if (this.#host.removed) {
      throw notAppliedError("this node was removed from the cluster; send requests to a member");
    }
    const waitMs = Math.min(t.proposalTimeoutMs, 3 * 2 * t.electionTicks * t.tickMs);
    const leader = await this.#group().waitForLeader(waitMs);
    if (leader === null) {
      throw notAppliedError("no leader: the cluster has no quorum now");
    }
    return leader;
  }
}
