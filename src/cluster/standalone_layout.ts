/**
 * Data directories written before a standalone node became a cluster of one kept the store's
 * segment files at the top of --data-dir. Such a store is moved, as it is, to where group 1's
 * store lives; the host then continues the Raft log after the store's last write.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { syncDir } from "../storage/wal/files.ts";
import type { GroupDirs } from "./snapshot_files.ts";

const storeFile = /^\d{6,}\.(seg|hint)$/;

function storeFilesAt(dir: string): string[] {
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isFile && storeFile.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

/**
 * Moves store files found at the top of `dataDir` into `dirs.store` (when that holds none),
 * durably (the files, then both directories synced). Returns how many files moved. Throws
 * when group 1 already has a store too (which of the two holds the data is not for a program
 * to guess), or when `standalone` is false: a cluster member's state must come from its
 * cluster.
 */
export async function adoptTopLevelStore(
  dataDir: string,
  dirs: GroupDirs,
  options: { standalone: boolean; logger: Logger },
): Promise<number> {
  const names = storeFilesAt(dataDir);
  if (names.length === 0) return 0;
  if (!options.standalone) {
    throw new Error(
      `${dataDir} holds a standalone node's store (segment files at its top): start it ` +
        `without --cluster once (it becomes a cluster of one), or give this member an empty ` +
        `--data-dir and add it with --join`,
    );
  }
  if (storeFilesAt(dirs.store).length > 0) {
    throw new Error(
      `${dataDir} holds two stores: segment files at its top and in ${dirs.store}; move ` +
        `one of them away`,
    );
  }
  await Deno.mkdir(dirs.store, { recursive: true });
  for (const name of names) await Deno.rename(join(dataDir, name), join(dirs.store, name));
  await syncDir(dirs.store);
  await syncDir(dataDir);
  options.logger.warn("moved a standalone store into the Raft group's directory", {
    from: dataDir,
    to: dirs.store,
    files: names.length,
  });
  return names.length;
}
