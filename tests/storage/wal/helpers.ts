/** Shared helpers of the WAL tests. */
import { openWal } from "../../../src/storage/wal/mod.ts";
import type { Wal, WalEntry, WalOptions } from "../../../src/storage/wal/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function b(s: string): Uint8Array {
  return encoder.encode(s);
}

/** A UTF-8 string of bytes. */
export function s(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Entries lo..hi (inclusive) of `term` whose data names group, index and term. */
export function makeEntries(group: number, lo: number, hi: number, term: number): WalEntry[] {
  const out: WalEntry[] = [];
  for (let i = lo; i <= hi; i++) {
    out.push({ index: i, term, type: 0, data: b(`g${group}-i${i}-t${term}`) });
  }
  return out;
}

/** The data strings of `entries`, for comparisons. */
export function datas(entries: WalEntry[]): string[] {
  return entries.map((e) => s(e.data));
}

/** Runs `fn` with a fresh temp directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv-wal-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a WAL in a fresh temp dir, runs `fn`, closes it and removes the dir. */
export async function withWal<T>(
  options: WalOptions,
  fn: (wal: Wal, dir: string) => Promise<T>,
): Promise<T> {
  return await withTempDir(async (dir) => {
    const wal = await openWal(dir, options);
    try {
      return await fn(wal, dir);
    } finally {
      await wal.close();
    }
  });
}

/** Names of the WAL files in `dir`, sorted. */
export function walFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".wal")).sort();
}

/** A small deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until `cond` holds, polling every few ms, failing after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? "condition"}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
