/**
 * The write error window of one failure, read from a load timeline (bench/load.ts with
 * `--timeline-ms`): a pure function of the timeline and the moment of the failure, so the
 * rule can be checked on made-up timelines. See {@link errorWindow} for the definition.
 */
import type { TimelineEntry } from "./load.ts";

/** Options of {@link errorWindow}. */
export interface ErrorWindowOptions {
  /** When the failure happened, in ms since the start of the load run. */
  failureMs: number;
  /** The search stops before this time (the next failure, or the end of the run), in ms. */
  limitMs: number;
  /** Clean entries in a row that end the window (writes flow cleanly again). Default 5. */
  cleanEntriesMin?: number;
}

/** What {@link errorWindow} found. */
export interface ErrorWindow {
  /** Start of the first bad entry, ms since the run start (null: none before recovery). */
  startMs: number | null;
  /** End of the last bad entry before writes flowed cleanly again (null as startMs). */
  endMs: number | null;
  /** endMs - startMs, 0 when no entry was bad. */
  windowMs: number;
  /** False when writes did not flow cleanly for cleanEntriesMin entries before the limit. */
  resolved: boolean;
  /** Failed requests that completed within the window. */
  errors: number;
  errorsByKind: Record<string, number>;
  /** Failed requests after the window (once writes flowed again) and before the limit. */
  errorsAfter: number;
}

/** Width of the entries of a timeline cut by `--timeline-ms` (throws for another one). */
export function entryWidthMs(timeline: TimelineEntry[]): number {
  if (timeline.length < 2 || timeline.some((e) => e.startMs === undefined)) {
    throw new Error("the timeline has fewer than 2 entries or lacks startMs (run --timeline-ms)");
  }
  const widthMs = timeline[1].startMs! - timeline[0].startMs!;
  timeline.forEach((e, i) => {
    if (e.startMs !== i * widthMs) throw new Error(`timeline entry ${i} is not ${widthMs} ms wide`);
  });
  return widthMs;
}

/** An entry is bad when a request failed in it or no request succeeded in it. */
export function isBad(entry: TimelineEntry): boolean {
  return entry.errors > 0 || entry.ops - entry.errors === 0;
}

/**
 * The error window of the failure at `failureMs`. Entries are cut by completion time, W ms
 * each. From the entry the failure falls in, the first bad entry (a request failed, or none
 * succeeded) opens the window at its start; the window closes at the end of the last bad
 * entry before `cleanEntriesMin` clean entries in a row. If that many clean entries come
 * first, the window is 0. The last entry of the run (partial) and entries that end after
 * `limitMs` are not searched; if the clean run is not found before them, `resolved` is false
 * and the window runs to the last bad entry seen. Its resolution is W: it holds every failed
 * completion between its ends and is less than 2 W longer than their span.
 */
export function errorWindow(timeline: TimelineEntry[], options: ErrorWindowOptions): ErrorWindow {
  const widthMs = entryWidthMs(timeline);
  const cleanMin = options.cleanEntriesMin ?? 5;
  if (!(Number.isInteger(cleanMin) && cleanMin >= 1)) throw new RangeError("cleanEntriesMin >= 1");
  if (!(options.failureMs >= 0)) throw new RangeError("failureMs must be >= 0");
  const from = Math.floor(options.failureMs / widthMs);
  // The last entry is partial (the run's drain), so it says nothing about the rate.
  const to = Math.min(timeline.length - 1, Math.floor(options.limitMs / widthMs));
  let first = -1;
  let last = -1;
  let cleanRun = 0;
  let i = from;
  for (; i < to && cleanRun < cleanMin; i++) {
    if (isBad(timeline[i])) {
      if (first < 0) first = i;
      last = i;
      cleanRun = 0;
    } else {
      cleanRun++;
    }
  }
  const resolved = cleanRun >= cleanMin;
  let errorsAfter = 0;
  for (; i < to; i++) errorsAfter += timeline[i].errors;
  if (first < 0) {
    return {
      startMs: null,
      endMs: null,
      windowMs: 0,
      resolved,
      errors: 0,
      errorsByKind: {},
      errorsAfter,
    };
  }
  const errorsByKind: Record<string, number> = {};
  let errors = 0;
  for (let j = first; j <= last; j++) {
    errors += timeline[j].errors;
    for (const [kind, n] of Object.entries(timeline[j].errorsByKind ?? {})) {
      errorsByKind[kind] = (errorsByKind[kind] ?? 0) + n;
    }
  }
  const startMs = first * widthMs;
  const endMs = (last + 1) * widthMs;
  return { startMs, endMs, windowMs: endMs - startMs, resolved, errors, errorsByKind, errorsAfter };
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
