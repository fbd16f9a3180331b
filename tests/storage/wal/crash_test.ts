/**
 * Crash safety with a real process: a child appends from 8 groups concurrently and is killed
 * with SIGKILL; after reopening, every acknowledged append is there (or was superseded by the
 * one append per group that was in flight). Seed: RINGKV_WAL_CRASH_SEED.
 */
import assert from "node:assert/strict";
import { openWal } from "../../../src/storage/wal/mod.ts";
import { CRASH_GROUPS, crashData } from "./crash_child.ts";
import type { CrashOp } from "./crash_child.ts";
import { withTempDir } from "./helpers.ts";

interface GroupModel {
  terms: Map<number, number>;
  last: number;
  hardState: { term: number; vote: string | null; commit: number };
  releasedMax: number;
  inFlight?: CrashOp;
}

function applyOp(m: GroupModel, group: number, op: CrashOp): GroupModel {
  const next: GroupModel = { ...m, terms: new Map(m.terms), hardState: { ...m.hardState } };
  const cutFrom = op.truncateFrom ?? op.lo;
  for (let i = cutFrom; i <= next.last; i++) next.terms.delete(i);
  next.last = Math.min(next.last, cutFrom - 1);
  for (let i = op.lo; i <= op.hi; i++) next.terms.set(i, op.term);
  if (op.hi >= op.lo) next.last = op.hi;
  if (op.commit !== undefined) {
    next.hardState = { term: op.term, vote: `n${group}`, commit: op.commit };
  }
  return next;
}

async function runChildUntil(
  dir: string,
  seed: number,
  acksWanted: number,
  models: GroupModel[],
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./crash_child.ts", import.meta.url).pathname, dir, String(seed)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let acks = 0;
  const deadline = Date.now() + 30_000;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let killed = false;
  try {
    // Read until enough acks, kill, then drain what the child wrote before it died.
    for (let reads = 0; reads < 10_000_000; reads++) {
      if (!killed && (acks >= acksWanted || Date.now() > deadline)) {
        child.kill("SIGKILL");
        killed = true;
      }
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) acks += applyLine(line, models);
    }
  } finally {
    if (!killed) child.kill("SIGKILL");
    await child.status;
  }
  assert.ok(acks >= acksWanted, `child acknowledged only ${acks} appends in 30 s`);
  return acks;
}

function applyLine(line: string, models: GroupModel[]): number {
  const [kind, groupText, rest] = line.split(" ", 3);
  if (kind === "ready") return 0;
  const m = models[Number(groupText)];
  if (kind === "s") {
    m.inFlight = JSON.parse(line.slice(line.indexOf("{")));
  } else if (kind === "a") {
    assert.ok(m.inFlight, "ack without an intent");
    models[Number(groupText)] = {
      ...applyOp(m, Number(groupText), m.inFlight!),
      inFlight: undefined,
    };
    return 1;
  } else if (kind === "r") {
    m.releasedMax = Math.max(m.releasedMax, Number(rest));
  } else {
    throw new Error(`unexpected child line ${line}`);
  }
  return 0;
}

/** Checks the reopened WAL against the model; returns the model rebuilt from the WAL. */
function verify(
  wal: Awaited<ReturnType<typeof openWal>>,
  group: number,
  m: GroupModel,
): GroupModel {
  const candidates = [m];
  if (m.inFlight) candidates.push(applyOp(m, group, m.inFlight));
  const last = wal.lastIndex(group);
  const first = wal.firstIndex(group);
  const errors: string[] = [];
  for (const c of candidates) {
    const problems: string[] = [];
    if (c.last !== last) problems.push(`last ${last} != ${c.last}`);
    const hs = wal.hardState(group);
    if (
      hs.term !== c.hardState.term || hs.vote !== c.hardState.vote ||
      hs.commit !== c.hardState.commit
    ) {
      problems.push(`hard state ${JSON.stringify(hs)} != ${JSON.stringify(c.hardState)}`);
    }
    if (first - 1 > Math.max(c.releasedMax, 0)) {
      problems.push(`firstIndex ${first} beyond release ${c.releasedMax}`);
    }
    if (problems.length === 0) {
      const entries = last >= first ? wal.entries(group, first, last + 1) : [];
      for (const e of entries) {
        const t = c.terms.get(e.index);
        if (t !== e.term) problems.push(`entry ${e.index} term ${e.term} != ${t}`);
        else if (
          new TextDecoder().decode(e.data) !==
            new TextDecoder().decode(crashData(group, e.index, t))
        ) {
          problems.push(`entry ${e.index} data differs`);
        }
      }
    }
    if (problems.length === 0) {
      const terms = new Map<number, number>();
      for (let i = first; i <= last; i++) terms.set(i, wal.term(group, i));
      return { terms, last, hardState: wal.hardState(group), releasedMax: c.releasedMax };
    }
    errors.push(problems.slice(0, 3).join("; "));
  }
  throw new Error(`group ${group} lost acknowledged state: ${errors.join(" | ")}`);
}

Deno.test("every acknowledged append survives SIGKILL of the appending process", async () => {
  const seed = Number(Deno.env.get("RINGKV_WAL_CRASH_SEED") ?? Date.now() % 1_000_000);
  console.log(`crash test seed ${seed} (set RINGKV_WAL_CRASH_SEED=${seed} to reproduce)`);
  await withTempDir(async (dir) => {
    let models: GroupModel[] = [];
    for (let g = 0; g < CRASH_GROUPS; g++) {
      models.push({
        terms: new Map(),
        last: 0,
        hardState: { term: 0, vote: null, commit: 0 },
        releasedMax: 0,
      });
    }
    const files: number[] = [];
    for (let round = 0; round < 3; round++) {
      const acks = await runChildUntil(dir, seed + round, 1500 + round * 700, models);
      const wal = await openWal(dir);
      try {
        models = models.map((m, g) => verify(wal, g, m));
        files.push(wal.stats().files);
        assert.ok(acks > 0);
      } finally {
        await wal.close();
      }
    }
    // The child released as it went: garbage collection moved the start and deleted files.
    assert.ok(Deno.statSync(`${dir}/WAL.START`).isFile, "no file was ever collected");
    console.log(`WAL files after each reopen: ${files.join(", ")}`);
  });
});
