/**
 * Partitions with real packet loss: a 3-node cluster, each node in its own network
 * namespace, links cut with iptables DROP rules (see netns.ts). Skipped, with the reason,
 * where namespaces cannot be made (not root, no ip or iptables).
 */
import assert from "node:assert/strict";
import { testSecret } from "./cluster_process.ts";
import { NetnsCluster, netnsSkipReason } from "./netns.ts";
import {
  assertConverged,
  type Lab,
  lastRole,
  leaderCutOffScenario,
  type Partitioner,
  putAnswer,
  waitForLeaderAmong,
  writeAcked,
} from "./partition_checks.ts";

const skipReason = await netnsSkipReason();
if (skipReason !== undefined) {
  console.warn(`netns partition tests skipped: ${skipReason}`);
}

function labOf(cluster: NetnsCluster): Lab {
  return {
    ids: cluster.nodes.map((n) => n.id),
    logs: (id) => cluster.node(id).logs,
    put: async (id, key, value, timeoutMs) => {
      const url = `${cluster.url(id)}/kv/${key}`;
      const r = await cluster.request("PUT", url, { body: value, timeoutMs });
      return putAnswer(r.status, r.body);
    },
    get: async (id, key, timeoutMs) => {
      const r = await cluster.request("GET", `${cluster.url(id)}/kv/${key}`, { timeoutMs });
      return { status: r.status, body: r.body };
    },
  };
}

function iptablesPartitioner(cluster: NetnsCluster): Partitioner {
  return {
    async isolate(id) {
      for (const n of cluster.nodes) if (n.id !== id) await cluster.drop(id, n.id, "both");
    },
    async dropOneWay(from, to) {
      for (const peer of to) await cluster.drop(from, peer, "out");
    },
    async cutLink(a, b) {
      await cluster.drop(a, b, "both");
    },
    heal: () => cluster.healAll(),
  };
}

async function withCluster(fn: (cluster: NetnsCluster) => Promise<void>): Promise<void> {
  const cluster = await NetnsCluster.start({
    extraArgs: ["--raft-proposal-timeout-ms", "3000"],
    env: { RINGKV_CLUSTER_SECRET: testSecret },
  });
  try {
    await fn(cluster);
  } finally {
    await cluster.close();
  }
}

const name = (behaviour: string) =>
  skipReason === undefined ? behaviour : `${behaviour} (skipped: ${skipReason})`;

Deno.test({
  name: name("netns: an isolated leader stops acknowledging, the majority goes on, heal converges"),
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withCluster(async (cluster) => {
      const partitioner = iptablesPartitioner(cluster);
      await leaderCutOffScenario(labOf(cluster), partitioner, (leader) => {
        return partitioner.isolate(leader);
      });
    }),
});

Deno.test({
  name: name("netns: a leader whose packets are dropped one way is replaced, heal converges"),
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withCluster(async (cluster) => {
      const partitioner = iptablesPartitioner(cluster);
      await leaderCutOffScenario(labOf(cluster), partitioner, (leader, others) => {
        return partitioner.dropOneWay(leader, others);
      });
    }),
});

Deno.test({
  name: name("netns: with one node bridging two that cannot meet, writes go on and none is lost"),
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withCluster(async (cluster) => {
      const lab = labOf(cluster);
      const partitioner = iptablesPartitioner(cluster);
      const acked = new Map<string, string>();
      const leader = await waitForLeaderAmong(lab);
      // The leader loses its link to one follower; the other follower reaches both.
      const [bridge, far] = lab.ids.filter((id) => id !== leader);
      await writeAcked(lab, { via: lab.ids, prefix: "before", count: 10, acked });
      await partitioner.cutLink(leader, far);
      // Progress through the side that has a quorum (leader + bridge), for a while.
      const deadline = Date.now() + 4_000;
      for (let round = 0; Date.now() < deadline && round < 100; round++) {
        await writeAcked(lab, {
          via: [leader, bridge],
          prefix: `split-${round}`,
          count: 5,
          acked,
        }, 20_000);
      }
      // The far node campaigns in vain: pre-vote fails while the bridge hears the leader.
      const current = await waitForLeaderAmong(lab, { among: [leader, bridge] });
      assert.ok(current === leader || current === bridge, `leader ${current} keeps a quorum`);
      const farView = lastRole(lab.logs(far));
      assert.notEqual(farView?.role, "leader", "the far node never leads while cut off");
      await partitioner.heal();
      await waitForLeaderAmong(lab);
      await writeAcked(lab, { via: lab.ids, prefix: "healed", count: 5, acked });
      await assertConverged(lab, { acked });
    }),
});
