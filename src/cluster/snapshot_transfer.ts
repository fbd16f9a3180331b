/**
 * Streams snapshot images between nodes over the peer transport, on a reserved group id.
 *
 * The Raft message that carries a snapshot holds only a small descriptor (source node, store
 * files and sizes); the receiver pulls the files from the source chunk by chunk, one request
 * in flight, each answer checked by its CRC-32, into a staging directory. Memory stays
 * bounded by one chunk whatever the store's size, and a stalled or failed transfer is
 * abandoned and started over (the leader keeps offering the snapshot).
 */
import { crc32 } from "node:zlib";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { NodeId } from "../raft/mod.ts";
import {
  type GroupDirs,
  type ImageFile,
  isImageFileName,
  readSnapshotMeta,
} from "./snapshot_files.ts";

/** The group id reserved for snapshot transfers (never a Raft group). */
export const snapshotGroupId = 0xffff_fffe;

/** Largest chunk a request may ask for (well under the transport's frame limit). */
export const snapshotChunkBytesMax = 4 * 1024 * 1024;

interface ChunkRequest {
  t: "get";
  id: number;
  group: number;
  index: number;
  file: string;
  offset: number;
  length: number;
}

type ChunkResponse =
  | { t: "chunk"; id: number; ok: true; data: Uint8Array; crc: number }
  | { t: "chunk"; id: number; ok: false; message: string };

/** Options of {@link SnapshotTransfer}. */
export interface SnapshotTransferOptions {
  /** Queues a message to a peer on the reserved group; false when it could not be queued. */
  send: (to: NodeId, message: unknown) => boolean;
  /** The directories of a group this node hosts, or undefined. */
  dirsOf: (group: number) => GroupDirs | undefined;
  logger: Logger;
  /** Bytes per chunk request. Default 1 MiB. */
  chunkBytes?: number;
  /** Longest wait for one chunk. Default 10 s. */
  chunkTimeoutMs?: number;
}

/** What to fetch: a snapshot image of `group` at `index` held by `source`. */
export interface FetchRequest {
  source: NodeId;
  group: number;
  index: number;
  files: ImageFile[];
  /** New directory the files are written to (created here). */
  into: string;
}

/** Raised when a transfer cannot finish; the receiver drops what it got and may retry. */
export class SnapshotTransferError extends Error {
  override name = "SnapshotTransferError";
}

function isChunkRequest(v: unknown): v is ChunkRequest {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.t === "get" && Number.isSafeInteger(r.id) && Number.isSafeInteger(r.group) &&
    Number.isSafeInteger(r.index) && typeof r.file === "string" &&
    Number.isSafeInteger(r.offset) && (r.offset as number) >= 0 &&
    Number.isSafeInteger(r.length) && (r.length as number) >= 1 &&
    (r.length as number) <= snapshotChunkBytesMax;
}

function isChunkResponse(v: unknown): v is ChunkResponse {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  if (r.t !== "chunk" || !Number.isSafeInteger(r.id)) return false;
  if (r.ok === true) return r.data instanceof Uint8Array && typeof r.crc === "number";
  return r.ok === false && typeof r.message === "string";
}

/** Serves image chunks to peers and fetches images from them; see the module comment. */
export class SnapshotTransfer {
  #o: SnapshotTransferOptions;
  #nextId = 1;
  #waiting = new Map<number, (r: ChunkResponse | undefined) => void>();
  /** Image indexes served recently, per group, with when: pruning spares them. */
  #servedAt = new Map<string, number>();
  #closed = false;

  /** A transfer endpoint; feed it the reserved group's messages with onMessage. */
  constructor(options: SnapshotTransferOptions) {
    this.#o = options;
  }

  /** True when the image (group, index) was read by a peer in the last `withinMs`. */
  servedRecently(group: number, index: number, withinMs: number): boolean {
    const at = this.#servedAt.get(`${group}/${index}`);
    return at !== undefined && performance.now() - at < withinMs;
  }

  /** Handles one message of the reserved group from peer `from`. */
  onMessage(from: NodeId, message: unknown): void {
    if (isChunkRequest(message)) {
      this.#serve(from, message).catch((err) =>
        this.#o.logger.warn("could not serve a snapshot chunk", { to: from, err })
      );
      return;
    }
    if (isChunkResponse(message)) {
      const resolve = this.#waiting.get(message.id);
      if (resolve === undefined) return; // timed out meanwhile
      this.#waiting.delete(message.id);
      resolve(message);
      return;
    }
    this.#o.logger.warn("dropped a malformed snapshot transfer message", { from });
  }

  async #serve(from: NodeId, req: ChunkRequest): Promise<void> {
    const answer = (r: ChunkResponse) => this.#o.send(from, r);
    const dirs = this.#o.dirsOf(req.group);
    const meta = dirs === undefined || !isImageFileName(req.file)
      ? undefined
      : readSnapshotMeta(dirs.image(req.index));
    const file = meta?.files.find((f) => f.name === req.file);
    if (dirs === undefined || file === undefined) {
      answer({
        t: "chunk",
        id: req.id,
        ok: false,
        message: `no snapshot image ${req.group}/${req.index} holding ${req.file} here`,
      });
      return;
    }
    this.#servedAt.set(`${req.group}/${req.index}`, performance.now());
    const length = Math.min(req.length, file.bytes - req.offset);
    if (length < 0) {
      answer({ t: "chunk", id: req.id, ok: false, message: "offset past the file's image size" });
      return;
    }
    const data = new Uint8Array(length);
    const f = await Deno.open(join(dirs.image(req.index), req.file), { read: true });
    try {
      await f.seek(req.offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < length) {
        const n = await f.read(data.subarray(done));
        if (n === null) throw new Error(`${req.file} is shorter than its image size`);
        done += n;
      }
    } finally {
      f.close();
    }
    answer({ t: "chunk", id: req.id, ok: true, data, crc: crc32(data) });
  }

  /**
   * Pulls every file of `req` into `req.into`, synced, logging progress. Throws
   * SnapshotTransferError when the source is unreachable, refuses, or sends a damaged chunk.
   */
  async fetch(req: FetchRequest): Promise<{ bytes: number }> {
    const total = req.files.reduce((sum, f) => sum + f.bytes, 0);
    const log = this.#o.logger;
    const t0 = performance.now();
    let lastLog = t0;
    let received = 0;
    await Deno.mkdir(req.into, { recursive: true });
    log.info("snapshot transfer started", {
      group: req.group,
      index: req.index,
      from: req.source,
      files: req.files.length,
      bytes: total,
    });
    for (const file of req.files) {
      if (!isImageFileName(file.name)) throw new SnapshotTransferError(`bad file ${file.name}`);
      const out = await Deno.open(join(req.into, file.name), { write: true, createNew: true });
      try {
        for (let offset = 0; offset < file.bytes;) {
          const data = await this.#chunk(req, file, offset);
          let done = 0;
          while (done < data.byteLength) done += await out.write(data.subarray(done));
          offset += data.byteLength;
          received += data.byteLength;
          if (performance.now() - lastLog >= 2000) {
            lastLog = performance.now();
            log.info("snapshot transfer progress", {
              group: req.group,
              index: req.index,
              bytes: received,
              of: total,
              percent: Math.floor((received / Math.max(1, total)) * 100),
            });
          }
        }
        await out.syncData();
      } finally {
        out.close();
      }
    }
    log.info("snapshot transfer finished", {
      group: req.group,
      index: req.index,
      bytes: received,
      ms: Math.round(performance.now() - t0),
    });
    return { bytes: received };
  }

  async #chunk(req: FetchRequest, file: ImageFile, offset: number): Promise<Uint8Array> {
    if (this.#closed) throw new SnapshotTransferError("the node is stopping");
    const id = this.#nextId++;
    const length = Math.min(this.#o.chunkBytes ?? 1 << 20, file.bytes - offset);
    const { promise, resolve } = Promise.withResolvers<ChunkResponse | undefined>();
    const timeoutMs = this.#o.chunkTimeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      this.#waiting.delete(id);
      resolve(undefined);
    }, timeoutMs);
    this.#waiting.set(id, resolve);
    const request: ChunkRequest = {
      t: "get",
      id,
      group: req.group,
      index: req.index,
      file: file.name,
      offset,
      length,
    };
    if (!this.#o.send(req.source, request)) {
      clearTimeout(timer);
      this.#waiting.delete(id);
      throw new SnapshotTransferError(`cannot reach ${req.source}`);
    }
    const resp = await promise;
    clearTimeout(timer);
    if (resp === undefined) {
      throw new SnapshotTransferError(`no chunk from ${req.source} within ${timeoutMs} ms`);
    }
    if (!resp.ok) throw new SnapshotTransferError(`${req.source} refused: ${resp.message}`);
    if (resp.data.byteLength !== length || crc32(resp.data) !== resp.crc) {
      throw new SnapshotTransferError(`damaged chunk of ${file.name} at ${offset}`);
    }
    return resp.data;
  }

  /** Fails every transfer in progress. */
  close(): void {
    this.#closed = true;
    for (const resolve of this.#waiting.values()) resolve(undefined);
    this.#waiting.clear();
  }
}
