/**
 * Partitions of a real 3-process cluster made with the nodes' own fault injection
 * (--enable-fault-injection, PUT /admin/faults): a cut-off leader stops acknowledging, the
 * majority elects a new one and goes on, and after healing no acknowledged write is lost.
 */
import assert from "node:assert/strict";
import type { FaultSpec } from "../../src/transport/mod.ts";
import { getKey, startCluster, type TestCluster } from "./cluster_process.ts";
import {
  type Lab,
  leaderCutOffScenario,
  type Partitioner,
  type PutAnswer,
  putAnswer,
} from "./partition_checks.ts";

async function put(url: string, key: string, value: string, timeoutMs = 15_000) {
  try {
    const res = await fetch(`${url}/kv/${key}`, {
      method: "PUT",
      body: value,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return putAnswer(res.status, await res.text());
  } catch {
    return { status: 0 } as PutAnswer;
  }
}

const clusterArgs = ["--enable-fault-injection", "--raft-proposal-timeout-ms", "3000"];

function labOf(cluster: TestCluster): Lab {
  const node = (id: string) => {
    const found = cluster.nodes.find((n) => n.id === id);
    if (found?.proc === undefined) throw new Error(`node ${id} is not running`);
    return found.proc;
  };
  return {
    ids: cluster.nodes.map((n) => n.id),
    logs: (id) => node(id).logs,
    put: (id, key, value, timeoutMs) => put(node(id).url, key, value, timeoutMs),
    get: async (id, key, timeoutMs) => {
      try {
        const r = await getKey(node(id).url, key, timeoutMs);
        return { status: r.status, body: r.body };
      } catch {
        return { status: 0, body: "" };
      }
    },
  };
}

async function setFaults(url: string, spec: FaultSpec): Promise<void> {
  const res = await fetch(`${url}/admin/faults`, {
    method: "PUT",
    body: JSON.stringify(spec),
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `PUT /admin/faults: ${JSON.stringify(body)}`);
}

/** Cuts through each node's fault spec (cut, cutTo), accumulated until heal. */
function faultPartitioner(cluster: TestCluster): Partitioner {
  const specs = new Map<string, { cut: Set<string>; cutTo: Set<string> }>();
  const specOf = (id: string) => {
    let spec = specs.get(id);
    if (spec === undefined) specs.set(id, spec = { cut: new Set(), cutTo: new Set() });
    return spec;
  };
  const url = (id: string) => cluster.nodes.find((n) => n.id === id)!.proc!.url;
  const push = async () => {
    await Promise.all(
      [...specs].map(([id, s]) => setFaults(url(id), { cut: [...s.cut], cutTo: [...s.cutTo] })),
    );
  };
  return {
    async isolate(id) {
      for (const other of cluster.nodes.map((n) => n.id).filter((o) => o !== id)) {
        specOf(id).cut.add(other);
        specOf(other).cut.add(id);
      }
      await push();
    },
    async dropOneWay(from, to) {
      for (const peer of to) specOf(from).cutTo.add(peer);
      await push();
    },
    async cutLink(a, b) {
      specOf(a).cut.add(b);
      specOf(b).cut.add(a);
      await push();
    },
    async heal() {
      specs.clear();
      await Promise.all(cluster.nodes.map(async (n) => {
        const res = await fetch(`${n.proc!.url}/admin/faults`, {
          method: "DELETE",
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        assert.equal(res.status, 204);
      }));
    },
  };
}

Deno.test({
  name: "an isolated leader stops acknowledging, the majority elects and goes on, heal converges",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: clusterArgs });
    try {
      const partitioner = faultPartitioner(cluster);
      await leaderCutOffScenario(labOf(cluster), partitioner, (leader) => {
        return partitioner.isolate(leader);
      });
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a leader whose messages are lost one way is replaced and converges after heal",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, { extraArgs: clusterArgs });
    try {
      const partitioner = faultPartitioner(cluster);
      await leaderCutOffScenario(labOf(cluster), partitioner, (leader, others) => {
        return partitioner.dropOneWay(leader, others);
      });
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "without --enable-fault-injection a cluster node answers /admin/faults with 404",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(1);
    try {
      const res = await fetch(`${cluster.nodes[0].proc!.url}/admin/faults`, {
        method: "PUT",
        body: JSON.stringify({ cut: ["n2"] }),
      });
      const problem = await res.json();
      assert.equal(res.status, 404);
      assert.match(problem.detail, /--enable-fault-injection/);
    } finally {
      await cluster.close();
    }
  },
});
