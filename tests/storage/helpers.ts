/** Shared helpers of the storage tests. */
import { open } from "../../src/storage/mod.ts";
import type { Store, StoreOptions } from "../../src/storage/mod.ts";
import { withTempDir } from "./common_helpers.ts";

export { b, filesEnding, rng, waitFor, withTempDir } from "./common_helpers.ts";

const decoder = new TextDecoder();

/** A UTF-8 string of bytes (undefined stays undefined). */
export function s(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : decoder.decode(bytes);
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
