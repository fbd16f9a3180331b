import assert from "node:assert/strict";
import {
  type ConfState,
  NotLeaderError,
  ProposalDroppedError,
  seededRandom,
} from "../../src/raft/mod.ts";
import { bytes, Network, text } from "./network.ts";

/** Seeds run per test (RAFT_SEEDS overrides); RAFT_SEED=<n> runs that one seed only. */
const SEEDS = Number(Deno.env.get("RAFT_SEEDS") ?? 40);
const STEPS = 400;
/** RAFT_KNOBS=a,b plants bugs (RaftKnobs names) to check that this test notices them. */
const KNOBS = Object.fromEntries(
  (Deno.env.get("RAFT_KNOBS") ?? "").split(",").filter((k) => k !== "").map((k) => [k, true]),
);

function runSeed(seed: number): void {
  const rand = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  const preVote = rand() < 0.7;
  const checkQuorum = rand() < 0.7;
  const net = new Network(ids, {
    config: {
      electionTicks: 8,
      randomSeed: seed,
      snapshotChunkBytes: 64,
      maxEntriesPerAppend: 8,
      preVote,
      checkQuorum,
      knobs: KNOBS,
    },
  });
  const leaderOfTerm = new Map<number, string>();
  // ReadIndex linearizability: a released read point covers every commit known when it was asked.
  const readFloor = new Map<string, number>();
  const checkReads = () => {
    for (const id of ids) {
      const m = net.get(id);
      for (const rs of m.readStates) {
        const key = text(rs.requestCtx);
        const floor = readFloor.get(key);
        assert.ok(floor !== undefined, `unknown read ${key}`);
        assert.ok(rs.index >= floor, `stale read ${key} at ${rs.index} < ${floor} on ${id}`);
        readFloor.delete(key);
      }
      m.readStates = [];
    }
  };
  let proposed = 0;
  let reads = 0;
  let joinerStage = 0;
  for (let step = 0; step < STEPS; step++) {
    const r = rand();
    if (r < 0.33) {
      for (const id of ids) if (!net.get(id).down) net.get(id).node.tick();
    } else if (r < 0.55) {
      const leader = net.leaders()[0];
      if (leader !== undefined) {
        try {
          net.node(leader).propose(bytes(`s${seed}-v${proposed++}`));
        } catch (e) {
          if (!(e instanceof ProposalDroppedError || e instanceof NotLeaderError)) throw e;
        }
      }
    } else if (r < 0.6) {
      net.heal();
      if (rand() < 0.7) net.isolate(pick(ids));
    } else if (r < 0.63) {
      const id = pick(ids);
      if (net.get(id).down) net.restart(id);
      else if (ids.filter((x) => net.get(x).down).length < 2) net.crash(id);
    } else if (r < 0.65) {
      const m = net.get(pick(ids));
      if (!m.down && m.appliedIndex > m.storage.firstIndex()) net.compact(m.node.id);
    } else if (r < 0.7) {
      const leader = net.leaders()[0];
      if (leader !== undefined) {
        const key = `r${reads++}`;
        const known = Math.max(...ids.map((id) => net.node(id).status().commit));
        try {
          net.node(leader).readIndex(bytes(key));
          readFloor.set(key, known);
        } catch (e) {
          if (!(e instanceof ProposalDroppedError || e instanceof NotLeaderError)) throw e;
        }
      }
    } else if (r < 0.71) {
      const leader = net.leaders()[0];
      if (leader !== undefined) {
        net.node(leader).transferLeadership(pick(net.node(leader).status().conf.voters));
      }
    } else if (r < 0.72) {
      joinerStage = stepJoiner(net, ids, joinerStage);
    }
    // Deliver a random part of the queue, in random order, losing some messages.
    for (const id of ids) net.processReady(id);
    const batch = net.queue;
    net.queue = [];
    for (const msg of batch) {
      const x = rand();
      if (x < 0.1) continue; // lost
      if (x < 0.3) net.queue.push(msg); // delayed (reordered)
      else if (x < 0.35) {
        net.deliver(msg); // duplicated: delivered now and again later
        net.queue.push(msg);
      } else net.deliver(msg);
    }
    for (const id of ids) net.processReady(id);
    checkReads();
    for (const id of net.leaders()) {
      const term = net.node(id).status().term;
      const prev = leaderOfTerm.get(term);
      assert.ok(
        prev === undefined || prev === id,
        `election safety: ${prev} and ${id} lead term ${term}`,
      );
      leaderOfTerm.set(term, id);
    }
  }
  // Heal everything: the cluster must elect a leader and converge.
  net.heal();
  for (const id of ids) if (net.get(id).down) net.restart(id);
  // A leader may still lose its term to a node that missed it; retry a bounded number of times.
  let leader: string | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let i = 0; i < 200 && net.leaders().length !== 1; i++) net.tick(1);
    leader = net.leaders()[0];
    assert.ok(leader !== undefined, "a leader after healing");
    try {
      net.propose(leader, `final-${attempt}`);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError || e instanceof NotLeaderError)) throw e;
    }
    net.tick(5);
    if (net.get(leader).applied.at(-1) === `final-${attempt}`) break;
    leader = undefined;
  }
  assert.ok(leader !== undefined, "a final write commits after healing");
  // Every member converges on the same applied sequence (bounded wait).
  const members = () => {
    const conf: ConfState = net.node(leader).status().conf;
    return ids.filter((id) => conf.voters.includes(id) || conf.learners.includes(id));
  };
  const converged = () => {
    const ref = JSON.stringify(net.get(leader).applied);
    return members().every((id) => JSON.stringify(net.get(id).applied) === ref);
  };
  for (let i = 0; i < 100 && !converged(); i++) net.tick(1);
  const expected = net.get(leader).applied;
  assert.ok(expected.some((v) => v.startsWith("final-")));
  for (const id of members()) assert.deepEqual(net.get(id).applied, expected, `${id} converged`);
}

/** Walks a sixth node through join as learner, promotion, and removal. */
function stepJoiner(net: Network, ids: string[], stage: number): number {
  const leader = net.leaders()[0];
  if (leader === undefined || stage >= 3) return stage;
  const changes = [
    { type: "add-learner", nodeId: "n6" },
    { type: "add-voter", nodeId: "n6" },
    { type: "remove-node", nodeId: "n6" },
  ] as const;
  try {
    net.node(leader).proposeConfChange(changes[stage]);
  } catch (e) {
    if (!(e instanceof ProposalDroppedError || e instanceof NotLeaderError)) throw e;
    return stage;
  }
  if (stage === 0) {
    net.addJoiner("n6");
    ids.push("n6");
  }
  return stage + 1;
}

Deno.test("random drops, delays, duplicates, partitions, crashes and compactions keep every safety property", () => {
  const fixed = Deno.env.get("RAFT_SEED");
  const base = fixed !== undefined
    ? Number(fixed)
    : Number(Deno.env.get("RAFT_SEED_FROM") ?? Date.now() % 1_000_000);
  const count = fixed !== undefined ? 1 : SEEDS;
  for (let s = base; s < base + count; s++) {
    try {
      runSeed(s);
    } catch (e) {
      console.error(
        `failing seed ${s}: reproduce with RAFT_SEED=${s} deno test -A tests/raft/random_test.ts`,
      );
      throw e;
    }
  }
  console.error(`random_test: seeds ${base}..${base + count - 1} passed`);
});
