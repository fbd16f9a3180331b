/**
 * Partition scenarios shared by the real-process partition tests: one through the nodes'
 * fault injection (partition_test.ts), one through network namespaces and iptables
 * (netns_partition_test.ts). A scenario sees the cluster through {@link Lab} and cuts it
 * through {@link Partitioner}, so both tests check the same promises.
 */
import assert from "node:assert/strict";

/** A running 3-node cluster as the scenarios see it. */
export interface Lab {
  /** Node ids, e.g. ["n1", "n2", "n3"]. */
  ids: string[];
  /** Every log line of node `id` so far. */
  logs(id: string): string[];
  /** PUT /kv/{key} on node `id` (status 0 when there was no answer in time). */
  put(id: string, key: string, value: string, timeoutMs?: number): Promise<PutAnswer>;
  /** GET /kv/{key} on node `id` (status 0 when there was no answer in time). */
  get(id: string, key: string, timeoutMs?: number): Promise<{ status: number; body: string }>;
}

/** What a PUT answered: its status and, for a problem, the problem type's slug. */
export interface PutAnswer {
  status: number;
  /** e.g. "no-leader", "outcome-unknown"; undefined for a success or no answer. */
  problem?: string;
}

/** The PutAnswer of a response whose body was read as `body`. */
export function putAnswer(status: number, body: string): PutAnswer {
  if (status < 400) return { status };
  try {
    const type = JSON.parse(body).type;
    return { status, problem: typeof type === "string" ? type.split(":").at(-1) : undefined };
  } catch {
    return { status };
  }
}

/** Cuts and heals the links between nodes. */
export interface Partitioner {
  /** Cuts `id` off from every other node, both directions. */
  isolate(id: string): Promise<void>;
  /** Loses what `from` sends to each of `to`; what they send to `from` still leaves them. */
  dropOneWay(from: string, to: string[]): Promise<void>;
  /** Cuts the link between `a` and `b`, both directions. */
  cutLink(a: string, b: string): Promise<void>;
  /** Removes every cut. */
  heal(): Promise<void>;
}

/** What a node's last "raft role changed" log line says. */
export interface RoleView {
  role: string;
  leader: string | null;
  term: number;
}

/** The last "raft role changed" line in `logs`, if any. */
export function lastRole(logs: readonly string[]): RoleView | undefined {
  for (let i = logs.length - 1; i >= 0; i--) {
    if (!logs[i].includes('"raft role changed"')) continue;
    try {
      const line = JSON.parse(logs[i]);
      return { role: line.role, leader: line.leader, term: line.term };
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Every "raft role changed" line in `logs`. */
export function roleChanges(logs: readonly string[]): RoleView[] {
  const views: RoleView[] = [];
  for (const line of logs) {
    if (!line.includes('"raft role changed"')) continue;
    const parsed = JSON.parse(line);
    views.push({ role: parsed.role, leader: parsed.leader, term: parsed.term });
  }
  return views;
}

/** Polls `check` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until every node of `among` names the same leader, itself one of `among` that says
 * it leads (and is not `not`), and returns its id.
 */
export async function waitForLeaderAmong(
  lab: Lab,
  options: { among?: string[]; not?: string; timeoutMs?: number } = {},
): Promise<string> {
  const among = options.among ?? lab.ids;
  let leader = "";
  await eventually(
    () => {
      const views = among.map((id) => lastRole(lab.logs(id)));
      const named = views[0]?.leader;
      if (named === null || named === undefined || named === options.not) return false;
      if (!among.includes(named) || !views.every((v) => v?.leader === named)) return false;
      if (lastRole(lab.logs(named))?.role !== "leader") return false;
      leader = named;
      return true;
    },
    `one leader named by ${among.join(", ")}${options.not ? ` other than ${options.not}` : ""}`,
    options.timeoutMs ?? 30_000,
  );
  return leader;
}

/**
 * Writes `count` new keys `${prefix}-i` through the nodes of `via` in turn, retrying a key
 * (same value, so a retry is idempotent) until it is acknowledged (2xx); every write that
 * was acknowledged goes into `acked`. Throws when `count` keys are not acknowledged by
 * `timeoutMs`: the cluster did not make progress.
 */
export async function writeAcked(
  lab: Lab,
  options: { via: string[]; prefix: string; count: number; acked: Map<string, string> },
  timeoutMs = 30_000,
): Promise<void> {
  const { via, prefix, count, acked } = options;
  const deadline = Date.now() + timeoutMs;
  let turn = 0;
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    const value = `value-of-${key}`;
    for (;;) {
      const { status } = await lab.put(via[turn++ % via.length], key, value, 10_000);
      if (status >= 200 && status < 300) {
        acked.set(key, value);
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`only ${i} of ${count} "${prefix}" writes acknowledged in ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Asserts every acknowledged key reads back with its value from every node (a read that
 * gets 503 or no answer while the node catches up is retried until `timeoutMs`), every key
 * of `absent` reads 404 everywhere, and every key of `agreed` reads the same everywhere.
 */
export async function assertConverged(
  lab: Lab,
  expect: { acked: Map<string, string>; absent?: string[]; agreed?: string[] },
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const read = async (id: string, key: string) => {
    for (;;) {
      const r = await lab.get(id, key, 10_000);
      if ((r.status !== 503 && r.status !== 0) || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  for (const id of lab.ids) {
    for (const [key, value] of expect.acked) {
      const r = await read(id, key);
      assert.deepEqual([r.status, r.body], [200, value], `acknowledged ${key} read from ${id}`);
    }
    for (const key of expect.absent ?? []) {
      const r = await read(id, key);
      assert.equal(r.status, 404, `${key} was refused as not applied, yet exists on ${id}`);
    }
  }
  for (const key of expect.agreed ?? []) {
    const views = [];
    for (const id of lab.ids) views.push(await read(id, key));
    for (const view of views) assert.deepEqual(view, views[0], `every node agrees on ${key}`);
  }
}

/**
 * Checks a write the cut-off leader refused: 503, never 2xx. A "no-leader" answer promises
 * it was not applied (it joins `absent`); "outcome-unknown" promises nothing, so it only
 * joins `agreed` (e.g. a request forwarded over TCP may still arrive after the heal).
 */
function checkRefused(
  key: string,
  answer: PutAnswer,
  into: { absent: string[]; agreed: string[] },
): void {
  assert.equal(answer.status, 503, `the cut-off node must not acknowledge ${key}`);
  if (answer.problem === "no-leader") into.absent.push(key);
  else {
    assert.equal(answer.problem, "outcome-unknown", `${key}: a 503 of a known kind`);
    into.agreed.push(key);
  }
}

/**
 * Cuts the leader off (`cut` does it, e.g. isolate or a one-way drop), then checks: the old
 * leader steps down and acknowledges no write (503), the others elect a new leader and keep
 * acknowledging writes; after heal the old leader follows again and every acknowledged
 * write is readable from every node, the refused one from none.
 */
export async function leaderCutOffScenario(
  lab: Lab,
  partitioner: Partitioner,
  cut: (leader: string, others: string[]) => Promise<void>,
): Promise<void> {
  const acked = new Map<string, string>();
  const leader = await waitForLeaderAmong(lab);
  const others = lab.ids.filter((id) => id !== leader);
  await writeAcked(lab, { via: lab.ids, prefix: "before", count: 10, acked });
  await cut(leader, others);
  // Proposed while the old leader may still believe it leads: it can never commit.
  const refused = lab.put(leader, "refused-1", "never", 30_000);
  const next = await waitForLeaderAmong(lab, { among: others, not: leader });
  await writeAcked(lab, { via: others, prefix: "majority", count: 20, acked });
  await eventually(
    () => lastRole(lab.logs(leader))?.role !== "leader",
    `the old leader ${leader} to step down`,
    20_000,
  );
  const refusedLater = await lab.put(leader, "refused-2", "never", 30_000);
  const unsure = { absent: [] as string[], agreed: [] as string[] };
  checkRefused("refused-1", await refused, unsure);
  checkRefused("refused-2", refusedLater, unsure);
  await partitioner.heal();
  await eventually(
    () => {
      const view = lastRole(lab.logs(leader));
      return view?.role === "follower" && view.leader !== null && view.leader !== leader;
    },
    `the old leader ${leader} to follow again (new leader was ${next})`,
    30_000,
  );
  await writeAcked(lab, { via: lab.ids, prefix: "healed", count: 5, acked });
  await assertConverged(lab, { acked, ...unsure });
}
