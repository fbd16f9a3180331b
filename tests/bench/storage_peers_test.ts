import assert from "node:assert/strict";
import {
  batchOpsMax,
  type KvPeer,
  openPeer,
  type PeerName,
  peerNames,
  prefixEnd,
  ringkvAvailable,
} from "../../bench/storage_peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const hasRingkv = await ringkvAvailable();

async function withPeer(
  name: PeerName,
  fn: (peer: KvPeer, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `ringkv-peer-${name}-` });
  try {
    const peer = await openPeer(name, dir);
    try {
      await fn(peer, dir);
    } finally {
      await peer.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("prefixEnd increments the last byte below 0xff", () => {
  assert.deepEqual(prefixEnd(Uint8Array.of(1, 2, 3)), Uint8Array.of(1, 2, 4));
  assert.deepEqual(prefixEnd(Uint8Array.of(1, 0xff, 0xff)), Uint8Array.of(2));
});

Deno.test("prefixEnd is undefined for a prefix of only 0xff bytes", () => {
  assert.equal(prefixEnd(Uint8Array.of(0xff, 0xff)), undefined);
});

for (const name of peerNames) {
  // Deno KV needs --unstable-kv; the other peers always load.
  const ignore = (name === "ringkv" && !hasRingkv) ||
    (name === "deno-kv" && typeof Deno.openKv !== "function");

  Deno.test({
    name: `${name}: get returns what put wrote and undefined for a missing key`,
    ignore,
    fn: () =>
      withPeer(name, async (peer) => {
        await peer.put(enc.encode("a"), enc.encode("one"));
        await peer.put(enc.encode("a"), enc.encode("two"));
        assert.equal(dec.decode(await peer.get(enc.encode("a"))), "two");
        assert.equal(await peer.get(enc.encode("b")), undefined);
      }),
  });

  Deno.test({
    name: `${name}: scan returns only the prefix's keys, in key order, up to limit`,
    ignore,
    fn: () =>
      withPeer(name, async (peer) => {
        const keys = ["p/3", "p/1", "q/0", "o/9", "p/2", "p\xff"];
        await peer.batch(keys.map((k) => ({ key: enc.encode(k), value: enc.encode(`v${k}`) })));
        const all = await peer.scan(enc.encode("p/"), 10);
        assert.deepEqual(all.map((e) => dec.decode(e.key)), ["p/1", "p/2", "p/3"]);
        assert.equal(dec.decode(all[0].value), "vp/1");
        const two = await peer.scan(enc.encode("p/"), 2);
        assert.deepEqual(two.map((e) => dec.decode(e.key)), ["p/1", "p/2"]);
      }),
  });

  Deno.test({
    name: `${name}: a batch of batchOpsMax entries is readable after reopen`,
    ignore,
    fn: () =>
      withPeer(name, async (peer, dir) => {
        const entries = Array.from({ length: batchOpsMax }, (_, i) => ({
          key: enc.encode(`k${String(i).padStart(5, "0")}`),
          value: enc.encode(`v${i}`),
        }));
        await peer.batch(entries);
        await peer.close();
        const again = await openPeer(name, dir);
        try {
          assert.equal(dec.decode(await again.get(entries[0].key)), "v0");
          const last = await again.get(entries[batchOpsMax - 1].key);
          assert.equal(dec.decode(last), `v${batchOpsMax - 1}`);
        } finally {
          await again.close();
        }
        // withPeer closes `peer` again: close is idempotent.
      }),
  });

  Deno.test({
    name: `${name}: rejects a batch longer than batchOpsMax`,
    ignore,
    fn: () =>
      withPeer(name, async (peer) => {
        const entries = Array.from({ length: batchOpsMax + 1 }, (_, i) => ({
          key: enc.encode(`k${i}`),
          value: enc.encode("v"),
        }));
        await assert.rejects(() => peer.batch(entries), RangeError);
      }),
  });
}
