/** WAL file names, the file header, directory sync and the WAL directory lock. */
import { join } from "node:path";
import { type DirLock, lockDirectory } from "../dir_lock.ts";

/** Every WAL file starts with these bytes (format version in the last two). */
export const FILE_MAGIC = new TextEncoder().encode("RKVWAL01");
const SUFFIX = ".wal";
const ID_DIGITS = 16;
const LOCK_NAME = "WAL.LOCK";

/** Path of the WAL file with id `id` in `dir`. */
export function walFilePath(dir: string, id: number): string {
  if (!Number.isSafeInteger(id) || id < 1) throw new Error(`bad WAL file id ${id}`);
  return join(dir, `${String(id).padStart(ID_DIGITS, "0")}${SUFFIX}`);
}

/** Ids of the WAL files in `dir`, ascending. Other files are ignored. */
export function listWalFiles(dir: string): number[] {
  const ids: number[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !entry.name.endsWith(SUFFIX)) continue;
    const stem = entry.name.slice(0, -SUFFIX.length);
    if (stem.length !== ID_DIGITS || !/^[0-9]+$/.test(stem)) continue;
    ids.push(Number(stem));
  }
  return ids.sort((a, b) => a - b);
}

/** True when `buf` starts with the WAL file magic. */
export function hasMagic(buf: Uint8Array): boolean {
  if (buf.byteLength < FILE_MAGIC.byteLength) return false;
  return FILE_MAGIC.every((b, i) => buf[i] === b);
}

/** Makes a directory's entries (created, removed files) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** A held WAL directory lock. */
export type WalLock = DirLock;

/**
 * Locks the WAL directory `dir` (which must exist) for this opener, through its WAL.LOCK file.
 * Throws DirectoryLockedError naming the holder when another opener, here or elsewhere, has it.
 */
export function lockWalDir(dir: string): WalLock {
  return lockDirectory(dir, {
    lockName: LOCK_NAME,
    label: "WAL directory",
    alreadyOpenAdvice: "; close it first",
  });
}

const START_NAME = "WAL.START";

/** The id of the first WAL file a replay uses (0 when none was recorded: use the oldest file). */
export function readStartId(dir: string): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(dir, START_NAME));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  const id = Number(text.trim());
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new Error(`${join(dir, START_NAME)} holds no file id: ${text.slice(0, 40)}`);
  }
  return id;
}

/** Durably records `id` as the first WAL file a replay uses (write, sync, rename, sync dir). */
export async function writeStartId(dir: string, id: number): Promise<void> {
  const tmp = join(dir, `${START_NAME}.tmp`);
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await file.write(new TextEncoder().encode(`${id}\n`));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, join(dir, START_NAME));
  await syncDir(dir);
}
