/**
 * Where a group's snapshots live on disk, and how an interrupted install is finished.
 *
 * Under `<dataDir>/groups/`:
 * - `<g>/`: the group's store (the state machine);
 * - `<g>.snapshots/<index>/`: an image of the store as of Raft index `index` (hard links
 *   into the store's files, see Store.checkpoint) plus `snapshot.json`, its metadata:
 *   index, term, membership, and each file's size (only that prefix belongs to the image);
 * - `<g>.incoming-<index>/`: files being received from the leader;
 * - `<g>.received-<index>/`: a complete, synced reception (renamed from incoming: the
 *   rename is the commit), waiting to replace the store;
 * - `<g>.replaced/`: the old store while a received one takes its place.
 */
import { join } from "node:path";
import type { ConfState } from "../raft/mod.ts";
import { syncDir } from "../storage/segment_files.ts";

/** One file of a store image: its name and how many of its bytes belong to the image. */
export interface ImageFile {
  name: string;
  bytes: number;
}

/** The metadata of a snapshot kept on disk. */
export interface SnapshotMeta {
  /** Raft index the image reflects (everything applied up to it). */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  conf: ConfState;
  /** The store's last seq in the image (at most `index`). */
  storeSeq: number;
  files: ImageFile[];
  /** Peer addresses of the members as of `index` (their conf-change entries may be compacted). */
  addresses?: Record<string, string>;
}

const metaName = "snapshot.json";

/** The paths of group `group`'s directories under `dataDir`. */
export class GroupDirs {
  readonly root: string;

  /** Paths for group `group` of the node whose data directory is `dataDir`. */
  constructor(dataDir: string, readonly group: number) {
    this.root = join(dataDir, "groups");
  }

  get store(): string {
    return join(this.root, String(this.group));
  }

  get snapshots(): string {
    return join(this.root, `${this.group}.snapshots`);
  }

  get replaced(): string {
    return join(this.root, `${this.group}.replaced`);
  }

  /** The image directory of the snapshot at `index`. */
  image(index: number): string {
    return join(this.snapshots, String(index));
  }

  incoming(index: number): string {
    return join(this.root, `${this.group}.incoming-${index}`);
  }

  received(index: number): string {
    return join(this.root, `${this.group}.received-${index}`);
  }
}

/** True for a file name an image may hold (a segment or hint file: no path, no traversal). */
export function isImageFileName(name: string): boolean {
  return /^\d{6,9}\.(seg|hint)$/.test(name);
}

/** Writes `meta` into the image directory durably (temp file, sync, rename, sync dir). */
export async function writeSnapshotMeta(dir: string, meta: SnapshotMeta): Promise<void> {
  const path = join(dir, metaName);
  const f = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(meta));
    let done = 0;
    while (done < bytes.byteLength) done += await f.write(bytes.subarray(done));
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(`${path}.tmp`, path);
  await syncDir(dir);
}

function isMeta(v: unknown): v is SnapshotMeta {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  const conf = m.conf as Record<string, unknown> | undefined;
  return Number.isSafeInteger(m.index) && Number.isSafeInteger(m.term) &&
    Number.isSafeInteger(m.storeSeq) && Array.isArray(m.files) &&
    typeof conf === "object" && conf !== null && Array.isArray(conf.voters) &&
    Array.isArray(conf.learners) &&
    (m.files as unknown[]).every((f) => {
      const file = f as Record<string, unknown>;
      return typeof file.name === "string" && isImageFileName(file.name) &&
        Number.isSafeInteger(file.bytes) && (file.bytes as number) >= 0;
    });
}

/** The metadata of the image in `dir`, or undefined when it has none (an unfinished image). */
export function readSnapshotMeta(dir: string): SnapshotMeta | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(dir, metaName));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const meta: unknown = JSON.parse(text);
  if (!isMeta(meta)) throw new Error(`${join(dir, metaName)}: not a snapshot description`);
  return meta;
}

/** Every complete snapshot of the group on disk, oldest first. */
export function listSnapshots(dirs: GroupDirs): SnapshotMeta[] {
  const found: SnapshotMeta[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dirs.snapshots)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return found;
    throw err;
  }
  for (const e of entries) {
    if (!e.isDirectory || !/^\d+$/.test(e.name)) continue;
    const meta = readSnapshotMeta(join(dirs.snapshots, e.name));
    if (meta !== undefined && meta.index === Number(e.name)) found.push(meta);
  }
  return found.sort((a, b) => a.index - b.index);
}

function imageIndexes(dirs: GroupDirs): number[] {
  try {
    return [...Deno.readDirSync(dirs.snapshots)].filter((e) => /^\d+$/.test(e.name))
      .map((e) => Number(e.name));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/**
 * Removes the image directories older than the newest in `keep` and not in it. Newer ones
 * are left alone: one may be being written right now.
 */
export async function pruneSnapshots(dirs: GroupDirs, keep: Set<number>): Promise<void> {
  const newest = Math.max(0, ...keep);
  for (const index of imageIndexes(dirs)) {
    if (index >= newest || keep.has(index)) continue;
    await Deno.remove(dirs.image(index), { recursive: true }).catch(() => {});
  }
}

/** Removes image directories not in `complete` (left by a crash while one was written). */
export function removeUnfinishedImages(dirs: GroupDirs, complete: Set<number>): void {
  for (const index of imageIndexes(dirs)) {
    if (!complete.has(index)) Deno.removeSync(dirs.image(index), { recursive: true });
  }
}

/**
 * Finishes or undoes what a crash interrupted, before the group's store is opened: a store
 * replaced halfway is completed from its received image; leftovers are removed. Returns
 * what it did, for the log (empty when nothing).
 */
export async function recoverGroupDirs(dirs: GroupDirs): Promise<string[]> {
  const done: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dirs.root)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return done;
    throw err;
  }
  const prefix = `${dirs.group}.`;
  const received = entries.map((e) => e.name).filter((n) => n.startsWith(`${prefix}received-`))
    .sort((a, b) => Number(b.split("-").pop()) - Number(a.split("-").pop()));
  const hasStore = entries.some((e) => e.name === String(dirs.group));
  if (!hasStore && received.length > 0) {
    // The old store was moved aside but the received one not yet moved in: finish it.
    await Deno.rename(join(dirs.root, received[0]), dirs.store);
    await syncDir(dirs.root);
    done.push(`completed the install of ${received[0]}`);
  }
  for (const e of entries) {
    const n = e.name;
    const leftover = n === `${prefix}replaced` || n.startsWith(`${prefix}incoming-`) ||
      (n.startsWith(`${prefix}received-`) && (hasStore || n !== received[0]));
    if (!leftover) continue;
    await Deno.remove(join(dirs.root, n), { recursive: true });
    done.push(`removed ${n}`);
  }
  return done;
}

/**
 * Replaces the group's store directory with the received image at `index`, crash-safely:
 * the old store is moved aside, the image moved in, the old one removed. The store must be
 * closed first and reopened by the caller.
 */
export async function swapInReceived(dirs: GroupDirs, index: number): Promise<void> {
  await Deno.remove(dirs.replaced, { recursive: true }).catch(() => {});
  await Deno.rename(dirs.store, dirs.replaced);
  await Deno.rename(dirs.received(index), dirs.store);
  await syncDir(dirs.root);
  await Deno.remove(dirs.replaced, { recursive: true });
}
