/**
 * The keydir: every live key with where its current record is.
 *
 * Two structures: a hash map key -> Entry for point lookups and overwrites (no tree descent,
 * which costs a cache miss per level on a large tree), and a B+ tree of the keys alone for
 * ordered scans; the tree changes only when a key appears or disappears. Keys are byte strings
 * made by keyToString, so string order is byte order.
 */
import * as sortedBtree from "sorted-btree";
import * as sortedBtreeBulk from "sorted-btree/extended/bulkLoad.js";

/** Where a key's current record is. `length` < 0 marks a tombstone (during recovery only). */
export class Entry {
  constructor(
    readonly segment: number,
    readonly offset: number,
    readonly length: number,
    readonly seq: number,
  ) {}
}

type KeyTree = sortedBtree.default<string, undefined>;

// The package is CommonJS: depending on the loader its class is `default` or `default.default`.
// deno-lint-ignore no-explicit-any
const loaded = sortedBtree as any;
const BTreeClass: new (
  entries: undefined,
  compare: (a: string, b: string) => number,
  maxNodeSize: number,
) => KeyTree = typeof loaded.default === "function" ? loaded.default : loaded.default.default;

// deno-lint-ignore no-explicit-any
const bulk = sortedBtreeBulk as any;
const bulkLoad: (
  keys: string[],
  values: undefined[],
  maxNodeSize: number,
  compare: (a: string, b: string) => number,
  loadFactor: number,
) => KeyTree = typeof bulk.bulkLoad === "function" ? bulk.bulkLoad : bulk.default.bulkLoad;

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Branching factor of the key tree (larger nodes cost fewer bytes per key). */
export const KEYDIR_NODE_SIZE = 64;

/** Initial slots of the entry slab; it doubles as needed. */
const SLAB_SLOTS_INITIAL = 1024;

/**
 * Entry fields stored column-wise in typed arrays (20 bytes a key), indexed by a slot number;
 * the map holds slot numbers (small integers, no object per key).
 */
class EntrySlab {
  segment = new Uint32Array(SLAB_SLOTS_INITIAL);
  offset = new Uint32Array(SLAB_SLOTS_INITIAL);
  length = new Uint32Array(SLAB_SLOTS_INITIAL);
  seq = new Float64Array(SLAB_SLOTS_INITIAL);
  #used = 0;
  #free: number[] = [];

  allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.seq.length) this.#grow(this.#used * 2);
    return this.#used++;
  }

  release(slot: number): void {
    this.#free.push(slot);
  }

  write(slot: number, e: Entry): void {
    // Offsets and lengths fit 32 bits: segments are at most 1 GiB plus one write group.
    if (e.length < 0 || e.offset > 0xffff_ffff || e.length > 0xffff_ffff) {
      throw new Error(`keydir entry out of range: ${JSON.stringify(e)}`);
    }
    this.segment[slot] = e.segment;
    this.offset[slot] = e.offset;
    this.length[slot] = e.length;
    this.seq[slot] = e.seq;
  }

  read(slot: number): Entry {
    return new Entry(this.segment[slot], this.offset[slot], this.length[slot], this.seq[slot]);
  }

  reserve(slots: number): void {
    if (slots > this.seq.length) this.#grow(slots);
  }

  #grow(slots: number): void {
    const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(slots);
      b.set(a);
      return b;
    };
    this.segment = grow(this.segment, (n) => new Uint32Array(n));
    this.offset = grow(this.offset, (n) => new Uint32Array(n));
    this.length = grow(this.length, (n) => new Uint32Array(n));
    this.seq = grow(this.seq, (n) => new Float64Array(n));
  }
}

/** The in-memory index of live keys. Entries returned by get are snapshots. */
export class Keydir {
  #map: Map<string, number>;
  #tree: KeyTree;
  #slab: EntrySlab;

  private constructor(map: Map<string, number>, tree: KeyTree, slab: EntrySlab) {
    this.#map = map;
    this.#tree = tree;
    this.#slab = slab;
  }

  /** An empty keydir. */
  static empty(): Keydir {
    const tree = new BTreeClass(undefined, compareKeys, KEYDIR_NODE_SIZE);
    return new Keydir(new Map(), tree, new EntrySlab());
  }

  /**
   * A keydir from a run: `keys` strictly ascending with their `entries`; entries with a
   * negative length (tombstones) are left out. `onLive` sees each entry kept. Built in O(n).
   */
  static build(keys: string[], entries: Entry[], onLive?: (e: Entry) => void): Keydir {
    if (keys.length !== entries.length) throw new Error("keydir build: length mismatch");
    const map = new Map<string, number>();
    const slab = new EntrySlab();
    slab.reserve(keys.length);
    const live: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const e = entries[i];
      if (e.length < 0) continue;
      const slot = slab.allocate();
      slab.write(slot, e);
      map.set(keys[i], slot);
      live.push(keys[i]);
      onLive?.(e);
    }
    const values = new Array<undefined>(live.length);
    const tree = live.length === 0
      ? new BTreeClass(undefined, compareKeys, KEYDIR_NODE_SIZE)
      : bulkLoad(live, values, KEYDIR_NODE_SIZE, compareKeys, 0.9);
    return new Keydir(map, tree, slab);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): Entry | undefined {
    const slot = this.#map.get(key);
    return slot === undefined ? undefined : this.#slab.read(slot);
  }

  /** The seq of key's entry (no allocation). */
  seqOf(key: string): number | undefined {
    const slot = this.#map.get(key);
    return slot === undefined ? undefined : this.#slab.seq[slot];
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, entry: Entry): void {
    let slot = this.#map.get(key);
    if (slot === undefined) {
      slot = this.#slab.allocate();
      this.#map.set(key, slot);
      this.#tree.set(key, undefined);
    }
    this.#slab.write(slot, entry);
  }

  delete(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot === undefined) return false;
    this.#map.delete(key);
    this.#tree.delete(key);
    this.#slab.release(slot);
    return true;
  }

  /** Keys from `low` (inclusive) upward, with their entries. */
  *entries(low?: string): Generator<[string, Entry]> {
    for (const key of this.#tree.keys(low)) yield [key, this.get(key)!];
  }

  /** Keys below `high` (exclusive; all keys when undefined) downward, with their entries. */
  *entriesBelow(high?: string): Generator<[string, Entry]> {
    for (const [key] of this.#tree.entriesReversed(high, undefined, true)) {
      if (high !== undefined && key >= high) continue;
      yield [key, this.get(key)!];
    }
  }
}

/** Smallest key string greater than every key starting with `prefix`; undefined if none. */
export function prefixEnd(prefix: string): string | undefined {
  let i = prefix.length - 1;
  while (i >= 0 && prefix.charCodeAt(i) === 0xff) i--;
  if (i < 0) return undefined;
  return prefix.slice(0, i) + String.fromCharCode(prefix.charCodeAt(i) + 1);
}
