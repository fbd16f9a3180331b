/**
 * The cluster routes without sockets: the API over an in-memory service and a Membership
 * over a scripted leader (its group and peers are plain objects), so validation, the one
 * change at a time rule and the problem answers are checked in isolation.
 */
import assert from "node:assert/strict";
import { createApiHandler } from "../../src/api/mod.ts";
import { Membership, type MembershipGroup, type MembershipHost } from "../../src/cluster/mod.ts";
import type { ForwardRequest, ForwardResponse } from "../../src/cluster/forwarding.ts";
import type { MembershipServer } from "../../src/cluster/raft_host.ts";
import {
  type ConfChange,
  type ConfState,
  type ProgressStatus,
  ProposalDroppedError,
  type RaftStatus,
} from "../../src/raft/mod.ts";
import { testLimits } from "./helpers.ts";
import { MemoryKvService } from "./memory_service.ts";

const peers: Record<string, string> = {
  n1: "127.0.0.1:7071",
  n2: "127.0.0.1:7171",
  n3: "127.0.0.1:7271",
};

function progress(match: number, isLearner = false): ProgressStatus {
  return {
    match,
    next: match + 1,
    state: "replicate",
    inflight: 0,
    recentActive: true,
    isLearner,
    snapshotIndex: 0,
  };
}

/** A leader n1 whose group and peers the test scripts. */
class ScriptedLeader implements MembershipGroup, MembershipHost {
  readonly nodeId = "n1";
  readonly groupId = 1;
  readonly timing = {
    tickMs: 10,
    electionTicks: 20,
    heartbeatTicks: 2,
    proposalTimeoutMs: 5000,
    readTimeoutMs: 5000,
  };
  readonly removed = false;
  readonly isLeader = true;
  readonly leader = "n1";
  appliedIndex = 100;
  conf: ConfState = { voters: ["n1", "n2", "n3"], learners: [] };
  lastIndex = 100;
  progress: Record<string, ProgressStatus> = {
    n1: progress(100),
    n2: progress(100),
    n3: progress(90),
  };
  /** Every change proposed, in order. */
  proposed: ConfChange[] = [];
  /** When set, the next proposal waits for this promise before it is applied. */
  hold: Promise<void> | undefined;
  /** When set, the next proposal throws this. */
  refuse: Error | undefined;
  addresses = new Map(Object.entries(peers));

  group(): MembershipGroup {
    return this;
  }
  status(): RaftStatus {
    return {
      id: "n1",
      role: "leader",
      leader: "n1",
      term: 3,
      vote: "n1",
      commit: this.lastIndex,
      applied: this.appliedIndex,
      firstIndex: 1,
      lastIndex: this.lastIndex,
      conf: this.conf,
      progress: this.progress,
      leadTransferee: null,
      uncommittedBytes: 0,
    };
  }
  async proposeConfChange(change: ConfChange): Promise<number> {
    if (this.refuse !== undefined) throw this.refuse;
    this.proposed.push(change);
    await this.hold;
    this.lastIndex++;
    return this.lastIndex;
  }
  transferLeader(): void {
    throw new Error("no transfer expected in these tests");
  }
  waitForLeader(): Promise<string | null> {
    return Promise.resolve("n1");
  }
  peers(): Record<string, string> {
    return Object.fromEntries([...this.addresses].filter(([id]) => id !== "n1"));
  }
  peerAddress(id: string): string | undefined {
    return this.addresses.get(id);
  }
  peerContactAgoMs(): number | null {
    return 5;
  }
  learnPeers(): void {}
  retire(): void {}
  forward(to: string, request: ForwardRequest): Promise<ForwardResponse | undefined> {
    if (request.op === "membership" && request.call === "node-status") {
      const match = this.progress[to]?.match ?? 0;
      return Promise.resolve({
        ok: true,
        value: { id: to, role: "follower", commit_index: match, applied_index: match },
      });
    }
    return Promise.resolve(undefined);
  }
  serveMembership(_server: MembershipServer): void {}
}

function setUp(options: { cluster?: boolean } = {}) {
  const leader = new ScriptedLeader();
  const api = createApiHandler({
    service: new MemoryKvService(),
    limits: testLimits,
    nodeId: "n1",
    cluster: options.cluster === false ? undefined : new Membership(leader),
  });
  const send = (method: string, path: string, body?: unknown) =>
    api.handle(
      new Request("http://127.0.0.1:7070" + path, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      }),
    );
  return { leader, send };
}

Deno.test("POST /cluster/members refuses bad ids, addresses and fields with 400", async () => {
  const { leader, send } = setUp();
  const bad: unknown[] = [
    { id: "bad id", peer: "127.0.0.1:7371" },
    { id: "", peer: "127.0.0.1:7371" },
    { id: "x".repeat(65), peer: "127.0.0.1:7371" },
    { id: 4, peer: "127.0.0.1:7371" },
    { id: "n4" },
    { id: "n4", peer: "127.0.0.1" },
    { id: "n4", peer: "127.0.0.1:0" },
    { id: "n4", peer: "127.0.0.1:65536" },
    { id: "n4", peer: "not a host:7371" },
    { id: "n4", peer: ":7371" },
    { id: "n4", peer: "127.0.0.1:7371", role: "leader" },
    { id: "n4", peer: "127.0.0.1:7371", promote: true },
    [{ id: "n4" }],
    "{not json",
    "",
  ];
  for (const body of bad) {
    const res = await send("POST", "/cluster/members", body);
    const problem = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(problem.type, "urn:ringkv:problem:invalid-body");
    assert.ok(problem.detail.length > 10, "the detail says what is wrong");
  }
  assert.deepEqual(leader.proposed, [], "nothing was proposed");
});

Deno.test("DELETE /cluster/members/{id} refuses an id that is not a node id with 400", async () => {
  const { leader, send } = setUp();
  for (const path of ["/cluster/members/a%20b", "/cluster/members/%ZZ"]) {
    const res = await send("DELETE", path);
    assert.equal(res.status, 400, path);
    await res.body?.cancel();
  }
  assert.deepEqual(leader.proposed, []);
});

Deno.test("adding a node proposes a learner with its peer address in the entry", async () => {
  const { leader, send } = setUp();
  const res = await send("POST", "/cluster/members", { id: "n4", peer: "127.0.0.1:7371" });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.deepEqual([body.id, body.role, body.changed, body.index], ["n4", "learner", true, 101]);
  assert.deepEqual(leader.proposed, [{
    type: "add-learner",
    nodeId: "n4",
    context: JSON.stringify({ peer: "127.0.0.1:7371" }),
  }]);
});

Deno.test("a second membership change while one is in flight answers 409", async () => {
  const { leader, send } = setUp();
  const release = Promise.withResolvers<void>();
  leader.hold = release.promise;
  const first = send("POST", "/cluster/members", { id: "n4", peer: "127.0.0.1:7371" });
  await new Promise((r) => setTimeout(r, 0));
  const second = await send("POST", "/cluster/members", { id: "n5", peer: "127.0.0.1:7471" });
  const problem = await second.json();
  assert.equal(second.status, 409);
  assert.equal(problem.type, "urn:ringkv:problem:conflict");
  assert.equal(problem.reason, "change-in-progress");
  assert.match(problem.detail, /adding n4/);
  release.resolve();
  assert.equal((await first).status, 200);
  assert.deepEqual(leader.proposed.map((c) => c.nodeId), ["n4"]);
});

Deno.test("a change the core refuses as pending answers 409 change-in-progress", async () => {
  const { leader, send } = setUp();
  leader.refuse = new ProposalDroppedError("conf-change-pending");
  const res = await send("DELETE", "/cluster/members/n3");
  const problem = await res.json();
  assert.equal(res.status, 409);
  assert.equal(problem.reason, "change-in-progress");
});

Deno.test("promoting a learner that lags answers 409 with how far behind it is", async () => {
  const { leader, send } = setUp();
  leader.conf = { voters: ["n1", "n2", "n3"], learners: ["n4"] };
  leader.addresses.set("n4", "127.0.0.1:7371");
  leader.lastIndex = 5000;
  leader.progress.n4 = progress(10, true);
  const res = await send("POST", "/cluster/members", { id: "n4", role: "voter" });
  const problem = await res.json();
  assert.equal(res.status, 409);
  assert.deepEqual([problem.reason, problem.lag, problem.match_index], ["lagging", 4990, 10]);
  assert.match(problem.detail, /lag 4990/);
  leader.progress.n4 = progress(4990, true);
  const promoted = await send("POST", "/cluster/members", { id: "n4", role: "voter" });
  assert.equal(promoted.status, 200);
  assert.equal((await promoted.json()).role, "voter");
  assert.equal(leader.proposed[0].type, "add-voter");
});

Deno.test("membership changes that make no sense answer 404 or 409", async () => {
  const { leader, send } = setUp();
  const cases: [string, string, unknown, number, string | undefined][] = [
    ["DELETE", "/cluster/members/n9", undefined, 404, undefined],
    ["POST", "/cluster/members", { id: "n9", role: "voter" }, 409, "not-a-member"],
    ["POST", "/cluster/members", { id: "n2", role: "learner" }, 409, "cannot-demote"],
    ["POST", "/cluster/members", { id: "n2", peer: "127.0.0.1:1234" }, 409, "member-conflict"],
    ["POST", "/cluster/members", { id: "n9", peer: "127.0.0.1:7171" }, 409, "peer-in-use"],
    ["POST", "/cluster/leader", { id: "n9" }, 404, undefined],
  ];
  for (const [method, path, body, status, reason] of cases) {
    const res = await send(method, path, body);
    const problem = await res.json();
    assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}`);
    assert.equal(problem.reason, reason);
  }
  const same = await send("POST", "/cluster/members", { id: "n2", peer: "127.0.0.1:7171" });
  assert.equal(same.status, 200, "asking for what already holds changes nothing");
  assert.equal((await same.json()).changed, false);
  assert.deepEqual(leader.proposed, []);
});

Deno.test("GET /cluster on the leader shows members, roles, indexes and lag", async () => {
  const { send } = setUp();
  const res = await send("GET", "/cluster");
  const view = await res.json();
  assert.equal(res.status, 200);
  assert.deepEqual([view.answered_by, view.complete, view.leader, view.term], [
    "n1",
    true,
    "n1",
    3,
  ]);
  const n3 = view.members.find((m: { id: string }) => m.id === "n3");
  assert.deepEqual(
    [n3.role, n3.peer, n3.match_index, n3.lag, n3.applied_index],
    ["voter", "127.0.0.1:7271", 90, 10, 90],
  );
});

Deno.test("a node outside a cluster answers 404 on every /cluster route", async () => {
  const { send } = setUp({ cluster: false });
  for (const [method, path] of [["GET", "/cluster"], ["POST", "/cluster/leader"]]) {
    const res = await send(method, path);
    const problem = await res.json();
    assert.equal(res.status, 404, path);
    assert.match(problem.detail, /--cluster/);
  }
});
