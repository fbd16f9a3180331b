/**
 * Liveness of a healthy but slow cluster: with every fsync slowed down (fault injection's
 * fsyncDelayMs, well below the election timeout) and store merges running under a steady
 * overwrite load, the leader must stay the leader: a slow disk or a merge must not hold the
 * event loop or the Raft loop long enough for followers to call an election.
 */
import assert from "node:assert/strict";
import { startCluster } from "./cluster_process.ts";
import { roleChanges } from "./partition_checks.ts";

/** Keys overwritten in turn: few, so old segments die fast and merges keep running. */
const keysCount = 16;
const valueBytes = 4096;
const loadMs = 8_000;
const writersCount = 4;
/** Raft timing of the test cluster: 10 ms ticks, elections after 200-400 ms. */
const tickMs = 10;
const electionTicks = 20;
/** Slower than most disks, well below the election timeout. */
const fsyncDelayMs = 100;

async function status(url: string): Promise<{ merges: number; segments: number }> {
  const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  return await res.json();
}

Deno.test({
  name: "slow fsyncs and merges under steady writes cause no leader change and no refused write",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3, {
      extraArgs: [
        "--enable-fault-injection",
        "--segment-bytes",
        "64KiB",
        "--raft-tick-ms",
        String(tickMs),
        "--raft-election-ticks",
        String(electionTicks),
      ],
    });
    try {
      const leader = await cluster.waitForLeader();
      for (const node of cluster.nodes) {
        const res = await fetch(`${node.proc!.url}/admin/faults`, {
          method: "PUT",
          body: JSON.stringify({ fsyncDelayMs }),
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      const rolesBefore = new Map(
        cluster.nodes.map((n) => [n.id, roleChanges(n.proc!.logs).length]),
      );
      const mergesBefore = (await status(leader.proc!.url)).merges;
      const value = "v".repeat(valueBytes);
      const outcomes = new Map<number, number>();
      let acked = 0;
      let longestGapMs = 0;
      let lastAckMs = Date.now();
      const stopAtMs = Date.now() + loadMs;
      const writer = async (w: number) => {
        for (let i = 0; i < 100_000 && Date.now() < stopAtMs; i++) {
          // Through every node: followers forward, so forwarding is under load too.
          const node = cluster.nodes[(w + i) % cluster.nodes.length];
          const key = `hot-${(w * 7 + i) % keysCount}`;
          let code = 0;
          try {
            const res = await fetch(`${node.proc!.url}/kv/${key}`, {
              method: "PUT",
              body: value,
              signal: AbortSignal.timeout(10_000),
            });
            await res.body?.cancel();
            code = res.status;
          } catch {
            code = 0;
          }
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
          if (code === 200 || code === 201) {
            acked++;
            const now = Date.now();
            longestGapMs = Math.max(longestGapMs, now - lastAckMs);
            lastAckMs = now;
          }
        }
      };
      await Promise.all(Array.from({ length: writersCount }, (_, w) => writer(w)));
      const after = await status(leader.proc!.url);
      const changes = cluster.nodes.flatMap((n) =>
        roleChanges(n.proc!.logs).slice(rolesBefore.get(n.id)).map((v) => ({ node: n.id, ...v }))
      );
      const summary = JSON.stringify({
        acked,
        outcomes: Object.fromEntries(outcomes),
        longestGapMs,
        merges: after.merges - mergesBefore,
        segments: after.segments,
      });
      assert.ok(after.merges > mergesBefore, `a merge ran on the leader meanwhile: ${summary}`);
      assert.deepEqual(changes, [], `no role changed under load: ${summary}`);
      assert.deepEqual([...outcomes.keys()].filter((c) => c !== 200 && c !== 201), [], summary);
      assert.ok(acked >= 40, `writes kept being acknowledged: ${summary}`);
      assert.ok(longestGapMs < 2_000, `no stall of 2 s between acknowledgements: ${summary}`);
    } finally {
      await cluster.close();
    }
  },
});
