/**
 * Put latency while ringkv's merge runs, against put latency without one, on the same store.
 * The store is filled, then 3 of every 4 keys are overwritten so that the closed segments are
 * mostly dead but still hold live records the merge must copy.
 */
import type { Logger } from "../src/log.ts";
import type { MergeResult, StoreStats } from "../src/storage/types.ts";
import { batchOpsMax, type KvEntry, openRingkvStore } from "./storage_peers.ts";
import {
  dataKey,
  type LatencySummary,
  LoopLagProbe,
  type LoopResult,
  preload,
  runClosedLoop,
  ValueSource,
  writeKey,
} from "./storage_workloads.ts";

/** What the merge workload measured. */
export interface MergeRun {
  keys: number;
  writers: number;
  segmentBytesMax: number;
  /** Puts with no merge running. */
  baseline: LoopResult;
  /** Puts issued while the merge ran (it stops issuing when the merge resolves). */
  during: LoopResult;
  /** Event-loop lag (beyond a 1 ms timer) without and during the merge. */
  lagBaseline: LatencySummary;
  lagDuring: LatencySummary;
  mergeMs: number;
  merge: MergeResult;
  statsBefore: StoreStats;
  statsAfter: StoreStats;
}

/** Options of {@link runMergeWorkload}. */
export interface MergeWorkloadOptions {
  /** Keys written, of which 3/4 are then overwritten. */
  keys: number;
  log: Logger;
  settings: { durationMs: number };
  /** Concurrent durable writers during both phases. Default 1. */
  writers?: number;
  /** Segment size of the store. Default 4 MiB, so the data spans many closed segments. */
  segmentBytesMax?: number;
  /** Longest a merge may take before the run fails. Default 300 s. */
  mergeTimeoutMs?: number;
}

async function overwriteThreeQuarters(
  put: (entries: KvEntry[]) => Promise<void>,
  keys: number,
): Promise<void> {
  const values = new ValueSource(100, 11);
  let entries: KvEntry[] = [];
  for (let i = 0; i < keys; i++) {
    if (i % 4 === 0) continue;
    entries.push({ key: dataKey(i), value: values.next() });
    if (entries.length === batchOpsMax) {
      await put(entries);
      entries = [];
    }
  }
  if (entries.length > 0) await put(entries);
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`merge took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the merge workload in `dir` (created, left for the caller to remove). */
export async function runMergeWorkload(
  dir: string,
  options: MergeWorkloadOptions,
): Promise<MergeRun> {
  const writers = options.writers ?? 1;
  const segmentBytesMax = options.segmentBytesMax ?? 4 << 20;
  const { peer, store } = await openRingkvStore(dir, { segmentBytesMax, mergeAuto: false });
  try {
    await preload(peer, options.keys);
    await overwriteThreeQuarters((e) => peer.batch(e), options.keys);
    const statsBefore = store.stats();
    options.log.info("merge workload filled", { ...statsBefore });
    const values = new ValueSource(100, 13);
    const putOp = (offset: number) => (i: number) =>
      peer.put(writeKey("m", offset + i), values.next());
    let probe = new LoopLagProbe();
    const baseline = await runClosedLoop(putOp(0), {
      concurrency: writers,
      durationMs: options.settings.durationMs,
      opsMax: 1_000_000,
    });
    const lagBaseline = await probe.stop();
    probe = new LoopLagProbe();
    const t0 = performance.now();
    const merging = store.merge();
    const mergeTimeoutMs = options.mergeTimeoutMs ?? 300_000;
    const during = await runClosedLoop(putOp(baseline.ops), {
      concurrency: writers,
      durationMs: mergeTimeoutMs,
      opsMax: 10_000_000,
      until: merging,
    });
    const merge = await withTimeout(merging, mergeTimeoutMs);
    const mergeMs = performance.now() - t0;
    const lagDuring = await probe.stop();
    const statsAfter = store.stats();
    options.log.info("merge workload done", { mergeMs, ...merge, during: during.ops });
    return {
      keys: options.keys,
      writers,
      segmentBytesMax,
      baseline,
      during,
      lagBaseline,
      lagDuring,
      mergeMs,
      merge,
      statsBefore,
      statsAfter,
    };
  } finally {
    await store.close();
  }
}
