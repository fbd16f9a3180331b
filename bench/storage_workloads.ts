/**
 * The storage workloads shared by the deno bench suite and the summary runner: key and value
 * makers, a bounded closed-loop driver that records per-operation latency, percentiles, and
 * the data set that gets and scans read.
 */
import { batchOpsMax, type KvEntry, type KvPeer } from "./storage_peers.ts";
import { seededRandom } from "../src/seeded_random.ts";

/** Every key the workloads write is this long. */
export const keyBytes = 16;

/** Keys of the preloaded data set share one prefix per this many keys (the scan size). */
export const scanKeys = 1000;

/** Data key numbers are below this, so that every data key is keyBytes long. */
export const dataKeysMax = 100_000 * scanKeys;

/** Most latency samples one run keeps; later operations still count towards ops/s. */
export const samplesMax = 2_000_000;

const enc = new TextEncoder();

/** The preloaded key number `i`: "d/PPPPP/IIIIIIII", 1000 keys per prefix. */
export function dataKey(i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= dataKeysMax) throw new RangeError(`no data key ${i}`);
  const prefix = Math.floor(i / scanKeys);
  const key = `d/${String(prefix).padStart(5, "0")}/${String(i % scanKeys).padStart(8, "0")}`;
  return enc.encode(key);
}

/** The prefix shared by preloaded keys [p * 1000, (p + 1) * 1000). */
export function dataPrefix(p: number): Uint8Array {
  return enc.encode(`d/${String(p).padStart(5, "0")}/`);
}

/** Write key number `i` of workload `tag` (one letter): "w/T/NNNNNNNNNNNN". */
export function writeKey(tag: string, i: number): Uint8Array {
  if (tag.length !== 1) throw new RangeError(`tag must be one character, got "${tag}"`);
  return enc.encode(`w/${tag}/${String(i).padStart(12, "0")}`);
}

/** A source of incompressible values: views into one random buffer, cycling offsets. */
export class ValueSource {
  readonly #pool: Uint8Array;
  #offset = 0;

  /** Values will be `valueBytes` long (at most 1 MiB). */
  constructor(readonly valueBytes: number, seed = 1) {
    if (valueBytes < 1 || valueBytes > 1 << 20) throw new RangeError("valueBytes out of range");
    this.#pool = new Uint8Array(Math.max(valueBytes * 4, 1 << 16));
    let x = seed >>> 0 || 1;
    for (let i = 0; i < this.#pool.length; i++) {
      // xorshift32: cheap, seeded, and good enough to defeat compression.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#pool[i] = x & 0xff;
    }
  }

  /** The next value; a view that must not be written to. */
  next(): Uint8Array {
    const start = this.#offset;
    this.#offset = (this.#offset + 61) % (this.#pool.length - this.valueBytes);
    return this.#pool.subarray(start, start + this.valueBytes);
  }
}

/** A seeded generator of integers in [0, n) (mulberry32), so runs can be replayed. */
export function randomInts(seed: number): (n: number) => number {
  const random = seededRandom(seed);
  return (n) => Math.floor(random() * n);
}

/** Latency figures of one run, in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** All samples of `runs` in one array, for pooled percentiles. */
export function pool(runs: readonly Float64Array[]): Float64Array {
  let n = 0;
  for (const r of runs) n += r.length;
  const out = new Float64Array(n);
  let p = 0;
  for (const r of runs) {
    out.set(r, p);
    p += r.length;
  }
  return out;
}

/** Nearest-rank percentile `q` (0..1) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: Float64Array, q: number): number {
  if (q < 0 || q > 1) throw new RangeError(`percentile wants q in 0..1, got ${q}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

/** p50, p99, max and mean of `latenciesMs` (sorted in place). */
export function summarize(latenciesMs: Float64Array): LatencySummary {
  latenciesMs.sort();
  let sum = 0;
  for (const x of latenciesMs) sum += x;
  const n = latenciesMs.length;
  return {
    samples: n,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    maxMs: n > 0 ? latenciesMs[n - 1] : NaN,
    meanMs: n > 0 ? sum / n : NaN,
  };
}

/** Options of {@link runClosedLoop}. */
export interface ClosedLoopOptions {
  /** Operations in flight at once (each worker awaits its own before the next). */
  concurrency: number;
  /** Stop issuing operations after this long. */
  durationMs: number;
  /** Stop issuing operations after this many. */
  opsMax: number;
  /** Also stop once this resolves (e.g. a merge finishing). */
  until?: Promise<unknown>;
  /** When given, the run's sorted latency samples are appended here (to pool runs). */
  keepSamples?: Float64Array[];
}

/** What one closed-loop run measured. */
export interface LoopResult {
  ops: number;
  elapsedMs: number;
  latency: LatencySummary;
}

/**
 * Runs `op(i)` for i = 0, 1, ... from `concurrency` workers until the time, count or `until`
 * bound is hit, timing each call. Rejects with the first error an operation throws.
 */
export async function runClosedLoop(
  op: (i: number) => Promise<void>,
  options: ClosedLoopOptions,
): Promise<LoopResult> {
  const { concurrency, durationMs, opsMax } = options;
  if (concurrency < 1 || concurrency > 1024) throw new RangeError("concurrency out of range");
  if (durationMs <= 0 || opsMax < 1) throw new RangeError("a run needs time and operations");
  let stopped = false;
  options.until?.finally(() => stopped = true);
  const latencies = new Float64Array(Math.min(opsMax, samplesMax));
  let issued = 0;
  let recorded = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async () => {
    while (!stopped && issued < opsMax && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      await op(i);
      const t1 = performance.now();
      if (recorded < latencies.length) latencies[recorded++] = t1 - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  const samples = latencies.subarray(0, recorded);
  const latency = summarize(samples);
  options.keepSamples?.push(samples);
  return { ops: issued, elapsedMs, latency };
}

/**
 * Measures how late a 1 ms timer fires while work runs: the event-loop stalls that every
 * request on the same thread waits out. Call `stop()` to end it and get the figures.
 */
export class LoopLagProbe {
  readonly #lags: number[] = [];
  #running = true;
  readonly #done: Promise<void>;

  /** Starts probing at once; stops by itself after `durationMsMax` (default 10 minutes). */
  constructor(durationMsMax = 600_000) {
    this.#done = this.#run(performance.now() + durationMsMax);
  }

  async #run(deadline: number): Promise<void> {
    while (this.#running && performance.now() < deadline && this.#lags.length < samplesMax) {
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1));
      this.#lags.push(Math.max(0, performance.now() - t0 - 1));
    }
  }

  /** Stops probing; the lag beyond the 1 ms period, per timer. */
  async stop(): Promise<LatencySummary> {
    this.#running = false;
    await this.#done;
    return summarize(Float64Array.from(this.#lags));
  }
}

/** Options of {@link preload}. */
export interface PreloadOptions {
  /** First key number; default 0. */
  from?: number;
  /** Value size; default 100 bytes. */
  valueBytes?: number;
  /** Batches in flight at once; default 4. */
  concurrency?: number;
}

/** Writes data keys [from, from + keys) in durable batches of batchOpsMax. */
export async function preload(
  peer: KvPeer,
  keys: number,
  options: PreloadOptions = {},
): Promise<void> {
  const from = options.from ?? 0;
  const values = new ValueSource(options.valueBytes ?? 100, 7);
  const end = from + keys;
  let next = from;
  const worker = async () => {
    while (next < end) {
      const first = next;
      next = Math.min(end, first + batchOpsMax);
      const entries: KvEntry[] = [];
      for (let i = first; i < next; i++) entries.push({ key: dataKey(i), value: values.next() });
      await peer.batch(entries);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
}

/** Key numbers 0..n-1 in a seeded random order. */
export function shuffledKeys(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = randomInts(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rand(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Human-readable byte size: 100 B, 4 KiB. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
