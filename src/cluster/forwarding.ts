/**
 * A small request/response protocol between nodes over the peer transport, on a reserved
 * group id: a follower forwards a write (or asks for a read index) to the leader and waits,
 * with a deadline, for its answer. Requests and answers are MessagePack values checked here,
 * at the edge, before anything trusts them.
 */
import type { NodeId } from "../raft/mod.ts";
import type { ApplyResult } from "./command.ts";

/** The group id reserved for forwarded requests (never a Raft group). */
export const forwardGroupId = 0xffff_ffff;

/**
 * What a node may ask the leader of a group. "lease-read" is "read-index" served from the
 * leader's lease when it holds. A node answers an op it does not know with code
 * "unsupported" (nodes from before this rule drop it: the asker times out), so an asker can
 * fall back to an older op.
 */
export type ForwardRequest =
  | { op: "propose"; group: number; command: Uint8Array }
  | { op: "read-index"; group: number }
  | { op: "lease-read"; group: number }
  | ({ op: "membership"; group: number } & MembershipCall);

/** A member's role in a group. */
export type MemberRole = "voter" | "learner";

/**
 * A membership call: to the leader ("set-member", "remove-member", "transfer-leader",
 * "cluster-view") or to one node ("node-status"; "removed" tells a node the entry at
 * `index` removed it).
 */
export type MembershipCall =
  | { call: "set-member"; id: NodeId; role?: MemberRole; peer?: string }
  | { call: "remove-member"; id: NodeId }
  | { call: "transfer-leader"; id?: NodeId }
  | { call: "cluster-view" }
  | { call: "node-status" }
  | { call: "removed"; index: number };

/**
 * The leader's answer: the result (`value` is a membership call's JSON answer), or an error
 * code with the leader it knows of and, for membership calls, extra problem fields.
 */
export type ForwardResponse =
  | { ok: true; result?: ApplyResult; index?: number; value?: unknown }
  | {
    ok: false;
    code: string;
    message: string;
    leader?: NodeId | null;
    extra?: Record<string, string | number | boolean | null>;
  };

type Wire =
  | { t: "req"; id: number; req: ForwardRequest }
  | { t: "resp"; id: number; resp: ForwardResponse };

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /**
   * Queues a message to a peer on the reserved group; false when it could not be queued (with
   * `connectedOnly`: also when no connection to the peer is up now).
   */
  send: (to: NodeId, message: unknown, options?: { connectedOnly?: boolean }) => boolean;
  /** Serves a request from a peer. Throwing answers { ok: false, code: "internal" }. */
  serve: (from: NodeId, request: ForwardRequest) => Promise<ForwardResponse>;
  /** Requests of this node waiting for answers at once. Default 16384. */
  pendingMax?: number;
}

interface Pending {
  to: NodeId;
  resolve: (response: ForwardResponse | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
  /** A membership call: it may outlive the leadership it was sent to (a transfer). */
  keep: boolean;
}

const memberIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

function isMembershipCall(v: Record<string, unknown>): boolean {
  const idOk = typeof v.id === "string" && memberIdPattern.test(v.id);
  switch (v.call) {
    case "set-member":
      return idOk && (v.role === undefined || v.role === "voter" || v.role === "learner") &&
        (v.peer === undefined || (typeof v.peer === "string" && v.peer.length <= 300));
    case "remove-member":
      return idOk;
    case "transfer-leader":
      return v.id === undefined || idOk;
    case "cluster-view":
    case "node-status":
      return true;
    case "removed":
      return typeof v.index === "number" && Number.isSafeInteger(v.index);
    default:
      return false;
  }
}

function isRequest(value: unknown): value is ForwardRequest {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.group !== "number" || !Number.isInteger(v.group)) return false;
  if (v.op === "read-index" || v.op === "lease-read") return true;
  if (v.op === "membership") return isMembershipCall(v);
  return v.op === "propose" && v.command instanceof Uint8Array;
}

function isResponse(value: unknown): value is ForwardResponse {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.ok === true) return true;
  return v.ok === false && typeof v.code === "string" && typeof v.message === "string";
}

/**
 * The code of a request that was not sent because the peer could not be reached now (it
 * certainly had no effect there): the caller may wait for another leader and try again.
 */
export const unreachableCode = "unreachable";

/** Sends requests to peers and answers theirs; see the module comment. */
export class Forwarder {
  #o: ForwarderOptions;
  #nextId = 1;
  #pending = new Map<number, Pending>();

  /** Creates a forwarder; feed it inbound messages of the reserved group with onMessage. */
  constructor(options: ForwarderOptions) {
    this.#o = options;
  }

  /**
   * Sends `request` to `to`; resolves to its answer, or to undefined when none came within
   * `timeoutMs` (or it could not be sent): the caller cannot know whether it was served.
   */
  request(
    to: NodeId,
    request: ForwardRequest,
    timeoutMs: number,
  ): Promise<ForwardResponse | undefined> {
    if (this.#pending.size >= (this.#o.pendingMax ?? 16384)) {
      return Promise.resolve({
        ok: false,
        code: "unavailable",
        message: "too many forwarded requests",
      });
    }
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<ForwardResponse | undefined>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      resolve(undefined);
    }, timeoutMs);
    this.#pending.set(id, { to, resolve, timer, keep: request.op === "membership" });
    const wire: Wire = { t: "req", id, req: request };
    // A write or read held for a peer that is down could reach it much later and take
    // effect then: it is sent only over a live connection, else it certainly was not sent.
    // Membership notices may wait for the connection (a removed node must still hear).
    const connectedOnly = request.op !== "membership";
    if (!this.#o.send(to, wire, { connectedOnly })) {
      clearTimeout(timer);
      this.#pending.delete(id);
      return Promise.resolve({
        ok: false,
        code: unreachableCode,
        message: `cannot reach ${to} now; the request was not sent`,
      });
    }
    return promise;
  }

  /** Handles one message of the reserved group from `from`; malformed ones are ignored. */
  onMessage(from: NodeId, message: unknown): void {
    if (typeof message !== "object" || message === null) return;
    const m = message as Record<string, unknown>;
    if (typeof m.id !== "number" || !Number.isSafeInteger(m.id)) return;
    const id = m.id;
    if (m.t === "resp" && isResponse(m.resp)) {
      const pending = this.#pending.get(id);
      if (pending === undefined || pending.to !== from) return; // late or spoofed answer
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(m.resp);
    } else if (m.t === "req") {
      if (!isRequest(m.req)) {
        this.#refuse(from, id, m.req);
        return;
      }
      this.#o.serve(from, m.req)
        .catch((error): ForwardResponse => ({
          ok: false,
          code: typeof error?.code === "string" ? error.code : "internal",
          message: error instanceof Error ? error.message : String(error),
        }))
        .then((resp) => {
          const wire: Wire = { t: "resp", id, resp };
          this.#o.send(from, wire);
        });
    }
  }

  /** Answers "unsupported" to a request this node cannot read (an op it does not know). */
  #refuse(from: NodeId, id: number, request: unknown): void {
    const op = (request as { op?: unknown } | null)?.op;
    if (typeof op !== "string") return;
    const resp: ForwardResponse = {
      ok: false,
      code: "unsupported",
      message: `this node does not serve forwarded "${op.slice(0, 32)}" requests of that form`,
    };
    this.#o.send(from, { t: "resp", id, resp } satisfies Wire);
  }

  /**
   * Gives up on the requests waiting for `peer` (it is no longer the leader): they resolve
   * to undefined at once, as a timeout would, instead of holding their callers. Membership
   * calls are kept: removing a leader moves leadership before the old leader answers.
   */
  abandon(peer: NodeId): void {
    for (const [id, p] of this.#pending) {
      if (p.to !== peer || p.keep) continue;
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.resolve(undefined);
    }
  }

  /** Resolves every waiting request to undefined (outcome unknown). */
  close(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.#pending.clear();
  }
}
