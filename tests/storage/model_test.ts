/**
 * Randomized model test: random writes, conditional writes, batches, scans, merges and
 * restarts, each checked against an in-memory Map. Prints its seeds; RINGKV_MODEL_SEED runs
 * one seed, RINGKV_MODEL_ROUNDS sets the operations per seed.
 */
import assert from "node:assert/strict";
import { ConditionFailedError, open } from "../../src/storage/mod.ts";
import type { BatchOp, Store, StoreOptions, WriteCondition } from "../../src/storage/mod.ts";
import { rng, withTempDir } from "./helpers.ts";

const ROUNDS = Number(Deno.env.get("RINGKV_MODEL_ROUNDS") ?? 1500);
const SEED_ENV = Deno.env.get("RINGKV_MODEL_SEED");
const SEEDS = SEED_ENV !== undefined
  ? [Number(SEED_ENV)]
  : [1, 2, 3].map((i) => (Date.now() * i) % 1_000_000);

type Model = Map<string, { value: Uint8Array; seq: number }>;

function hex(key: Uint8Array): string {
  return [...key].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function unhex(h: string): Uint8Array {
  return new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));
}

async function runSeed(seed: number): Promise<void> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const alphabet = [0x00, 0x01, 0x41, 0x42, 0x7f, 0x80, 0xc3, 0xff];
  const randomKey = () =>
    new Uint8Array(Array.from({ length: 1 + int(3) }, () => alphabet[int(alphabet.length)]));
  const randomValue = () => new Uint8Array(Array.from({ length: int(120) }, () => int(256)));
  const options: StoreOptions = {
    segmentBytesMax: 1024 + int(4096),
    cacheBytesMax: int(2) === 0 ? 0 : 2048,
    mergeAuto: int(2) === 0,
    mergeDeadRatioMin: 0.2 + random() * 0.6,
    sync: (["always", "interval", "none"] as const)[int(3)],
  };
  await withTempDir(async (dir) => {
    let store: Store = await open(dir, options);
    const model: Model = new Map();
    const current = (k: Uint8Array) => model.get(hex(k))?.seq;
    const holds = (c: WriteCondition | undefined, seq: number | undefined) =>
      c === undefined ||
      ("seq" in c ? seq === c.seq : "absent" in c ? seq === undefined : seq !== undefined);
    const randomCondition = (k: Uint8Array): WriteCondition | undefined => {
      const r = int(10);
      if (r < 6) return undefined;
      if (r === 6) return { absent: true };
      if (r === 7) return { present: true };
      return { seq: int(2) === 0 ? (current(k) ?? 1) : int(50) };
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const what = int(100);
        const ctx = `seed ${seed} round ${round}`;
        if (what < 40) {
          const key = randomKey();
          const value = randomValue();
          const cond = randomCondition(key);
          const ok = holds(cond, current(key));
          const r = await store.put(key, value, { if: cond }).catch((e) => e);
          if (ok) {
            assert.ok(!(r instanceof Error), `${ctx}: put failed: ${r}`);
            model.set(hex(key), { value, seq: r.seq });
          } else assert.ok(r instanceof ConditionFailedError, `${ctx}: condition ignored`);
        } else if (what < 55) {
          const key = randomKey();
          const cond = randomCondition(key);
          const ok = holds(cond, current(key));
          const r = await store.delete(key, { if: cond }).catch((e) => e);
          if (ok) {
            assert.equal(r.existed, model.has(hex(key)), ctx);
            model.delete(hex(key));
          } else assert.ok(r instanceof ConditionFailedError, ctx);
        } else if (what < 65) {
          const ops: BatchOp[] = [];
          const staged = new Map<string, number | undefined>();
          let ok = true;
          for (let i = 0, n = 1 + int(5); i < n; i++) {
            const key = randomKey();
            // A seq condition on a key staged earlier in the batch would name the batch's own
            // seq, which the model cannot know: only conditions on unstaged keys.
            const cond = int(4) === 0 && !staged.has(hex(key)) ? randomCondition(key) : undefined;
            const seqNow = staged.has(hex(key)) ? staged.get(hex(key)) : current(key);
            if (!holds(cond, seqNow)) ok = false;
            const op: BatchOp = int(4) === 0
              ? { type: "delete", key, if: cond }
              : { type: "put", key, value: randomValue(), if: cond };
            staged.set(hex(key), op.type === "put" ? -1 : undefined);
            ops.push(op);
          }
          const r = await store.batch(ops).catch((e) => e);
          if (ok) {
            assert.ok(!(r instanceof Error), `${ctx}: batch failed: ${r}`);
            for (const op of ops) {
              if (op.type === "put") model.set(hex(op.key), { value: op.value, seq: r.seq });
              else model.delete(hex(op.key));
            }
          } else assert.ok(r instanceof ConditionFailedError, `${ctx}: batch condition ignored`);
        } else if (what < 70) {
          // Concurrent writes: they share groups; each sees the ones queued before it.
          const writes = Array.from(
            { length: 2 + int(6) },
            () => ({ key: randomKey(), value: randomValue() }),
          );
          const results = await Promise.all(writes.map((w) => store.put(w.key, w.value)));
          writes.forEach((w, i) => model.set(hex(w.key), { value: w.value, seq: results[i].seq }));
        } else if (what < 85) {
          const key = randomKey();
          const got = await store.getVersioned(key);
          const want = model.get(hex(key));
          assert.deepEqual(got?.value, want?.value, `${ctx}: get ${hex(key)}`);
          assert.equal(got?.seq, want?.seq, `${ctx}: version ${hex(key)}`);
        } else if (what < 92) {
          const prefix = int(2) === 0 ? randomKey().subarray(0, 1) : undefined;
          const reverse = int(2) === 0;
          const limit = int(3) === 0 ? int(10) : undefined;
          const got = await store.scan({ prefix, reverse, limit });
          let want = [...model.entries()]
            .map(([k, v]) => ({ key: unhex(k), value: v.value, seq: v.seq }))
            .filter((e) => prefix === undefined || (e.key[0] === prefix[0]))
            .sort((x, y) => compareBytes(x.key, y.key));
          if (reverse) want.reverse();
          if (limit !== undefined) want = want.slice(0, limit);
          assert.deepEqual(
            got.map((e) => [hex(e.key), hex(e.value!), e.seq]),
            want.map((e) => [hex(e.key), hex(e.value), e.seq]),
            `${ctx}: scan`,
          );
        } else if (what < 96) {
          await store.merge();
        } else {
          await store.close();
          store = await open(dir, options);
          assert.equal(store.stats().keys, model.size, `${ctx}: keys after reopen`);
        }
      }
      assert.equal(store.stats().keys, model.size);
    } finally {
      await store.close();
    }
  });
}

Deno.test("the store behaves like a map under random operations, merges and restarts", async () => {
  for (const seed of SEEDS) {
    console.log(`model seed ${seed} (RINGKV_MODEL_SEED=${seed} to reproduce), ${ROUNDS} rounds`);
    await runSeed(seed);
  }
});
