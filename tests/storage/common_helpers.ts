/** Helpers shared by the storage engine's tests and the WAL's tests. */
import assert from "node:assert/strict";
import { seededRandom } from "../../src/seeded_random.ts";

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function b(s: string): Uint8Array {
  return encoder.encode(s);
}

/** A small deterministic PRNG (mulberry32): floats in [0, 1). */
export const rng: (seed: number) => () => number = seededRandom;

/** Runs `fn` with a fresh temp directory (named with `prefix`) that is removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  options: { prefix?: string } = {},
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix ?? "ringkv-storage-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Names of the files in `dir` that end with `suffix`, sorted. */
export function filesEnding(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(suffix)).sort();
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

/** Size of the tmpfs that disk-full tests fill. */
const tmpfsSize = "2m";

async function tryMountTmpfs(dir: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${tmpfsSize}`, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function unmount(dir: string): Promise<void> {
  const out = await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "inherit" })
    .output();
  assert.ok(out.success, `umount ${dir} failed`);
}

/**
 * Runs `fn` with a 2 MiB tmpfs mounted on a fresh temp dir, then unmounts and removes it
 * (asserting the unmount worked). Mounting needs root: where it fails, the test records an
 * ignored step and prints "SKIPPED: ... <what> not run" instead of running `fn`.
 */
export async function withTmpfs(
  t: Deno.TestContext,
  what: string,
  fn: (mnt: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (mnt) => {
    if (!(await tryMountTmpfs(mnt))) {
      console.log(`SKIPPED: cannot mount a tmpfs here (needs root); ${what} not run`);
      await t.step({
        name: "disk full (skipped: no permission to mount)",
        ignore: true,
        fn: () => {},
      });
      return;
    }
    try {
      await fn(mnt);
    } finally {
      await unmount(mnt);
    }
  }, { prefix: "ringkv-tmpfs-" });
}
