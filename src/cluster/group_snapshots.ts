/**
 * Snapshots of one group: taking them, compacting the log behind them, offering them to
 * lagging members, and installing one received from the leader.
 *
 * Taking is cheap: the store hard-links an image of itself (Store.checkpoint) at the applied
 * index, between two Ready rounds, so the image, the index, its term and the membership all
 * agree. The log is then compacted up to the previous snapshot, not the new one, so a member
 * that lags by less than one snapshot interval still catches up from the log.
 *
 * Receiving never blocks the group: the Raft message carries a descriptor only; the files
 * are pulled in the background (snapshot_transfer.ts) and only once they are all on disk is
 * the message handed to the core, whose Ready then asks to install it: the store is swapped
 * for the received image (crash-safe, see snapshot_files.ts) in well under a second.
 */
import { decode, encode } from "@msgpack/msgpack";
import type { Logger } from "../log.ts";
import type { ConfState, NodeId, Snapshot, SnapshotChunk } from "../raft/mod.ts";
import type { Store } from "../storage/types.ts";
import type { Wal } from "../storage/wal/mod.ts";
import {
  type GroupDirs,
  type ImageFile,
  isImageFileName,
  listSnapshots,
  pruneSnapshots,
  removeUnfinishedImages,
  type SnapshotMeta,
  swapInReceived,
  writeSnapshotMeta,
} from "./snapshot_files.ts";
import type { SnapshotTransfer } from "./snapshot_transfer.ts";

/** What the Raft message of a snapshot carries instead of the data: where to fetch it. */
interface Descriptor {
  source: NodeId;
  storeSeq: number;
  files: ImageFile[];
  addresses?: Record<NodeId, string>;
}

/** Told of snapshot work, for metrics. */
export interface SnapshotObserver {
  snapshotTaken?(group: number, seconds: number): void;
  snapshotInstalled?(group: number, seconds: number): void;
}

/** Options of {@link GroupSnapshots}. */
export interface GroupSnapshotsOptions {
  nodeId: NodeId;
  dirs: GroupDirs;
  wal: Wal;
  transfer: SnapshotTransfer;
  logger: Logger;
  /** A snapshot is taken once this many entries were applied since the last one. */
  entriesPerSnapshot: number;
  observer?: SnapshotObserver;
  /** The members' peer addresses now, kept with each snapshot taken. */
  addresses?: () => Record<NodeId, string>;
  /** Told of each snapshot installed from the leader (the membership jumps to its conf). */
  onInstalled?: (meta: SnapshotMeta) => void;
}

/** Images a transfer read within this long are never pruned. */
const servedGraceMs = 60_000;

function encodeDescriptor(d: Descriptor): Uint8Array {
  return encode(d);
}

function decodeDescriptor(data: Uint8Array): Descriptor | undefined {
  let v: unknown;
  try {
    v = decode(data);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const d = v as Record<string, unknown>;
  if (typeof d.source !== "string" || !Number.isSafeInteger(d.storeSeq)) return undefined;
  if (!Array.isArray(d.files) || d.files.length > 1_000_000) return undefined;
  if (d.addresses !== undefined && (typeof d.addresses !== "object" || d.addresses === null)) {
    return undefined;
  }
  for (const f of d.files as Record<string, unknown>[]) {
    if (typeof f?.name !== "string" || !isImageFileName(f.name)) return undefined;
    if (!Number.isSafeInteger(f.bytes) || (f.bytes as number) < 0) return undefined;
  }
  return d as unknown as Descriptor;
}

/** See the module comment. One per group; the group host drives it. */
export class GroupSnapshots {
  #o: GroupSnapshotsOptions;
  /** Complete snapshots on disk by index (the newest, and the one the log starts after). */
  #metas = new Map<number, SnapshotMeta>();
  #latest: SnapshotMeta | undefined;
  #taking: Promise<void> | undefined;
  /** Applied index below which no new attempt is made (after a declined checkpoint). */
  #retryAt = 0;
  #fetching: number | undefined;
  /** Index of the received image ready to install, if any. */
  #received: number | undefined;
  #closed = false;
  /** The snapshot indexes the leader is offering to members now (set by the group host). */
  offered: () => number[] = () => [];

  /** Loads what is on disk (call recoverGroupDirs first). */
  constructor(options: GroupSnapshotsOptions) {
    this.#o = options;
    for (const meta of listSnapshots(options.dirs)) this.#metas.set(meta.index, meta);
    this.#latest = [...this.#metas.values()].at(-1);
    removeUnfinishedImages(options.dirs, new Set(this.#metas.keys()));
  }

  /** The newest complete snapshot, if any. */
  get latest(): SnapshotMeta | undefined {
    return this.#latest;
  }

  /** The snapshot at `index`, if it is kept. */
  metaAt(index: number): SnapshotMeta | undefined {
    return this.#metas.get(index);
  }

  /** The latest snapshot as the Raft core sends it: metadata plus a fetch descriptor. */
  snapshot(): Snapshot | undefined {
    const m = this.#latest;
    if (m === undefined) return undefined;
    return {
      metadata: { index: m.index, term: m.term, conf: m.conf },
      data: encodeDescriptor({
        source: this.#o.nodeId,
        storeSeq: m.storeSeq,
        files: m.files,
        addresses: m.addresses,
      }),
    };
  }

  /** True when a snapshot should be taken at applied index `applied`. */
  due(applied: number): boolean {
    if (this.#closed || this.#taking !== undefined || applied < this.#retryAt) return false;
    return applied - (this.#latest?.index ?? 0) >= this.#o.entriesPerSnapshot;
  }

  /**
   * Takes a snapshot of `store` at applied index `index` (call between Ready rounds: no apply
   * may run meanwhile). Only the image is made here; its metadata, the compaction and the
   * pruning finish in the background.
   */
  async take(store: Store, at: { index: number; term: number; conf: ConfState }): Promise<void> {
    if (store.checkpoint === undefined) return;
    const t0 = performance.now();
    await Deno.mkdir(this.#o.dirs.snapshots, { recursive: true });
    const dir = this.#o.dirs.image(at.index);
    await Deno.remove(dir, { recursive: true }).catch(() => {}); // an unfinished earlier try
    const cp = await store.checkpoint(dir);
    if (cp === undefined) {
      this.#retryAt = at.index + Math.max(1, Math.floor(this.#o.entriesPerSnapshot / 10));
      return;
    }
    const meta: SnapshotMeta = {
      ...at,
      storeSeq: cp.lastSeq,
      files: cp.files,
      addresses: this.#o.addresses?.(),
    };
    this.#taking = this.#finish(meta, t0).catch((err) => {
      this.#o.logger.error("could not finish a snapshot; the log is not compacted", {
        group: this.#o.dirs.group,
        index: meta.index,
        err,
      });
    }).finally(() => this.#taking = undefined);
  }

  /** Resolves once a snapshot being finished (metadata, compaction, pruning) is done. */
  async settled(): Promise<void> {
    await this.#taking;
  }

  async #finish(meta: SnapshotMeta, t0: number): Promise<void> {
    await writeSnapshotMeta(this.#o.dirs.image(meta.index), meta);
    const previous = [...this.#metas.values()].filter((m) => m.index < meta.index)
      .sort((a, b) => a.index - b.index).at(-1);
    this.#metas.set(meta.index, meta);
    if (this.#latest === undefined || meta.index > this.#latest.index) this.#latest = meta;
    const group = this.#o.dirs.group;
    const wal = this.#o.wal;
    let compactedTo = wal.snapshotMark(group).index;
    if (previous !== undefined && previous.index > compactedTo && !this.#closed) {
      // The store synced everything up to meta.index: the log before `previous` is not needed.
      await wal.markSnapshot(group, previous.index, previous.term);
      wal.releaseBefore(group, previous.index + 1);
      compactedTo = previous.index;
    }
    await this.#prune(compactedTo);
    const seconds = (performance.now() - t0) / 1000;
    this.#o.observer?.snapshotTaken?.(group, seconds);
    this.#o.logger.info("snapshot taken", {
      group,
      index: meta.index,
      store_seq: meta.storeSeq,
      files: meta.files.length,
      bytes: meta.files.reduce((s, f) => s + f.bytes, 0),
      log_compacted_to: compactedTo,
      ms: Math.round(seconds * 1000),
    });
  }

  /**
   * Removes images that are neither the latest, nor the one the log starts after, nor
   * offered to a member now, nor read by a transfer recently.
   */
  async #prune(compactedTo: number): Promise<void> {
    const keep = new Set<number>([compactedTo, ...this.offered()]);
    if (this.#latest !== undefined) keep.add(this.#latest.index);
    for (const index of this.#metas.keys()) {
      if (this.#o.transfer.servedRecently(this.#o.dirs.group, index, servedGraceMs)) {
        keep.add(index);
      }
    }
    for (const index of [...this.#metas.keys()]) if (!keep.has(index)) this.#metas.delete(index);
    await pruneSnapshots(this.#o.dirs, keep);
  }

  /**
   * Decides whether a snapshot message may reach the core now: yes when its image is here
   * (or nothing needs fetching); otherwise starts fetching it in the background, calls
   * `onFetched` once it is here, and says no (the leader offers it again meanwhile).
   */
  admit(m: SnapshotChunk, applied: number, onFetched: () => void): boolean {
    const index = m.metadata.index;
    if (index <= applied || this.#received === index) return true;
    const d = m.offset === 0 && m.data.byteLength === m.totalBytes
      ? decodeDescriptor(m.data)
      : undefined;
    if (d === undefined) {
      this.#o.logger.warn("dropped a snapshot message without a valid descriptor", {
        from: m.from,
        index,
      });
      return false;
    }
    if (this.#fetching !== undefined || this.#closed) return false;
    this.#fetching = index;
    this.#fetch(d, index).then(async () => {
      const older = this.#received;
      this.#received = index;
      // A reception the leader stopped offering (it moved on to a newer snapshot) is dropped.
      if (older !== undefined && older !== index) {
        await Deno.remove(this.#o.dirs.received(older), { recursive: true }).catch(() => {});
      }
      onFetched();
    }, (err) => {
      this.#o.logger.warn("snapshot transfer failed; it starts over on the next offer", {
        group: this.#o.dirs.group,
        index,
        from: d.source,
        err,
      });
    }).finally(() => this.#fetching = undefined);
    return false;
  }

  async #fetch(d: Descriptor, index: number): Promise<void> {
    const dirs = this.#o.dirs;
    const incoming = dirs.incoming(index);
    await Deno.remove(incoming, { recursive: true }).catch(() => {});
    await Deno.remove(dirs.received(index), { recursive: true }).catch(() => {});
    try {
      await this.#o.transfer.fetch({
        source: d.source,
        group: dirs.group,
        index,
        files: d.files,
        into: incoming,
      });
      await Deno.rename(incoming, dirs.received(index)); // the rename marks it complete
    } catch (err) {
      await Deno.remove(incoming, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * Installs the received snapshot `snapshot` (the core's Ready asked for it): keeps the
   * image as this node's latest snapshot, closes the store, swaps the received image in,
   * and reopens it with `openStore`. The caller then persists the snapshot mark in the WAL.
   */
  async install(
    snapshot: Snapshot,
    store: { close(): Promise<void> },
    openStore: () => Promise<Store>,
  ): Promise<Store> {
    const t0 = performance.now();
    await this.#taking; // a snapshot of our own being finished: let it settle first
    const { index, term, conf } = snapshot.metadata;
    const d = decodeDescriptor(snapshot.data);
    if (this.#received !== index || d === undefined) {
      throw new Error(`snapshot ${index} reached the core before its image was received`);
    }
    const dirs = this.#o.dirs;
    const received = dirs.received(index);
    // Keep a copy (links) as this node's own snapshot, so it can offer it when it leads.
    await Deno.mkdir(dirs.snapshots, { recursive: true });
    const image = dirs.image(index);
    await Deno.remove(image, { recursive: true }).catch(() => {});
    await Deno.mkdir(image);
    for (const f of d.files) await Deno.link(`${received}/${f.name}`, `${image}/${f.name}`);
    const meta: SnapshotMeta = {
      index,
      term,
      conf,
      storeSeq: d.storeSeq,
      files: d.files,
      addresses: d.addresses,
    };
    await writeSnapshotMeta(image, meta);
    await store.close();
    await swapInReceived(dirs, index);
    this.#received = undefined;
    const opened = await openStore();
    if (opened.stats().lastSeq < d.storeSeq) {
      throw new Error(
        `installed snapshot ${index} holds seq ${opened.stats().lastSeq}, expected ${d.storeSeq}`,
      );
    }
    this.#metas.set(index, meta);
    this.#latest = meta;
    this.#o.onInstalled?.(meta);
    await this.#prune(index);
    const seconds = (performance.now() - t0) / 1000;
    this.#o.observer?.snapshotInstalled?.(dirs.group, seconds);
    this.#o.logger.info("snapshot installed", {
      group: dirs.group,
      index,
      term,
      from: d.source,
      keys: opened.stats().keys,
      ms: Math.round(seconds * 1000),
    });
    return opened;
  }

  /** Stops taking and fetching; waits for a snapshot being finished. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#taking;
  }
}
