/**
 * Sorted runs of keydir entries, used to rebuild the keydir quickly on open: each segment
 * yields one run (sorted by key, one entry per key), runs are merged pairwise, and the result
 * is bulk-loaded into the tree. Random inserts into a large B+ tree cost a cache miss per
 * level; sorting and merging runs does not.
 */
import type { Entry } from "./keydir.ts";
import { Pacer, PACER_CHECK_EVERY } from "./pacer.ts";

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

/** Entries sorted per slice before merging; small enough that one slice stays well under 1 ms. */
const SORT_SLICE_ENTRIES = 1024;

/**
 * sortRun that yields to the event loop between slices, for background work (hint files)
 * that must not stall requests: slices are sorted one at a time, then merged pairwise. It
 * yields through `yieldNow` once about half a millisecond of work has passed (see pacer.ts).
 */
export async function sortRunSliced<E extends { seq: number }>(
  run: { keys: string[]; entries: E[] },
  options: { yieldNow: () => Promise<void> },
): Promise<{ keys: string[]; entries: E[] }> {
  const { keys, entries } = run;
  const pacer = new Pacer({ yieldNow: options.yieldNow });
  let runs: { keys: string[]; entries: E[] }[] = [];
  for (let i = 0; i < keys.length; i += SORT_SLICE_ENTRIES) {
    const end = Math.min(keys.length, i + SORT_SLICE_ENTRIES);
    runs.push(sortRun(keys.slice(i, end), entries.slice(i, end)));
    await pacer.pauseIfDue();
  }
  if (runs.length === 0) return { keys: [], entries: [] };
  while (runs.length > 1) {
    const next: { keys: string[]; entries: E[] }[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      // Runs are in file order, so on equal seqs the later run (b) wins, as in sortRun.
      next.push(
        i + 1 < runs.length ? await mergePaced(runs[i], runs[i + 1], pacer) : runs[i],
      );
    }
    runs = next;
  }
  return runs[0];
}

/** mergeTwo that yields to the event loop (through `yieldNow`) about every 0.5 ms of work. */
export function mergeTwoSliced<E extends { seq: number }>(
  a: { keys: string[]; entries: E[] },
  b: { keys: string[]; entries: E[] },
  options: { yieldNow: () => Promise<void> },
): Promise<{ keys: string[]; entries: E[] }> {
  return mergePaced(a, b, new Pacer({ yieldNow: options.yieldNow }));
}

async function mergePaced<E extends { seq: number }>(
  a: { keys: string[]; entries: E[] },
  b: { keys: string[]; entries: E[] },
  pacer: Pacer,
): Promise<{ keys: string[]; entries: E[] }> {
  const keys: string[] = [];
  const entries: E[] = [];
  let i = 0;
  let j = 0;
  let steps = 0;
  while (i < a.keys.length || j < b.keys.length) {
    if (++steps % PACER_CHECK_EVERY === 0 && pacer.due()) await pacer.pause();
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

/**
 * One segment's keydir entries stored column-wise (no object per entry): entry `i` is
 * `keys[i]` at `offset[i]` with `length[i]` bytes (negative: a tombstone of that many bytes)
 * and `seq[i]`, for `i < count`.
 */
export interface ColumnRun {
  segment: number;
  count: number;
  keys: string[];
  offset: Uint32Array;
  length: Int32Array;
  seq: Float64Array;
}

/** Most entries a column run may hold. */
export const COLUMN_RUN_ENTRIES_MAX = 2 ** 27;

/** A column run with room for `capacity` entries. */
export function newColumnRun(segment: number, capacity: number): ColumnRun {
  if (!(capacity >= 0 && capacity <= COLUMN_RUN_ENTRIES_MAX)) {
    throw new RangeError(`column run: capacity ${capacity} out of range`);
  }
  return {
    segment,
    count: 0,
    keys: new Array(capacity),
    offset: new Uint32Array(capacity),
    length: new Int32Array(capacity),
    seq: new Float64Array(capacity),
  };
}

/** Appends one entry, doubling the columns when full. */
export function pushColumn(
  run: ColumnRun,
  entry: { key: string; offset: number; length: number; seq: number },
): void {
  const n = run.count;
  if (n === run.offset.length) {
    const capacity = Math.max(1024, n * 2);
    if (capacity > COLUMN_RUN_ENTRIES_MAX) throw new RangeError("column run is full");
    const offset = new Uint32Array(capacity);
    offset.set(run.offset);
    const length = new Int32Array(capacity);
    length.set(run.length);
    const seq = new Float64Array(capacity);
    seq.set(run.seq);
    run.offset = offset;
    run.length = length;
    run.seq = seq;
    run.keys.length = capacity;
  }
  run.keys[n] = entry.key;
  run.offset[n] = entry.offset;
  run.length[n] = entry.length;
  run.seq[n] = entry.seq;
  run.count = n + 1;
}

/** Whether the keys of `run` are strictly ascending (a run as a hint file stores it). */
export function columnRunSorted(run: ColumnRun): boolean {
  const keys = run.keys;
  for (let i = 1; i < run.count; i++) if (!(keys[i - 1] < keys[i])) return false;
  return true;
}

/**
 * Sorts a run given in file order by key, keeping one entry per key: the highest seq, and for
 * equal seqs the later record (as {@link sortRun}). Returns a new, exactly sized run.
 */
export function sortColumnRun(run: ColumnRun): ColumnRun {
  const n = run.count;
  const keys = run.keys;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => {
    const a = keys[i];
    const b = keys[j];
    return a < b ? -1 : a > b ? 1 : i - j;
  });
  let unique = 0;
  for (let k = 0; k < n; k++) if (k === 0 || keys[order[k]] !== keys[order[k - 1]]) unique++;
  const out = newColumnRun(run.segment, unique);
  let m = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (m >= 0 && out.keys[m] === keys[i]) {
      if (!(run.seq[i] >= out.seq[m])) continue;
    } else m++;
    out.keys[m] = keys[i];
    out.offset[m] = run.offset[i];
    out.length[m] = run.length[i];
    out.seq[m] = run.seq[i];
  }
  out.count = m + 1;
  if (out.count !== unique) throw new Error("sortColumnRun: count mismatch");
  return out;
}

/**
 * Visits the entries of sorted runs (given oldest segment first) in key order, one per key:
 * the highest seq, ties to the later run. A k-way merge over a heap of run heads: nothing is
 * copied, and each step costs O(log k) key comparisons.
 */
export function forEachMerged(
  runs: ColumnRun[],
  visit: (run: ColumnRun, i: number) => void,
): void {
  const pos = new Uint32Array(runs.length);
  // Heap of run numbers ordered by (head key, run number).
  const heap: number[] = [];
  const less = (a: number, b: number): boolean => {
    const ka = runs[a].keys[pos[a]];
    const kb = runs[b].keys[pos[b]];
    return ka < kb || (ka === kb && a < b);
  };
  const down = (at: number): void => {
    const n = heap.length;
    for (let i = at; i < n;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const c = l + 1 < n && less(heap[l + 1], heap[l]) ? l + 1 : l;
      if (!less(heap[c], heap[i])) return;
      [heap[c], heap[i]] = [heap[i], heap[c]];
      i = c;
    }
  };
  const up = (at: number): void => {
    for (let i = at; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) return;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  };
  for (let r = 0; r < runs.length; r++) {
    if (runs[r].count > 0) {
      heap.push(r);
      up(heap.length - 1);
    }
  }
  // Runs of the same key surface in ascending run order; the winner is picked among them.
  const advance = (r: number): void => {
    pos[r]++;
    if (pos[r] < runs[r].count) down(0);
    else {
      heap[0] = heap[heap.length - 1];
      heap.pop();
      down(0);
    }
  };
  while (heap.length > 0) {
    let best = heap[0];
    let bestAt = pos[best];
    const key = runs[best].keys[bestAt];
    advance(best);
    while (heap.length > 0 && runs[heap[0]].keys[pos[heap[0]]] === key) {
      const r = heap[0];
      if (runs[r].seq[pos[r]] >= runs[best].seq[bestAt]) {
        best = r;
        bestAt = pos[r];
      }
      advance(r);
    }
    visit(runs[best], bestAt);
  }
}
