/** Shared helpers of the WAL tests. */
import { openWal } from "../../../src/storage/wal/mod.ts";
import type { Wal, WalEntry, WalOptions } from "../../../src/storage/wal/mod.ts";
import { b, filesEnding, withTempDir as withTempDirNamed } from "../common_helpers.ts";

export { b, rng, waitFor } from "../common_helpers.ts";

const decoder = new TextDecoder();

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
  return filesEnding(dir, ".wal");
}

/** Runs `fn` with a fresh temp directory that is removed afterwards. */
export function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDirNamed(fn, { prefix: "ringkv-wal-" });
}
