import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { open } from "../../src/storage/mod.ts";
import { filesEnding, rng, withTempDir } from "./helpers.ts";

/** What recoveries reported, by message: shows which crash points the kills reached. */
const recoveryEvents = new Map<string, number>();

const child = new URL("./crash_child.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

interface Issued {
  id: number;
  w: number;
  batch: boolean;
  ops: { k: string; v: string | null }[];
}

/** Runs the child until it has acknowledged `acksMin` writes, then SIGKILLs it. */
async function runAndKill(
  dir: string,
  mode: string,
  seed: number,
  acksMin: number,
): Promise<{ issued: Map<number, Issued>; acked: number[]; merges: number }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", child, dir, mode, String(seed)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const issued = new Map<number, Issued>();
  const acked: number[] = [];
  let merges = 0;
  let text = "";
  const deadline = Date.now() + 30_000;
  const reader = proc.stdout.getReader();
  let killed = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.startsWith("I ")) {
          const it = JSON.parse(line.slice(2)) as Issued;
          issued.set(it.id, it);
        } else if (line.startsWith("A ")) acked.push(Number(line.slice(2)));
        else if (line === "M start") merges++;
      }
      const enough = acked.length >= acksMin && (mode !== "merge" || merges >= 3);
      if (!killed && (enough || Date.now() > deadline)) {
        proc.kill("SIGKILL");
        killed = true;
      }
    }
  } finally {
    if (!killed) proc.kill("SIGKILL");
  }
  const status = await proc.status;
  assert.equal(status.signal, "SIGKILL", `the child exited by itself (code ${status.code})`);
  assert.ok(acked.length >= acksMin, `child acknowledged only ${acked.length} writes`);
  return { issued, acked, merges };
}

/** Checks the reopened store against the model, then moves the model to what it found. */
async function verify(
  dir: string,
  model: Map<string, string>,
  run: { issued: Map<number, Issued>; acked: number[] },
): Promise<void> {
  const ackedSet = new Set(run.acked);
  // Acknowledged writes, in the order they were issued per writer, move the model.
  const byWriter = new Map<number, Issued[]>();
  for (const it of [...run.issued.values()].sort((a, b) => a.id - b.id)) {
    if (!byWriter.has(it.w)) byWriter.set(it.w, []);
    byWriter.get(it.w)!.push(it);
  }
  const inFlight: Issued[] = [];
  for (const list of byWriter.values()) {
    for (const it of list) {
      if (ackedSet.has(it.id)) {
        for (const op of it.ops) op.v === null ? model.delete(op.k) : model.set(op.k, op.v);
      } else inFlight.push(it); // each writer has at most one write in flight
    }
  }
  const logger = createLogger({
    level: "debug",
    sink: (line) => {
      const msg = JSON.parse(line).msg as string;
      recoveryEvents.set(msg, (recoveryEvents.get(msg) ?? 0) + 1);
    },
  });
  const store = await open(dir, { mergeAuto: false, logger });
  try {
    assert.deepEqual(filesEnding(dir, ".tmp"), []);
    const actual = new Map<string, string>();
    for (const e of await store.scan()) {
      actual.set(decoder.decode(e.key), decoder.decode(e.value!));
    }
    const touched = new Set<string>();
    for (const it of inFlight) {
      const before = it.ops.every((op) => actual.get(op.k) === model.get(op.k));
      const after = it.ops.every((op) =>
        op.v === null ? !actual.has(op.k) : actual.get(op.k) === op.v
      );
      // Duplicate keys cannot occur in one op list, so "after" is well defined.
      assert.ok(before || after, `write ${it.id} is half-visible: ${JSON.stringify(it.ops)}`);
      for (const op of it.ops) touched.add(op.k);
      if (after && !before) {
        for (const op of it.ops) op.v === null ? model.delete(op.k) : model.set(op.k, op.v);
      }
    }
    for (const [k, v] of model) {
      assert.equal(actual.get(k), v, `acknowledged value of ${k} lost`);
    }
    for (const k of actual.keys()) {
      assert.ok(model.has(k), `key ${k} present but never acknowledged nor in flight`);
    }
    assert.equal(store.stats().keys, model.size);
  } finally {
    await store.close();
  }
}

async function crashRounds(mode: string, rounds: number): Promise<void> {
  const seed = Number(Deno.env.get("RINGKV_CRASH_SEED") ?? Date.now() % 100_000);
  console.log(`crash test (${mode}) seed ${seed} (RINGKV_CRASH_SEED to reproduce)`);
  const random = rng(seed);
  await withTempDir(async (dir) => {
    const model = new Map<string, string>();
    for (let round = 0; round < rounds; round++) {
      const acksMin = 50 + Math.floor(random() * 400);
      const run = await runAndKill(dir, mode, seed * 100 + round, acksMin);
      await verify(dir, model, run);
    }
  });
  const quiet = new Set(["store opened", "recovery timings"]);
  const events = [...recoveryEvents].filter(([msg]) => !quiet.has(msg));
  console.log(`recoveries saw: ${JSON.stringify(Object.fromEntries(events))}`);
  recoveryEvents.clear();
}

Deno.test("after SIGKILL during durable writes every acknowledged write is present", async () => {
  await crashRounds("writes", 5);
});

Deno.test("after SIGKILL during merges nothing is lost, duplicated or resurrected", async () => {
  await crashRounds("merge", 12);
});
