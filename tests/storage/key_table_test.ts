import assert from "node:assert/strict";
import { KeyTable } from "../../src/storage/key_table.ts";
import { rng } from "./helpers.ts";

function seedFromEnv(name: string): number {
  const seed = Number(Deno.env.get(name) ?? Date.now() % 1_000_000);
  console.log(`seed ${seed} (${name} to reproduce)`);
  return seed;
}

Deno.test("finds every key it holds through growth, removal and slot reuse", () => {
  const random = rng(seedFromEnv("RINGKV_KEY_TABLE_SEED"));
  const table = new KeyTable();
  const model = new Map<string, number>();
  const added = { added: false };
  for (let step = 0; step < 60_000; step++) {
    // Few distinct keys, so removals and re-adds (slot reuse, backward shifts) are frequent.
    const key = `k${Math.floor(random() * 5000)}`;
    if (random() < 0.35) {
      const slot = table.remove(key);
      assert.equal(slot >= 0, model.delete(key), `remove ${key} at step ${step}`);
    } else {
      const slot = table.slotFor(key, added);
      assert.equal(added.added, !model.has(key), `add ${key} at step ${step}`);
      table.seq[slot] = step;
      model.set(key, step);
    }
  }
  assert.equal(table.size, model.size);
  for (let i = 0; i < 5000; i++) {
    const key = `k${i}`;
    const slot = table.find(key);
    if (!model.has(key)) assert.equal(slot, -1, key);
    else assert.equal(table.seq[slot], model.get(key), key);
  }
});

Deno.test("a new slot starts with zeroed fields even when reused", () => {
  const table = new KeyTable();
  const added = { added: false };
  const slot = table.slotFor("a", added);
  table.segment[slot] = 7;
  table.seq[slot] = 9;
  table.remove("a");
  const again = table.slotFor("b", added);
  assert.equal(again, slot);
  assert.equal(table.segment[again], 0);
  assert.equal(table.seq[again], 0);
  assert.equal(table.find("a"), -1);
});

Deno.test("a table sized up front holds that many keys without growing its columns", () => {
  const table = new KeyTable(5000);
  const columns = table.seq;
  for (let i = 0; i < 5000; i++) table.addAbsent(`key-${i}`);
  assert.equal(table.seq, columns);
  assert.equal(table.size, 5000);
  assert.ok(table.find("key-4999") >= 0);
});

Deno.test("rejects a size beyond KEY_TABLE_KEYS_MAX", () => {
  assert.throws(() => new KeyTable(2 ** 40), RangeError);
});
