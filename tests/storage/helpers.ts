/** Shared helpers of the storage tests. */
import { open } from "../../src/storage/mod.ts";
import type { Store, StoreOptions } from "../../src/storage/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function b(s: string): Uint8Array {
  return encoder.encode(s);
}

/** A UTF-8 string of bytes (undefined stays undefined). */
export function s(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : decoder.decode(bytes);
}

/** Runs `fn` with a fresh temp directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ringkv-storage-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a store in a fresh temp directory, runs `fn`, closes and removes everything. */
export async function withStore<T>(
  options: StoreOptions,
  fn: (store: Store, dir: string) => Promise<T>,
): Promise<T> {
  return await withTempDir(async (dir) => {
    const store = await open(dir, { mergeAuto: false, ...options });
    try {
      return await fn(store, dir);
    } finally {
      await store.close();
    }
  });
}

/** A small deterministic PRNG (mulberry32). */
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

/** Names of the files in `dir` that end with `suffix`, sorted. */
export function filesEnding(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(suffix)).sort();
}

/** Waits until `cond` holds, checking every few ms, failing after `timeoutMs`. */
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
