/**
 * Sorted runs of keydir entries, used to rebuild the keydir quickly on open: each segment
 * yields one run (sorted by key, one entry per key), runs are merged pairwise, and the result
 * is bulk-loaded into the tree. Random inserts into a large B+ tree cost a cache miss per
 * level; sorting and merging runs does not.
 */
import type { Entry } from "./keydir.ts";

/** Keys in ascending order, each once, with their entries. */
export interface Run {
  keys: string[];
  entries: Entry[];
}

/** Whether `next` should replace `cur` for the same key: higher seq wins, ties go to `next`. */
function wins(next: { seq: number }, cur: { seq: number }): boolean {
  return next.seq >= cur.seq;
}

/**
 * Sorts one segment's entries (given in file order) into a run. For a key that appears more
 * than once, the highest seq wins; equal seqs (ops of one batch) go to the later record.
 */
export function sortRun<E extends { seq: number }>(
  keys: string[],
  entries: E[],
): { keys: string[]; entries: E[] } {
  if (keys.length !== entries.length) throw new Error("sortRun: length mismatch");
  const order = Array.from({ length: keys.length }, (_, i) => i);
  order.sort((i, j) => {
    const a = keys[i];
    const b = keys[j];
    return a < b ? -1 : a > b ? 1 : i - j;
  });
  const out: { keys: string[]; entries: E[] } = { keys: [], entries: [] };
  for (const i of order) {
    const n = out.keys.length;
    if (n > 0 && out.keys[n - 1] === keys[i]) {
      if (wins(entries[i], out.entries[n - 1])) out.entries[n - 1] = entries[i];
    } else {
      out.keys.push(keys[i]);
      out.entries.push(entries[i]);
    }
  }
  return out;
}

/** Whether `keys` is strictly ascending (a run as written by a hint file). */
export function isSortedUnique(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1] < keys[i])) return false;
  return true;
}

/** Merges two runs; for a key in both, the higher seq wins (ties go to `b`). */
export function mergeTwo<E extends { seq: number }>(
  a: { keys: string[]; entries: E[] },
  b: { keys: string[]; entries: E[] },
): { keys: string[]; entries: E[] } {
  if (a.keys.length === 0) return b;
  if (b.keys.length === 0) return a;
  const na = a.keys.length;
  const nb = b.keys.length;
  const keys = new Array<string>(na + nb);
  const entries = new Array<E>(na + nb);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < na && j < nb) {
    const ka = a.keys[i];
    const kb = b.keys[j];
    if (ka < kb) {
      keys[n] = ka;
      entries[n++] = a.entries[i++];
    } else if (kb < ka) {
      keys[n] = kb;
      entries[n++] = b.entries[j++];
    } else {
      keys[n] = ka;
      entries[n++] = wins(b.entries[j], a.entries[i]) ? b.entries[j] : a.entries[i];
      i++;
      j++;
    }
  }
  while (i < na) (keys[n] = a.keys[i], entries[n++] = a.entries[i++]);
  while (j < nb) (keys[n] = b.keys[j], entries[n++] = b.entries[j++]);
  keys.length = n;
  entries.length = n;
  return { keys, entries };
}

/** Merges any number of runs (given oldest segment first) into one. */
export function mergeRuns(runs: Run[]): Run {
  let level = runs;
  if (level.length === 0) return { keys: [], entries: [] };
  while (level.length > 1) {
    const next: Run[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? mergeTwo(level[i], level[i + 1]) : level[i]);
    }
    level = next;
  }
  return level[0];
}

/** Entries sorted per slice before merging; small enough that one slice takes about 1 ms. */
const SORT_SLICE_ENTRIES = 4096;

/**
 * sortRun that yields to the event loop between slices, for background work (hint files)
 * that must not stall requests: slices are sorted one at a time, then merged pairwise.
 */
export async function sortRunSliced<E extends { seq: number }>(
  run: { keys: string[]; entries: E[] },
  options: { yieldNow: () => Promise<void> },
): Promise<{ keys: string[]; entries: E[] }> {
  const { keys, entries } = run;
  const yieldNow = options.yieldNow;
  let runs: { keys: string[]; entries: E[] }[] = [];
  for (let i = 0; i < keys.length; i += SORT_SLICE_ENTRIES) {
    const end = Math.min(keys.length, i + SORT_SLICE_ENTRIES);
    runs.push(sortRun(keys.slice(i, end), entries.slice(i, end)));
    await yieldNow();
  }
  if (runs.length === 0) return { keys: [], entries: [] };
  while (runs.length > 1) {
    const next: { keys: string[]; entries: E[] }[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      // Runs are in file order, so on equal seqs the later run (b) wins, as in sortRun.
      next.push(
        i + 1 < runs.length ? await mergeTwoSliced(runs[i], runs[i + 1], options) : runs[i],
      );
    }
    runs = next;
  }
  return runs[0];
}

/** mergeTwo that yields to the event loop every SORT_SLICE_ENTRIES entries. */
export async function mergeTwoSliced<E extends { seq: number }>(
  a: { keys: string[]; entries: E[] },
  b: { keys: string[]; entries: E[] },
  options: { yieldNow: () => Promise<void> },
): Promise<{ keys: string[]; entries: E[] }> {
  const yieldNow = options.yieldNow;
  const keys: string[] = [];
  const entries: E[] = [];
  let i = 0;
  let j = 0;
  let steps = 0;
  while (i < a.keys.length || j < b.keys.length) {
    if (++steps % SORT_SLICE_ENTRIES === 0) await yieldNow();
    const ka = a.keys[i];
    const kb = b.keys[j];
    if (j >= b.keys.length || (i < a.keys.length && ka < kb)) {
      keys.push(ka);
      entries.push(a.entries[i++]);
    } else if (i >= a.keys.length || kb < ka) {
      keys.push(kb);
      entries.push(b.entries[j++]);
    } else {
      keys.push(ka);
      entries.push(wins(b.entries[j], a.entries[i]) ? b.entries[j] : a.entries[i]);
      i++;
      j++;
    }
  }
  return { keys, entries };
}
