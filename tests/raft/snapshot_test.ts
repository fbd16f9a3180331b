import assert from "node:assert/strict";
import { Network } from "./network.ts";

const ids = ["n1", "n2", "n3"];

function behindCompactedLog() {
  const net = new Network(ids, { config: { snapshotChunkBytes: 16 } });
  net.campaign("n1");
  net.isolate("n3");
  for (let i = 0; i < 30; i++) net.propose("n1", `value-${i}`);
  const index = net.compact("n1");
  net.compact("n2");
  assert.equal(net.get("n1").storage.firstIndex(), index + 1);
  return { net, index };
}

Deno.test("a follower behind the compacted log catches up from a snapshot sent in chunks", () => {
  const { net, index } = behindCompactedLog();
  net.heal();
  const before = net.delivered.length;
  net.tick(3);
  const chunks = net.delivered.slice(before).filter((m) => m.type === "snapshot" && m.to === "n3");
  assert.ok(chunks.length > 1, `${chunks.length} chunks`);
  assert.equal(net.get("n3").storage.snapshot().metadata.index, index);
  assert.deepEqual(net.get("n3").applied, net.get("n1").applied);
  assert.equal(net.get("n3").applied.length, 30);
  net.propose("n1", "after");
  assert.equal(net.get("n3").applied.at(-1), "after");
  assert.equal(net.node("n1").status().progress?.n3.state, "replicate");
});

Deno.test("a snapshot transfer survives lost chunks", () => {
  const { net, index } = behindCompactedLog();
  net.heal();
  let n = 0;
  net.addFilter((m) => !(m.type === "snapshot" && n++ % 3 === 1)); // lose every third chunk
  net.tick(60);
  assert.equal(net.get("n3").storage.snapshot().metadata.index, index);
  assert.deepEqual(net.get("n3").applied, net.get("n1").applied);
});

Deno.test("a follower that crashes mid-transfer restarts the snapshot from the first chunk", () => {
  const { net, index } = behindCompactedLog();
  net.heal();
  let chunks = 0;
  net.addFilter((m) => !(m.type === "snapshot" && ++chunks > 2));
  net.tick(2);
  net.crash("n3");
  net.restart("n3");
  net.heal();
  net.tick(30);
  assert.equal(net.get("n3").storage.snapshot().metadata.index, index);
  assert.equal(net.get("n3").applied.length, 30);
});

Deno.test("a restarted node rebuilds its state from snapshot plus log", () => {
  const net = new Network(ids);
  net.campaign("n1");
  for (let i = 0; i < 5; i++) net.propose("n1", `a${i}`);
  net.compact("n2");
  for (let i = 0; i < 5; i++) net.propose("n1", `b${i}`);
  net.crash("n2");
  net.restart("n2");
  net.tick(2);
  assert.deepEqual(net.get("n2").applied, net.get("n1").applied);
  assert.equal(net.get("n2").applied.length, 10);
  assert.deepEqual(net.node("n2").status().conf.voters, ids);
});
