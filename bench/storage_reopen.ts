/**
 * Reopen time and memory of a filled data directory, measured in a fresh process so that
 * nothing the writer left in memory counts. `measureReopen` spawns this module; run as the
 * main module it opens the engine once on a scratch directory (to load code and native
 * libraries), then on the real one, and prints one JSON line with what it saw.
 */
import { parseArgs } from "node:util";
import { dataKey } from "./storage_workloads.ts";
import { isPeerName, openPeer, type PeerName } from "./storage_peers.ts";

/** What one reopen measured. */
export interface ReopenResult {
  engine: PeerName;
  keys: number;
  /** From the call to open until it resolved. */
  openMs: number;
  /** Resident set growth across open, after a full GC before and after. */
  rssDeltaBytes: number;
  /** JS heap growth across open, after a full GC before and after. */
  heapDeltaBytes: number;
  /** Growth of the heap V8 holds (used or not), which RSS follows. */
  heapTotalDeltaBytes: number;
  /** Growth of memory outside the JS heap (ArrayBuffers, typed arrays). */
  externalDeltaBytes: number;
  /** A first, middle and last key read back right after open, in milliseconds. */
  firstReadsMs: number;
  /** When several reopens were measured: each one's openMs, ascending (this is the median). */
  openMsRuns?: number[];
}

/** Options of {@link measureReopen}. */
export interface MeasureReopenOptions {
  /** Kill the child past this. Default 300 s. */
  timeoutMs?: number;
}

/**
 * Reopens `dir` (filled with data keys 0..keys-1 by engine `engine`) in a child process and
 * returns what it measured. Throws when the child fails or times out.
 */
export async function measureReopen(
  engine: PeerName,
  dir: string,
  keys: number,
  options: MeasureReopenOptions = {},
): Promise<ReopenResult> {
  const args = [
    "run",
    "-A",
    "--unstable-kv",
    "--v8-flags=--expose-gc",
    new URL(import.meta.url).pathname,
    `--engine=${engine}`,
    `--dir=${dir}`,
    `--keys=${keys}`,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 300_000),
  });
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim().slice(-2000);
    throw new Error(`reopen of ${engine} failed (code ${out.code}): ${stderr}`);
  }
  const result = JSON.parse(stdout.split("\n").at(-1) ?? "") as ReopenResult;
  if (result.engine !== engine || result.keys !== keys) {
    throw new Error(`reopen child answered for ${result.engine}/${result.keys}`);
  }
  return result;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  // Two passes: the first may only queue finalizers.
  gc();
  gc();
}

async function warmUp(engine: PeerName): Promise<void> {
  const scratch = await Deno.makeTempDir({ prefix: "ringkv-reopen-warm-" });
  try {
    const peer = await openPeer(engine, scratch);
    await peer.put(dataKey(0), new Uint8Array(100));
    await peer.get(dataKey(0));
    await peer.close();
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

async function childMain(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { engine: { type: "string" }, dir: { type: "string" }, keys: { type: "string" } },
  });
  const engine = values.engine ?? "";
  const keys = Number(values.keys);
  if (!isPeerName(engine) || !values.dir || !Number.isInteger(keys) || keys < 1) {
    throw new Error("usage: storage_reopen.ts --engine=NAME --dir=PATH --keys=N");
  }
  await warmUp(engine);
  collect();
  const before = Deno.memoryUsage();
  const t0 = performance.now();
  const peer = await openPeer(engine, values.dir);
  const openMs = performance.now() - t0;
  collect();
  const after = Deno.memoryUsage();
  const t1 = performance.now();
  for (const i of [0, Math.floor(keys / 2), keys - 1]) {
    if (!await peer.get(dataKey(i))) throw new Error(`key ${i} missing after reopen`);
  }
  const firstReadsMs = performance.now() - t1;
  await peer.close();
  const result: ReopenResult = {
    engine,
    keys,
    openMs,
    rssDeltaBytes: after.rss - before.rss,
    heapDeltaBytes: after.heapUsed - before.heapUsed,
    heapTotalDeltaBytes: after.heapTotal - before.heapTotal,
    externalDeltaBytes: after.external - before.external,
    firstReadsMs,
  };
  console.log(JSON.stringify(result));
}

if (import.meta.main) await childMain();
