/**
 * Child process of crash_test.ts: appends to a WAL from one appender per group until killed.
 * Prints `s <group> <op JSON>` before each append and `a <group>` once it is durable, and
 * `r <group> <index>` before releasing. Usage: crash_child.ts DIR SEED
 */
import { openWal } from "../../../src/storage/wal/mod.ts";
import type { Wal } from "../../../src/storage/wal/mod.ts";
import { rng } from "./helpers.ts";

/** One append as the child describes it. */
export interface CrashOp {
  truncateFrom?: number;
  lo: number;
  hi: number;
  term: number;
  commit?: number;
}

/** The data the child writes at `index` of `group` in `term`. */
export function crashData(group: number, index: number, term: number): Uint8Array {
  return new TextEncoder().encode(`g${group}-i${index}-t${term}-`.padEnd(100, "."));
}

/** Groups the child writes. */
export const CRASH_GROUPS = 8;

const encoder = new TextEncoder();
function out(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let done = 0;
  while (done < bytes.byteLength) done += Deno.stdout.writeSync(bytes.subarray(done));
}

async function appender(wal: Wal, group: number, random: () => number): Promise<void> {
  for (let step = 0; step < 1_000_000; step++) {
    const last = wal.lastIndex(group);
    let term = Math.max(wal.hardState(group).term, last > 0 ? wal.term(group, last) : 0, 1);
    const op: CrashOp = { lo: last + 1, hi: last + 1 + Math.floor(random() * 5), term };
    if (random() < 0.1 && last - 2 >= wal.firstIndex(group)) {
      term += 1;
      op.term = term;
      op.truncateFrom = last - 2;
      op.lo = last - 2;
      op.hi = last - 2 + Math.floor(random() * 4);
    }
    if (random() < 0.3) op.commit = Math.max(0, last - 5);
    out(`s ${group} ${JSON.stringify(op)}`);
    const entries = [];
    for (let i = op.lo; i <= op.hi; i++) {
      entries.push({ index: i, term, type: 0, data: crashData(group, i, term) });
    }
    await wal.append(group, {
      truncateFrom: op.truncateFrom,
      entries,
      hardState: op.commit === undefined
        ? undefined
        : { term, vote: `n${group}`, commit: op.commit },
    });
    out(`a ${group}`);
    if (step % 20 === 19) {
      const release = wal.lastIndex(group) - 30;
      if (release > wal.firstIndex(group)) {
        out(`r ${group} ${release}`);
        wal.releaseBefore(group, release);
      }
    }
  }
}

if (import.meta.main) {
  const [dir, seedText] = Deno.args;
  const seed = Number(seedText);
  const wal = await openWal(dir, { segmentBytesMax: 128 * 1024 });
  out("ready");
  const loops = [];
  for (let g = 0; g < CRASH_GROUPS; g++) loops.push(appender(wal, g, rng(seed * 100 + g)));
  await Promise.all(loops);
}
