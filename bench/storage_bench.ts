/**
 * deno bench suite of the storage engines: each group runs one workload on every engine with
 * lmdb as the baseline, so `deno bench` prints each engine's ratio to it. The summary runner
 * (storage_summary.ts) adds p99s, the 1M-key reopen and the merge workload.
 *
 *   deno bench -A --unstable-kv bench/storage_bench.ts
 */
import {
  type KvPeer,
  openPeer,
  type PeerName,
  peerNames,
  ringkvAvailable,
} from "./storage_peers.ts";
import {
  dataKey,
  dataPrefix,
  preload,
  randomInts,
  scanKeys,
  shuffledKeys,
  ValueSource,
  writeKey,
} from "./storage_workloads.ts";

const dataKeys = 20_000;
const hotKeys = 5_000;
const seed = Number(Deno.env.get("RINGKV_BENCH_SEED") ?? 42);
const engines: PeerName[] = (await ringkvAvailable())
  ? [...peerNames]
  : peerNames.filter((n) => n !== "ringkv");

const root = await Deno.makeTempDir({ prefix: "ringkv-bench-suite-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

async function openFilled(name: PeerName): Promise<KvPeer> {
  const dir = `${root}/${name}`;
  const first = await openPeer(name, dir);
  await preload(first, dataKeys);
  await first.close();
  // Reopened so that no value the preload wrote is in any engine-level cache.
  return await openPeer(name, dir);
}

const peers = new Map<PeerName, KvPeer>();
for (const name of engines) peers.set(name, await openFilled(name));

const order = shuffledKeys(dataKeys, seed);
const hot = order.subarray(dataKeys - hotKeys);
for (const peer of peers.values()) {
  for (const k of hot) await peer.get(dataKey(k));
}

function eachEngine(
  group: string,
  counts: { n: number; warmup: number },
  makeFn: (peer: KvPeer) => () => Promise<void>,
): void {
  for (const [name, peer] of peers) {
    Deno.bench({
      name: `${group}: ${name}`,
      group,
      baseline: name === "lmdb",
      ...counts,
      fn: makeFn(peer),
    });
  }
}

function putBench(tag: string, valueBytes: number, writers: number, n: number): void {
  const label = valueBytes >= 1024 ? `${valueBytes / 1024} KiB` : `${valueBytes} B`;
  const group = writers === 1
    ? `put ${label} durable, 1 writer`
    : `put ${label} durable, ${writers} writers (time per ${writers} puts)`;
  eachEngine(group, { n, warmup: Math.ceil(n / 10) }, (peer) => {
    const values = new ValueSource(valueBytes, tag.charCodeAt(0));
    let i = 0;
    return async () => {
      const puts = [];
      for (let w = 0; w < writers; w++) puts.push(peer.put(writeKey(tag, i++), values.next()));
      await Promise.all(puts);
    };
  });
}

putBench("a", 100, 1, 500);
putBench("b", 100, 64, 100);
putBench("c", 4096, 1, 300);
putBench("d", 4096, 64, 50);

eachEngine("batch 1000 x 100 B durable", { n: 30, warmup: 3 }, (peer) => {
  const values = new ValueSource(100, 5);
  let i = 0;
  return async () => {
    const entries = [];
    for (let j = 0; j < 1000; j++) entries.push({ key: writeKey("e", i++), value: values.next() });
    await peer.batch(entries);
  };
});

const uncachedReads = (dataKeys - hotKeys) / engines.length;
eachEngine("get uncached (first read after reopen)", { n: 2_000, warmup: 100 }, (peer) => {
  // Each engine reads its own slice of the never-read keys, each key once.
  const from = engines.indexOf(peer.name) * Math.floor(uncachedReads);
  let i = 0;
  return async () => {
    const k = order[from + (i++ % Math.floor(uncachedReads))];
    if (!await peer.get(dataKey(k))) throw new Error(`${peer.name}: key ${k} missing`);
  };
});

eachEngine(`get cached (${hotKeys} hot keys)`, { n: 20_000, warmup: 1_000 }, (peer) => {
  const rand = randomInts(seed + 1);
  return async () => {
    const k = hot[rand(hotKeys)];
    if (!await peer.get(dataKey(k))) throw new Error(`${peer.name}: key ${k} missing`);
  };
});

eachEngine(`scan prefix, ${scanKeys} keys`, { n: 100, warmup: 10 }, (peer) => {
  const rand = randomInts(seed + 2);
  return async () => {
    const found = await peer.scan(dataPrefix(rand(dataKeys / scanKeys)), scanKeys);
    if (found.length !== scanKeys) throw new Error(`${peer.name}: scan saw ${found.length}`);
  };
});
