/**
 * Appending a buffer to a file, in full. A small append (to the page cache) is cheaper as a
 * blocking write: ~15 µs, where an async write's trip through the thread pool costs ~100 µs
 * of latency and more main-thread CPU than the copy itself. A large one stays asynchronous so
 * a slow disk (the kernel throttling dirty pages) cannot stall the event loop for long.
 */

/** Appends at most this many bytes with a blocking write in {@link writeAllBounded}. */
export const blockingWriteBytesMax = 64 * 1024;

/** Writes all of `buf` with asynchronous writes. */
export async function writeAll(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const n = await file.write(buf.subarray(done));
    if (n <= 0) throw new Error("write made no progress");
    done += n;
  }
}

/** Writes all of `buf` with blocking writes. */
export function writeAllSync(file: Deno.FsFile, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.byteLength) {
    const n = file.writeSync(buf.subarray(done));
    if (n <= 0) throw new Error("write made no progress");
    done += n;
  }
}

/** Writes all of `buf`: blocking when it is small (see the module comment), else async. */
export async function writeAllBounded(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  if (buf.byteLength <= blockingWriteBytesMax) writeAllSync(file, buf);
  else await writeAll(file, buf);
}
