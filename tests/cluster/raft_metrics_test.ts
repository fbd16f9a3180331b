/**
 * The cluster metrics: collectors read a host's groups and transport at scrape time, the
 * observer's events land in the right series, and a real 3-node cluster exports them.
 */
import assert from "node:assert/strict";
import { Metrics } from "../../src/metrics.ts";
import type { MeteredGroup, RaftMetricsSource } from "../../src/cluster/raft_metrics.ts";
import type { SnapshotObserver } from "../../src/cluster/group_snapshots.ts";
import { KeyedHistogram } from "../../src/metric_series.ts";
import type { PeerStats } from "../../src/transport/mod.ts";
import { emptyPeerStats } from "../../src/transport/peer_stats.ts";
import { waitUntil } from "../server/server_process.ts";
import { parseSamples, type Sample, samplesOf, sumOf } from "../metrics_text.ts";
import { putKey, startCluster } from "./cluster_process.ts";

interface FakeGroup extends MeteredGroup {
  groupId: number;
  isLeader: boolean;
  appliedIndex: number;
  proposalsPending: number;
  term: number;
  commit: number;
  statusCalls: number;
}

function fakeGroup(groupId: number, fields: Partial<FakeGroup> = {}): FakeGroup {
  const group: FakeGroup = {
    groupId,
    isLeader: false,
    appliedIndex: 0,
    proposalsPending: 0,
    term: 1,
    commit: 0,
    statusCalls: 0,
    status() {
      group.statusCalls++;
      return { term: group.term, commit: group.commit };
    },
    ...fields,
  };
  return group;
}

function peerStats(fields: Partial<PeerStats>): PeerStats {
  return { ...emptyPeerStats(), ...fields };
}

async function scrape(metrics: Metrics): Promise<Sample[]> {
  return parseSamples(await metrics.render());
}

Deno.test("group gauges are read from each group's status at scrape time", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const g1 = fakeGroup(1, { isLeader: true, appliedIndex: 7, proposalsPending: 2, term: 3 });
  g1.commit = 9;
  const g2 = fakeGroup(2, { appliedIndex: 4, term: 5, commit: 6 });
  metrics.raft().setSource({ groupHosts: () => [g1, g2], transportStats: () => undefined });
  let s = await scrape(metrics);
  assert.equal(sumOf(s, "ringkv_raft_term", { group: "1" }), 3);
  assert.equal(sumOf(s, "ringkv_raft_term", { group: "2" }), 5);
  assert.equal(sumOf(s, "ringkv_raft_is_leader", { group: "1" }), 1);
  assert.equal(sumOf(s, "ringkv_raft_is_leader", { group: "2" }), 0);
  assert.equal(sumOf(s, "ringkv_raft_commit_index", { group: "1" }), 9);
  assert.equal(sumOf(s, "ringkv_raft_applied_index", { group: "2" }), 4);
  assert.equal(sumOf(s, "ringkv_raft_proposals_pending", { group: "1" }), 2);
  g1.appliedIndex = 8;
  g1.isLeader = false;
  s = await scrape(metrics);
  assert.equal(sumOf(s, "ringkv_raft_applied_index", { group: "1" }), 8);
  assert.equal(sumOf(s, "ringkv_raft_is_leader", { group: "1" }), 0);
});

Deno.test("one scrape reads each group's status once", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const group = fakeGroup(1);
  metrics.raft().setSource({ groupHosts: () => [group], transportStats: () => undefined });
  await metrics.render();
  assert.equal(group.statusCalls, 1);
  await metrics.render();
  assert.equal(group.statusCalls, 2);
});

Deno.test("a group's event series start at zero once the group is seen", async () => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.raft().setSource({ groupHosts: () => [fakeGroup(3)], transportStats: () => undefined });
  const s = await scrape(metrics);
  assert.equal(sumOf(s, "raft_leader_changes_total", { group: "3" }), 0);
  assert.equal(sumOf(s, "ringkv_raft_commit_duration_seconds_count", { group: "3" }), 0);
  assert.equal(sumOf(s, "ringkv_raft_append_duration_seconds_count", { group: "3" }), 0);
  assert.equal(sumOf(s, "ringkv_raft_snapshots_total", { group: "3", kind: "taken" }), 0);
  assert.equal(sumOf(s, "ringkv_raft_snapshots_total", { group: "3", kind: "installed" }), 0);
});

Deno.test("leader changes are counted per group", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const raft = metrics.raft();
  raft.leaderChanged(1);
  raft.leaderChanged(1);
  raft.leaderChanged(2);
  const s = await scrape(metrics);
  assert.equal(sumOf(s, "raft_leader_changes_total", { group: "1" }), 2);
  assert.equal(sumOf(s, "raft_leader_changes_total", { group: "2" }), 1);
});

Deno.test("commit and WAL append latencies land in their group's histogram buckets", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const raft = metrics.raft();
  raft.committed(1, 0.003);
  raft.committed(1, 0.2);
  raft.wal.appended!(2, 0.0004);
  const s = await scrape(metrics);
  const commit = "ringkv_raft_commit_duration_seconds";
  assert.equal(sumOf(s, `${commit}_count`, { group: "1" }), 2);
  assert.equal(sumOf(s, `${commit}_sum`, { group: "1" }), 0.203);
  assert.equal(sumOf(s, `${commit}_bucket`, { group: "1", le: "0.0025" }), 0);
  assert.equal(sumOf(s, `${commit}_bucket`, { group: "1", le: "0.005" }), 1);
  assert.equal(sumOf(s, `${commit}_bucket`, { group: "1", le: "0.25" }), 2);
  assert.equal(sumOf(s, `${commit}_bucket`, { group: "1", le: "+Inf" }), 2);
  const append = "ringkv_raft_append_duration_seconds";
  assert.equal(sumOf(s, `${append}_bucket`, { group: "2", le: "0.0005" }), 1);
  assert.equal(sumOf(s, `${append}_count`, { group: "1" }), undefined);
});

Deno.test("snapshots taken and installed are counted and timed by kind", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const observer: SnapshotObserver = metrics.raft(); // what the snapshot code calls
  observer.snapshotTaken!(1, 0.4);
  observer.snapshotTaken!(1, 0.6);
  observer.snapshotInstalled!(1, 2);
  const s = await scrape(metrics);
  assert.equal(sumOf(s, "ringkv_raft_snapshots_total", { group: "1", kind: "taken" }), 2);
  assert.equal(sumOf(s, "ringkv_raft_snapshots_total", { group: "1", kind: "installed" }), 1);
  const duration = "ringkv_raft_snapshot_duration_seconds";
  assert.equal(sumOf(s, `${duration}_sum`, { group: "1", kind: "taken" }), 1);
  assert.equal(sumOf(s, `${duration}_bucket`, { kind: "installed", le: "1" }), 0);
  assert.equal(sumOf(s, `${duration}_bucket`, { kind: "installed", le: "5" }), 1);
});

Deno.test("peer counters come from the transport's stats, one series per peer", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const source: RaftMetricsSource = {
    groupHosts: () => [],
    transportStats: () => ({
      peers: {
        n2: peerStats({ bytesOut: 100, bytesIn: 40, reconnects: 2, connected: true }),
        n3: peerStats({ bytesOut: 7 }),
      },
    }),
  };
  metrics.raft().setSource(source);
  const s = await scrape(metrics);
  assert.equal(sumOf(s, "ringkv_peer_sent_bytes_total", { peer: "n2" }), 100);
  assert.equal(sumOf(s, "ringkv_peer_sent_bytes_total", { peer: "n3" }), 7);
  assert.equal(sumOf(s, "ringkv_peer_received_bytes_total", { peer: "n2" }), 40);
  assert.equal(sumOf(s, "ringkv_peer_reconnects_total", { peer: "n2" }), 2);
  assert.equal(sumOf(s, "ringkv_peer_connected", { peer: "n2" }), 1);
  assert.equal(sumOf(s, "ringkv_peer_connected", { peer: "n3" }), 0);
});

Deno.test("a keyed histogram keeps at most seriesMax keys and counts what it drops", () => {
  const h = new KeyedHistogram([1, 2], { labelName: "group", seriesMax: 2 });
  h.observe(1, 1); // a value equal to a bound falls in that bound's bucket (le)
  h.observe(2, 3);
  h.observe(3, 1);
  assert.deepEqual([...h.keys()], [1, 2]);
  assert.equal(h.dropped, 1);
  const values = h.values("x");
  const bucket = (group: string, le: string | number) =>
    values.find((v) => v.labels.group === group && v.labels.le === le)?.value;
  assert.equal(bucket("1", 1), 1);
  assert.equal(bucket("2", 2), 0);
  assert.equal(bucket("2", "+Inf"), 1);
  assert.throws(() => new KeyedHistogram([2, 1]), RangeError);
});

async function scrapeUrl(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) });
  assert.equal(response.status, 200);
  return parseSamples(await response.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const sum = sumOf(samples, name, labels);
  assert.ok(sum !== undefined, `no sample ${name} ${JSON.stringify(labels)}`);
  return sum;
}

Deno.test({
  name: "a 3-node cluster's leader and followers export their Raft, peer and liveness metrics",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader({ timeoutMs: 30_000 });
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      const before = await scrapeUrl(leader.proc!.url);
      const commitsBefore = value(before, "ringkv_raft_commit_duration_seconds_count");
      const writes = 5;
      for (let i = 0; i < writes; i++) {
        const node = i % 2 === 0 ? follower : leader; // writes through a follower are forwarded
        assert.equal((await putKey(node.proc!.url, `metrics-${i}`, `v${i}`)).status, 201);
      }
      const onLeader = await scrapeUrl(leader.proc!.url);
      const group = { group: "1" };
      assert.equal(value(onLeader, "ringkv_raft_is_leader", group), 1);
      assert.ok(
        value(onLeader, "ringkv_raft_commit_duration_seconds_count") >= commitsBefore + writes,
      );
      const committed = value(onLeader, "ringkv_raft_commit_index", group);
      assert.ok(value(onLeader, "ringkv_raft_applied_index", group) >= writes);
      assert.ok(value(onLeader, "ringkv_raft_term", group) >= 1);
      assert.ok(value(onLeader, "ringkv_raft_append_duration_seconds_count", group) > 0);
      assert.ok(
        value(onLeader, "ringkv_storage_fsync_duration_seconds_count", { file: "wal" }) > 0,
      );
      assert.ok(value(onLeader, "ringkv_peer_sent_bytes_total", { peer: follower.id }) > 0);
      assert.ok(value(onLeader, "ringkv_peer_received_bytes_total", { peer: follower.id }) > 0);
      assert.equal(samplesOf(onLeader, "ringkv_peer_reconnects_total").length, 2);
      assert.ok(value(onLeader, "ringkv_event_loop_lag_seconds_count") > 0);
      assert.equal(samplesOf(onLeader, "nodejs_eventloop_lag_p99_seconds").length, 1);
      // The follower applies what the leader committed, and says it is not the leader.
      let onFollower: Sample[] = [];
      await waitUntil(
        async () => {
          onFollower = await scrapeUrl(follower.proc!.url);
          return value(onFollower, "ringkv_raft_applied_index", group) >= committed;
        },
        "the follower's applied index to reach the leader's commit index",
        30_000,
      );
      assert.equal(value(onFollower, "ringkv_raft_is_leader", group), 0);
      assert.equal(value(onFollower, "ringkv_raft_proposals_pending", group), 0);
      const changes = await Promise.all(
        cluster.nodes.map(async (n) =>
          value(await scrapeUrl(n.proc!.url), "raft_leader_changes_total")
        ),
      );
      assert.ok(changes.every((c) => c >= 1), `leader changes seen per node: ${changes}`);
    } finally {
      await cluster.close();
    }
  },
});
