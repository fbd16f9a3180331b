/** Names and paths of the files in a data directory. */
import { join } from "node:path";

/** Highest segment id a name can hold. */
export const SEGMENT_ID_MAX = 999_999_999;

/** `000042.seg` for id 42. */
export function segmentName(id: number): string {
  if (!Number.isInteger(id) || id < 1 || id > SEGMENT_ID_MAX) throw new Error(`bad id ${id}`);
  return `${String(id).padStart(6, "0")}.seg`;
}

/** `000042.hint` for id 42. */
export function hintName(id: number): string {
  return segmentName(id).replace(/\.seg$/, ".hint");
}

/** Path of segment `id` in `dir`. */
export function segmentPath(dir: string, id: number): string {
  return join(dir, segmentName(id));
}

/** Path of the hint file of segment `id` in `dir`. */
export function hintPath(dir: string, id: number): string {
  return join(dir, hintName(id));
}

/** The id of a segment or hint file name, or undefined for other names. */
export function parseFileName(name: string): { id: number; kind: "seg" | "hint" } | undefined {
  const m = /^(\d{6,9})\.(seg|hint)$/.exec(name);
  if (!m) return undefined;
  const id = Number(m[1]);
  if (id < 1) return undefined;
  return { id, kind: m[2] as "seg" | "hint" };
}

/** Whether `name` is a temporary file a crashed merge may have left behind. */
export function isTempName(name: string): boolean {
  return name.endsWith(".tmp");
}

/** Makes the directory entries of `dir` durable (after creating, renaming or removing). */
export async function syncDir(dir: string): Promise<void> {
  const f = await Deno.open(dir, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}
