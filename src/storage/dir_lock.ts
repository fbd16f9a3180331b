/** The data directory lock: one opener at a time, across processes and within one. */
import { join } from "node:path";
import { hostname } from "node:os";
import { DirectoryLockedError } from "./errors.ts";

const LOCK_NAME = "LOCK";
/** Lock files this process holds, by real path (flock does not stop a second open here). */
const heldInProcess = new Set<string>();

/** A held directory lock; release() frees it. */
export interface DirLock {
  release(): void;
}

/** Options of {@link lockDirectory}. */
export interface LockDirectoryOptions {
  /** Name of the lock file inside the directory. Default "LOCK". */
  lockName?: string;
  /** What the directory is, in error messages. Default "data directory". */
  label?: string;
  /** Appended to the "already open in this process" message (e.g. "; close it first"). */
  alreadyOpenAdvice?: string;
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
 * Takes the lock of `dir` (which must exist): writes `pid=<pid> host=<hostname>` to its lock
 * file (LOCK unless options.lockName says otherwise). Throws DirectoryLockedError naming the
 * holder when another opener, in this process or another, has it.
 */
export function lockDirectory(dir: string, options: LockDirectoryOptions = {}): DirLock {
  const lockName = options.lockName ?? LOCK_NAME;
  const label = options.label ?? "data directory";
  if (lockName === "" || lockName.includes("/")) throw new Error(`bad lock file name ${lockName}`);
  const real = Deno.realPathSync(dir);
  const path = join(real, lockName);
  if (heldInProcess.has(path)) {
    throw new DirectoryLockedError(
      `${label} ${real} is already open in this process (${describeHolder(path)})${
        options.alreadyOpenAdvice ?? ""
      }`,
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
      `${label} ${real} is locked by ${describeHolder(path)}; stop that process first`,
    );
  }
  const text = new TextEncoder().encode(`pid=${Deno.pid} host=${hostname()}\n`);
  file.truncateSync(0);
  file.writeSync(text);
  heldInProcess.add(path);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldInProcess.delete(path);
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
