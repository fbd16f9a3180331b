/**
 * Child process of crash_test.ts: writes to a store until it is killed, reporting on stdout
 * `I <json>` before issuing a write and `A <id>` once the write is acknowledged.
 * Args: dir, mode ("writes" | "merge"), seed.
 */
import { open } from "../../src/storage/mod.ts";
import type { BatchOp } from "../../src/storage/mod.ts";
import { rng } from "./helpers.ts";

const [dir, mode, seedText] = Deno.args;
const random = rng(Number(seedText));
const encoder = new TextEncoder();
const WRITERS = 8;
const KEYS_PER_WRITER = mode === "merge" ? 6 : 40;

const store = await open(dir, {
  segmentBytesMax: mode === "merge" ? 4096 : 64 * 1024,
  mergeAuto: mode === "merge",
  mergeDeadRatioMin: 0.3,
});

function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

let nextId = Number(seedText) * 1_000_000;

async function writer(w: number): Promise<void> {
  for (let n = 0;; n++) {
    const id = nextId++;
    const pick = random();
    const key = () => `w${w}-k${Math.floor(random() * KEYS_PER_WRITER)}`;
    const value = () => `w${w}-${id}-` + "x".repeat(Math.floor(random() * 200));
    let ops: { k: string; v: string | null }[];
    if (pick < 0.7) ops = [{ k: key(), v: value() }];
    else if (pick < 0.85) ops = [{ k: key(), v: null }];
    else {
      const keys = new Set<string>();
      const count = 2 + Math.floor(random() * 4);
      for (let i = 0; i < count; i++) keys.add(key());
      ops = [...keys].map((k) => ({ k, v: random() < 0.8 ? value() : null }));
    }
    say(`I ${JSON.stringify({ id, w, batch: ops.length > 1, ops })}`);
    if (ops.length === 1) {
      const op = ops[0];
      if (op.v === null) await store.delete(encoder.encode(op.k));
      else await store.put(encoder.encode(op.k), encoder.encode(op.v));
    } else {
      const batch: BatchOp[] = ops.map((op) =>
        op.v === null
          ? { type: "delete", key: encoder.encode(op.k) }
          : { type: "put", key: encoder.encode(op.k), value: encoder.encode(op.v) }
      );
      await store.batch(batch);
    }
    say(`A ${id}`);
  }
}

async function merger(): Promise<void> {
  for (;;) {
    say("M start");
    await store.merge();
    await new Promise((r) => setTimeout(r, 1));
  }
}

say("ready");
const tasks = Array.from({ length: WRITERS }, (_, w) => writer(w));
if (mode === "merge") tasks.push(merger());
await Promise.all(tasks);
