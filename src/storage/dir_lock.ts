/** The data directory lock: one opener at a time, across processes and within one. */
import { join } from "node:path";
import { hostname } from "node:os";
import { DirectoryLockedError } from "./errors.ts";

const LOCK_NAME = "LOCK";
/** Directories this process holds, by real path (flock does not stop a second open here). */
const heldInProcess = new Set<string>();

/** A held directory lock; release() frees it. */
export interface DirLock {
  release(): void;
}

function describeHolder(path: string): string {
  try {
    const text = Deno.readTextFileSync(path).trim();
    return text.length > 0 ? text.slice(0, 200) : "an unknown process";
  } catch {
    return "an unknown process";
  }
}

/**
 * Takes the lock of `dir` (which must exist): writes `pid=<pid> host=<hostname>` to its LOCK
 * file. Throws DirectoryLockedError naming the holder when another opener has it.
 */
export function lockDirectory(dir: string): DirLock {
  const real = Deno.realPathSync(dir);
  const path = join(real, LOCK_NAME);
  if (heldInProcess.has(real)) {
    throw new DirectoryLockedError(
      `data directory ${real} is already open in this process (${describeHolder(path)})`,
    );
  }
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } catch (err) {
    file.close();
    throw err;
  }
  if (!locked) {
    file.close();
    throw new DirectoryLockedError(
      `data directory ${real} is locked by ${describeHolder(path)}; stop that process first`,
    );
  }
  const text = new TextEncoder().encode(`pid=${Deno.pid} host=${hostname()}\n`);
  file.truncateSync(0);
  file.writeSync(text);
  heldInProcess.add(real);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldInProcess.delete(real);
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
